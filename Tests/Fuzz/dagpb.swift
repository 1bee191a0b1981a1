func fuzzDagPB(_ bytes: [UInt8]) {
    guard let node = try? PBNode(decoding: bytes) else { return }
    fuzzCheck(node.encoded() == bytes, "dag-pb node re-encodes differently")
    fuzzCheck(node.encodedSize == bytes.count, "dag-pb encodedSize disagrees with the encoding")
    if let data = node.data, let fs = try? UnixFSData(decoding: data) {
        fuzzCheck((try? UnixFSData(decoding: fs.encoded())) == fs, "UnixFS data round trip")
    }
}
