func fuzzMultibase(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let (base, decoded) = try? Multibase.decode(text) {
        let again = base.encode(decoded)
        let caseInsensitive: Set<Multibase> = [.base16, .base16Upper, .base32, .base32Upper, .base36, .base36Upper]
        fuzzCheck(caseInsensitive.contains(base) ? again.lowercased() == text.lowercased() : again == text,
                  "multibase \(base.name) re-encodes differently")
    }
    // Every base round-trips arbitrary bytes.
    if bytes.count <= 256 {
        for base in Multibase.allCases {
            fuzzCheck((try? Multibase.decode(base.encode(bytes)))?.bytes == bytes, "\(base.name) round trip")
        }
    }
}
