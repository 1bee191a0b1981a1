func fuzzUnixFSData(_ bytes: [UInt8]) {
    guard let data = try? UnixFSData(decoding: bytes) else { return }
    fuzzCheck(data.encoded() == bytes, "UnixFS data re-encodes differently")
}
