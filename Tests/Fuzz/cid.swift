func fuzzCID(_ bytes: [UInt8]) {
    if let cid = try? CID(bytes: bytes) {
        fuzzCheck(cid.bytes == bytes, "CID re-encodes differently")
        fuzzCheck((try? CID(cid.description)) == cid, "CID text round trip")
    }
    if let cid = try? CID(String(decoding: bytes, as: UTF8.self)) {
        for base in Multibase.allCases {
            fuzzCheck((try? CID(cid.string(base: base))) == cid, "CID \(base.name) round trip")
        }
    }
}
