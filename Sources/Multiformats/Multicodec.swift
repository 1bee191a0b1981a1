/// A multicodec code: what a CID's content is, or which hash function a multihash used.
public struct Multicodec: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    // Content codecs.
    public static let raw = Multicodec(rawValue: 0x55)
    public static let dagPB = Multicodec(rawValue: 0x70)
    public static let dagCBOR = Multicodec(rawValue: 0x71)
    public static let libp2pKey = Multicodec(rawValue: 0x72)
    public static let dagJSON = Multicodec(rawValue: 0x0129)
    public static let dagJOSE = Multicodec(rawValue: 0x85)

    // Hash functions.
    public static let identity = Multicodec(rawValue: 0x00)
    public static let sha2_256 = Multicodec(rawValue: 0x12)
    public static let sha2_512 = Multicodec(rawValue: 0x13)
    public static let blake3 = Multicodec(rawValue: 0x1e)
    public static let blake2b_256 = Multicodec(rawValue: 0xb220)
    public static let sha1 = Multicodec(rawValue: 0x11)
    public static let sha3_512 = Multicodec(rawValue: 0x14)
    public static let sha3_384 = Multicodec(rawValue: 0x15)
    public static let sha3_256 = Multicodec(rawValue: 0x16)
    public static let sha3_224 = Multicodec(rawValue: 0x17)
    public static let shake_256 = Multicodec(rawValue: 0x19)
    public static let keccak_224 = Multicodec(rawValue: 0x1a)
    public static let keccak_256 = Multicodec(rawValue: 0x1b)
    public static let keccak_384 = Multicodec(rawValue: 0x1c)
    public static let keccak_512 = Multicodec(rawValue: 0x1d)
    public static let dblSha2_256 = Multicodec(rawValue: 0x56)
    /// blake2b-`bits` for bits 8, 16, … 512: 0xb201 … 0xb240.
    public static func blake2b(bits: Int) -> Multicodec { Multicodec(rawValue: 0xb200 + UInt64(bits / 8)) }
    /// blake2s-`bits` for bits 8, 16, … 256: 0xb241 … 0xb260.
    public static func blake2s(bits: Int) -> Multicodec { Multicodec(rawValue: 0xb240 + UInt64(bits / 8)) }

    /// The output bits of a blake2b multihash code, or nil.
    public var blake2bBits: Int? { (0xb201...0xb240).contains(rawValue) ? Int(rawValue - 0xb200) * 8 : nil }
    /// The output bits of a blake2s multihash code, or nil.
    public var blake2sBits: Int? { (0xb241...0xb260).contains(rawValue) ? Int(rawValue - 0xb240) * 8 : nil }

    private static let names: [UInt64: String] = {
        var n: [UInt64: String] = [
            0x55: "raw", 0x70: "dag-pb", 0x71: "dag-cbor", 0x72: "libp2p-key", 0x0129: "dag-json",
            0x85: "dag-jose", 0x00: "identity", 0x11: "sha1", 0x12: "sha2-256", 0x13: "sha2-512",
            0x14: "sha3-512", 0x15: "sha3-384", 0x16: "sha3-256", 0x17: "sha3-224", 0x19: "shake-256",
            0x1a: "keccak-224", 0x1b: "keccak-256", 0x1c: "keccak-384", 0x1d: "keccak-512", 0x1e: "blake3",
            0x56: "dbl-sha2-256",
        ]
        for i in 1...64 { n[0xb200 + UInt64(i)] = "blake2b-\(i * 8)" }
        for i in 1...32 { n[0xb240 + UInt64(i)] = "blake2s-\(i * 8)" }
        return n
    }()
    private static let codes: [String: UInt64] = Dictionary(uniqueKeysWithValues: names.map { ($0.value, $0.key) })

    /// The multicodec table name, or nil when PinMesh does not know the code.
    public var name: String? { Multicodec.names[rawValue] }

    /// Looks a codec up by its table name ("dag-pb", "sha2-256", ...).
    public init?(name: String) {
        guard let code = Multicodec.codes[name] else { return nil }
        self.rawValue = code
    }

    public var description: String { name ?? "0x" + String(rawValue, radix: 16) }

    public static func < (a: Multicodec, b: Multicodec) -> Bool { a.rawValue < b.rawValue }
}
