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
        case .sha2_256: return sha256(data)
        case .identity: return try? identity(data)
        default:
            guard var h = Hasher(code: code) else { return nil }
            h.update(data)
            return h.finalize()
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
    /// An incremental hasher for the functions PinMesh computes: every hash kubo's importer
    /// allows (boxo's verifcid) that go-multihash computes, except blake3; identity not (it
    /// has no state).
    public struct Hasher {
        private enum State {
            case sha256(SHA256)
            case sha512(SHA512)
            case sha1(Insecure.SHA1)
            case doubleSHA256(SHA256)
            case blake2b(Blake2bBox)
            case blake2s(Blake2s)
            case keccak(Keccak)
        }

        /// BLAKE2b's state is non-copyable; a class lets the hasher stay a plain value.
        private final class Blake2bBox {
            var hasher: Blake2b?
            init(bytes: Int) { hasher = try! Blake2b(outputBytes: bytes) }
        }

        private var state: State
        public let code: Multicodec

        /// The names of the functions a hasher exists for, in the multicodec table's order.
        public static let supportedNames: [String] = [
            "sha2-256", "sha2-512", "sha1", "dbl-sha2-256", "sha3-224", "sha3-256", "sha3-384", "sha3-512",
            "shake-256", "keccak-224", "keccak-256", "keccak-384", "keccak-512", "blake2b-160 … blake2b-512", "blake2s-256",
        ]

        /// A hasher for `code`; nil when PinMesh cannot compute that function incrementally.
        public init?(code: Multicodec) {
            switch code {
            case .sha2_256: state = .sha256(SHA256())
            case .sha2_512: state = .sha512(SHA512())
            case .sha1: state = .sha1(Insecure.SHA1())
            case .dblSha2_256: state = .doubleSHA256(SHA256())
            case .sha3_224: state = .keccak(.sha3(bits: 224))
            case .sha3_256: state = .keccak(.sha3(bits: 256))
            case .sha3_384: state = .keccak(.sha3(bits: 384))
            case .sha3_512: state = .keccak(.sha3(bits: 512))
            case .shake_256: state = .keccak(.shake256(outputBytes: 64))
            case .keccak_224: state = .keccak(.keccak(bits: 224))
            case .keccak_256: state = .keccak(.keccak(bits: 256))
            case .keccak_384: state = .keccak(.keccak(bits: 384))
            case .keccak_512: state = .keccak(.keccak(bits: 512))
            case Multicodec.blake2s(bits: 256): state = .blake2s(Blake2s(outputBytes: 32))
            default:
                // kubo allows blake2b from 160 bits; libsodium computes 128 to 512.
                guard let bits = code.blake2bBits, bits >= 160 else { return nil }
                state = .blake2b(Blake2bBox(bytes: bits / 8))
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
            case .sha1(var h):
                h.update(bufferPointer: bytes)
                state = .sha1(h)
            case .doubleSHA256(var h):
                h.update(bufferPointer: bytes)
                state = .doubleSHA256(h)
            case .blake2b(let box):
                box.hasher!.update(bytes)
            case .blake2s(var b):
                b.update(bytes)
                state = .blake2s(b)
            case .keccak(var k):
                k.update(bytes)
                state = .keccak(k)
            }
        }

        public mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { update($0) }
        }

        public func finalize() -> Multihash {
            let digest: [UInt8]
            switch state {
            case .sha256(let h): digest = Array(h.finalize())
            case .sha512(let h): digest = Array(h.finalize())
            case .sha1(let h): digest = Array(h.finalize())
            case .doubleSHA256(let h): digest = Array(SHA256.hash(data: Array(h.finalize())))
            case .blake2b(let box): digest = box.hasher.take()!.finalize()
            case .blake2s(let b): digest = b.finalize()
            case .keccak(let k): digest = k.finalize()
            }
            return try! Multihash(code: code, digest: digest)
        }
    }
}
