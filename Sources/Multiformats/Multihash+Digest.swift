import Crypto
import Sodium

// Computing digests. Kept apart from parsing so that parsers build alone (the fuzz targets
// compile the parsers without swift-crypto or libsodium).
extension Multihash {
    /// The sha2-256 multihash of `data` (swift-crypto: uses the CPU's SHA extensions).
    public static func sha256(_ data: [UInt8]) -> Multihash {
        data.withUnsafeBytes { sha256($0) }
    }

    /// The sha2-256 multihash of the bytes in `buffer`.
    public static func sha256(_ buffer: UnsafeRawBufferPointer) -> Multihash {
        try! Multihash(code: .sha2_256, digest: Array(SHA256.hash(data: buffer)))
    }

    /// The blake2b-256 multihash of `data`.
    public static func blake2b256(_ data: [UInt8]) -> Multihash {
        try! Multihash(code: .blake2b_256, digest: Blake2b.hash(data, outputBytes: 32))
    }

    /// Hashes `data` with the function `code` names; nil when PinMesh cannot compute it.
    public static func digest(_ data: [UInt8], code: Multicodec) -> Multihash? {
        switch code {
        case .sha2_256: sha256(data)
        case .blake2b_256: blake2b256(data)
        case .sha2_512: try! Multihash(code: .sha2_512, digest: Array(SHA512.hash(data: data)))
        case .identity: try? identity(data)
        default: nil
        }
    }

    /// True when `data` hashes to this multihash; nil when the hash function is unknown here.
    public func verifies(_ data: [UInt8]) -> Bool? {
        if code == .identity { return digest == data }
        guard let computed = Multihash.digest(data, code: code) else { return nil }
        return computed == self
    }
}
