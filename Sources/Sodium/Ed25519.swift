internal import CSodium

/// Ed25519 signatures (RFC 8032) through libsodium.
public enum Ed25519 {
    public static let publicKeyBytes = 32
    public static let seedBytes = 32
    public static let signatureBytes = 64

    /// An Ed25519 public key (32 bytes).
    public struct PublicKey: Hashable, Sendable {
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws(SodiumError) {
            guard bytes.count == Ed25519.publicKeyBytes else {
                throw .length("Ed25519 public key", expected: Ed25519.publicKeyBytes, got: bytes.count)
            }
            self.bytes = bytes
        }

        /// True when `signature` is a valid signature of `message` by this key.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            Sodium.ensureInitialized()
            guard signature.count == Ed25519.signatureBytes else { return false }
            return signature.withUnsafeBufferPointer { s in
                message.withUnsafeBufferPointer { m in
                    bytes.withUnsafeBufferPointer { k in
                        crypto_sign_verify_detached(s.baseAddress!, m.baseAddress, UInt64(m.count), k.baseAddress!) == 0
                    }
                }
            }
        }

        /// The X25519 public key of the same point (for key agreement bound to this identity).
        public func x25519PublicKey() throws(SodiumError) -> X25519.PublicKey {
            Sodium.ensureInitialized()
            var out = [UInt8](repeating: 0, count: X25519.keyBytes)
            let rc = out.withUnsafeMutableBufferPointer { o in
                bytes.withUnsafeBufferPointer { crypto_sign_ed25519_pk_to_curve25519(o.baseAddress!, $0.baseAddress!) }
            }
            guard rc == 0 else { throw SodiumError(.weakPublicKey, "Ed25519 public key is not a valid curve point") }
            return try X25519.PublicKey(bytes: out)
        }
    }

    /// An Ed25519 private key; the secret is zeroed when the last copy is released.
    public struct PrivateKey: Sendable {
        /// libsodium's 64-byte secret key (seed followed by the public key).
        private let secretKey: SecureBytes
        public let publicKey: PublicKey

        /// Derives the key pair from a 32-byte seed (the RFC 8032 private key).
        public init(seed: [UInt8]) throws(SodiumError) {
            guard seed.count == Ed25519.seedBytes else {
                throw .length("Ed25519 seed", expected: Ed25519.seedBytes, got: seed.count)
            }
            try self.init(seed: SecureBytes(seed))
        }

        /// Derives the key pair from a 32-byte seed held in secure memory.
        public init(seed: SecureBytes) throws(SodiumError) {
            guard seed.count == Ed25519.seedBytes else {
                throw .length("Ed25519 seed", expected: Ed25519.seedBytes, got: seed.count)
            }
            Sodium.ensureInitialized()
            var pk = [UInt8](repeating: 0, count: Ed25519.publicKeyBytes)
            secretKey = SecureBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { sk in
                seed.withUnsafeBytes { s in
                    pk.withUnsafeMutableBufferPointer { p in
                        _ = crypto_sign_seed_keypair(
                            p.baseAddress!, sk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            s.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            publicKey = try PublicKey(bytes: pk)
        }

        /// A fresh random key pair.
        public static func generate() -> PrivateKey {
            // A 32-byte seed always yields a key pair.
            try! PrivateKey(seed: SecureBytes.random(count: Ed25519.seedBytes))
        }

        /// The 32-byte seed (what RFC 8032 calls the private key).
        public var seed: SecureBytes {
            secretKey.withUnsafeBytes { SecureBytes($0[0..<Ed25519.seedBytes]) }
        }

        /// The detached 64-byte signature of `message`.
        public func signature(for message: [UInt8]) -> [UInt8] {
            var sig = [UInt8](repeating: 0, count: Ed25519.signatureBytes)
            sig.withUnsafeMutableBufferPointer { s in
                message.withUnsafeBufferPointer { m in
                    secretKey.withUnsafeBytes { sk in
                        _ = crypto_sign_detached(
                            s.baseAddress!, nil, m.baseAddress, UInt64(m.count),
                            sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            return sig
        }

        /// The X25519 private key derived from this identity's secret (libsodium's conversion).
        public func x25519PrivateKey() -> X25519.PrivateKey {
            let scalar = SecureBytes(count: X25519.keyBytes) { out in
                secretKey.withUnsafeBytes { sk in
                    _ = crypto_sign_ed25519_sk_to_curve25519(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            return try! X25519.PrivateKey(secret: scalar)
        }
    }
}
