/// A self-describing digest: hash function code, digest length, digest.
///
/// Any hash function code is accepted (a pinning cluster must carry CIDs it cannot verify), but
/// the functions PinMesh knows must carry their exact digest length, and no digest may exceed
/// ``maxDigestBytes``.
public struct Multihash: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The longest digest accepted (identity multihashes inline data; this bounds them).
    public static let maxDigestBytes = 128

    public let code: Multicodec
    public let digest: [UInt8]
    /// The binary form: varint code, varint length, digest.
    public let bytes: [UInt8]

    // The binary form determines code and digest: compare and hash it alone, in bulk.
    public static func == (a: Multihash, b: Multihash) -> Bool { a.bytes == b.bytes }
    public func hash(into hasher: inout Swift.Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }

    /// Builds a multihash from a digest, checking its length for known functions.
    public init(code: Multicodec, digest: [UInt8]) throws(MultiformatsError) {
        try Multihash.validate(code: code, length: digest.count)
        self.code = code
        self.digest = digest
        var b = Varint.encode(code.rawValue)
        Varint.encode(UInt64(digest.count), into: &b)
        b.append(contentsOf: digest)
        self.bytes = b
    }

    /// Parses a multihash that fills `bytes` exactly.
    public init(bytes: [UInt8]) throws(MultiformatsError) {
        var reader = ByteReader(bytes)
        self = try Multihash.read(from: &reader)
        try reader.expectEnd("multihash")
    }

    /// Reads one multihash from `reader`, leaving it just after.
    public static func read(from reader: inout ByteReader) throws(MultiformatsError) -> Multihash {
        let start = reader.offset
        let code = Multicodec(rawValue: try reader.readVarint())
        let length = try reader.readLength(limit: maxDigestBytes, what: "multihash digest")
        try validate(code: code, length: length)
        let digest = try reader.readBytes(length, what: "multihash digest")
        return Multihash(code: code, digest: digest, bytes: Array(reader.bytes[start..<reader.offset]))
    }

    private init(code: Multicodec, digest: [UInt8], bytes: [UInt8]) {
        self.code = code
        self.digest = digest
        self.bytes = bytes
    }

    /// The digest length a known hash function must have, or nil when any length is allowed.
    public static func requiredDigestLength(for code: Multicodec) -> Int? {
        if let bits = code.blake2bBits ?? code.blake2sBits { return bits / 8 }
        switch code {
        case .sha2_256, .dblSha2_256, .sha3_256, .keccak_256: return 32
        case .sha2_512, .sha3_512, .keccak_512, .shake_256: return 64
        case .sha3_384, .keccak_384: return 48
        case .sha3_224, .keccak_224: return 28
        case .sha1: return 20
        default: return nil
        }
    }

    private static func validate(code: Multicodec, length: Int) throws(MultiformatsError) {
        guard length <= maxDigestBytes else {
            throw MFError(.tooLong, "multihash digest of \(length) bytes exceeds the limit of \(maxDigestBytes)")
        }
        if let required = requiredDigestLength(for: code), required != length {
            throw MFError(.digestLength, "\(code) digest must be \(required) bytes, got \(length)")
        }
    }

    /// An identity multihash: the data itself, at most ``maxDigestBytes`` bytes.
    public static func identity(_ data: [UInt8]) throws(MultiformatsError) -> Multihash {
        try Multihash(code: .identity, digest: data)
    }

    /// base58btc of the binary form (how peer IDs and CIDv0 print).
    public var base58: String { Multibase.base58btc.encodeWithoutPrefix(bytes) }

    public var description: String { "\(code):\(BaseN.base16(digest, upper: false))" }

    public static func < (a: Multihash, b: Multihash) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
