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

    private static let names: [UInt64: String] = [
        0x55: "raw", 0x70: "dag-pb", 0x71: "dag-cbor", 0x72: "libp2p-key", 0x0129: "dag-json",
        0x85: "dag-jose", 0x00: "identity", 0x12: "sha2-256", 0x13: "sha2-512", 0x1e: "blake3",
        0xb220: "blake2b-256",
    ]

    /// The multicodec table name, or nil when PinMesh does not know the code.
    public var name: String? { Multicodec.names[rawValue] }

    /// Looks a codec up by its table name ("dag-pb", "sha2-256", ...).
    public init?(name: String) {
        guard let code = Multicodec.names.first(where: { $0.value == name })?.key else { return nil }
        self.rawValue = code
    }

    public var description: String { name ?? "0x" + String(rawValue, radix: 16) }

    public static func < (a: Multicodec, b: Multicodec) -> Bool { a.rawValue < b.rawValue }
}
