func fuzzMultihash(_ bytes: [UInt8]) {
    if let mh = try? Multihash(bytes: bytes) {
        fuzzCheck(mh.bytes == bytes, "multihash re-encodes differently")
        fuzzCheck((try? Multihash(code: mh.code, digest: mh.digest)) == mh, "multihash rebuild differs")
    }
}
