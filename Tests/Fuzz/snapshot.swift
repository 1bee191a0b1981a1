/// Snapshot blocks and block requests: never crash; roots and chunks that decode re-encode
/// to their input.
func fuzzPinsetSnapshot(_ bytes: [UInt8]) {
    if let root = try? PinsetSnapshot(decoding: bytes) {
        fuzzCheck(root.encoded() == bytes, "snapshot root does not re-encode to its input")
        _ = root.hasValidSignature
    }
    if let elements = try? SnapshotChunk.decode(bytes) {
        fuzzCheck(SnapshotChunk.encode(elements) == bytes, "snapshot chunk does not re-encode to its input")
    }
    if let nodes = try? SnapshotCover.decode(bytes) {
        fuzzCheck(SnapshotCover.encode(nodes[...]) == bytes, "snapshot cover block does not re-encode to its input")
    }
    if let links = try? SnapshotIndex.decode(bytes) {
        fuzzCheck(SnapshotIndex.encode(links) == bytes, "snapshot index does not re-encode to its input")
    }
    if let r = try? PinsetBlocksRequest(decoding: bytes) {
        fuzzCheck((try? PinsetBlocksRequest(decoding: r.encoded())) == r, "blocks request does not round-trip")
    }
    if let r = try? PinsetBlocksResponse(decoding: bytes) {
        fuzzCheck((try? PinsetBlocksResponse(decoding: r.encoded())) == r, "blocks response does not round-trip")
    }
}
