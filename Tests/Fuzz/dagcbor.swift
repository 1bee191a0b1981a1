func fuzzDagCBOR(_ bytes: [UInt8]) {
    guard let value = try? DagCBOR(decoding: bytes) else { return }
    fuzzCheck(value.encoded() == bytes, "dag-cbor value re-encodes differently")
}
