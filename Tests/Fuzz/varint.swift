func fuzzVarint(_ bytes: [UInt8]) {
    if let v = try? Varint.decode(bytes) {
        fuzzCheck(Varint.encode(v) == bytes, "varint re-encodes differently")
    }
    var reader = ByteReader(bytes)
    while let _ = try? reader.readVarint() {}
}
