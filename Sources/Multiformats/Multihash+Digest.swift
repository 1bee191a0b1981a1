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

extension Multihash {
    /// An incremental hasher for the functions PinMesh computes.
    public struct Hasher {
        private enum State {
            case sha256(SHA256)
            case sha512(SHA512)
            case blake2b(Blake2bBox)
        }

        /// BLAKE2b's state is non-copyable; a class lets the hasher stay a plain value.
        private final class Blake2bBox {
            var hasher: Blake2b?
            init() { hasher = try! Blake2b(outputBytes: 32) }
        }

        private var state: State
        public let code: Multicodec

        /// A hasher for `code`; nil when PinMesh cannot compute that function incrementally.
        public init?(code: Multicodec) {
            switch code {
            case .sha2_256: state = .sha256(SHA256())
            case .sha2_512: state = .sha512(SHA512())
            case .blake2b_256: state = .blake2b(Blake2bBox())
            default: return nil
            }
            self.code = code
        }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            switch state {
            case .sha256(var h):
                h.update(bufferPointer: bytes)
                state = .sha256(h)
            case .sha512(var h):
                h.update(bufferPointer: bytes)
                state = .sha512(h)
            case .blake2b(let box):
                box.hasher!.update(bytes)
            }
        }

        public mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { update($0) }
        }

        public func finalize() -> Multihash {
            switch state {
            case .sha256(let h): return try! Multihash(code: .sha2_256, digest: Array(h.finalize()))
            case .sha512(let h): return try! Multihash(code: .sha2_512, digest: Array(h.finalize()))
            case .blake2b(let box):
                let h = box.hasher.take()!
                return try! Multihash(code: .blake2b_256, digest: h.finalize())
            }
        }
    }
}
