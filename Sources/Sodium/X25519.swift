internal import CSodium

/// X25519 Diffie-Hellman (RFC 7748) and libsodium's `crypto_kx` session keys.
public enum X25519 {
    public static let keyBytes = 32

    /// An X25519 public key (32 bytes, little-endian u-coordinate).
    public struct PublicKey: Hashable, Sendable {
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws(SodiumError) {
            guard bytes.count == X25519.keyBytes else {
                throw .length("X25519 public key", expected: X25519.keyBytes, got: bytes.count)
            }
            self.bytes = bytes
        }
    }

    /// An X25519 private scalar; zeroed when released.
    public struct PrivateKey: Sendable {
        let secret: SecureBytes
        public let publicKey: PublicKey

        /// Uses `secret` (32 bytes) as the scalar.
        public init(secret: SecureBytes) throws(SodiumError) {
            guard secret.count == X25519.keyBytes else {
                throw .length("X25519 private key", expected: X25519.keyBytes, got: secret.count)
            }
            Sodium.ensureInitialized()
            self.secret = secret
            var pk = [UInt8](repeating: 0, count: X25519.keyBytes)
            pk.withUnsafeMutableBufferPointer { p in
                secret.withUnsafeBytes { s in
                    _ = crypto_scalarmult_base(p.baseAddress!, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            publicKey = try PublicKey(bytes: pk)
        }

        /// Uses the 32 bytes of `rawRepresentation` as the scalar.
        public init(rawRepresentation: [UInt8]) throws(SodiumError) {
            try self.init(secret: SecureBytes(rawRepresentation))
        }

        /// A fresh random key pair.
        public static func generate() -> PrivateKey {
            try! PrivateKey(secret: SecureBytes.random(count: X25519.keyBytes))
        }

        /// The raw shared secret X25519(self, peer); fails if the peer's key is a low-order point.
        public func sharedSecret(with peer: PublicKey) throws(SodiumError) -> SecureBytes {
            var rc: Int32 = 0
            let out = SecureBytes(count: X25519.keyBytes) { q in
                secret.withUnsafeBytes { n in
                    peer.bytes.withUnsafeBufferPointer { p in
                        rc = crypto_scalarmult(
                            q.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            n.baseAddress!.assumingMemoryBound(to: UInt8.self), p.baseAddress!)
                    }
                }
            }
            guard rc == 0 else {
                throw SodiumError(.weakPublicKey, "peer's X25519 public key is a low-order point")
            }
            return out
        }
    }
}

/// Session keys from libsodium's `crypto_kx` (BLAKE2b-512 over the shared secret and both public keys).
public struct SessionKeys: Sendable {
    /// The key for data this side receives.
    public let receive: SecureBytes
    /// The key for data this side sends.
    public let transmit: SecureBytes

    public static let keyBytes = 32

    /// The client side's keys: its `receive` equals the server's `transmit` and vice versa.
    public static func client(_ client: X25519.PrivateKey, server: X25519.PublicKey) throws(SodiumError) -> SessionKeys {
        try derive(client, peer: server, isClient: true)
    }

    /// The server side's keys.
    public static func server(_ server: X25519.PrivateKey, client: X25519.PublicKey) throws(SodiumError) -> SessionKeys {
        try derive(server, peer: client, isClient: false)
    }

    private static func derive(_ own: X25519.PrivateKey, peer: X25519.PublicKey, isClient: Bool) throws(SodiumError) -> SessionKeys {
        Sodium.ensureInitialized()
        var rc: Int32 = 0
        var tx: SecureBytes?
        let rx = SecureBytes(count: keyBytes) { rxBuf in
            tx = SecureBytes(count: keyBytes) { txBuf in
                own.secret.withUnsafeBytes { sk in
                    own.publicKey.bytes.withUnsafeBufferPointer { pk in
                        peer.bytes.withUnsafeBufferPointer { ppk in
                            let r = rxBuf.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            let t = txBuf.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            let s = sk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            rc = isClient
                                ? crypto_kx_client_session_keys(r, t, pk.baseAddress!, s, ppk.baseAddress!)
                                : crypto_kx_server_session_keys(r, t, pk.baseAddress!, s, ppk.baseAddress!)
                        }
                    }
                }
            }
        }
        guard rc == 0, let tx else {
            throw SodiumError(.weakPublicKey, "peer's X25519 public key is not acceptable for key exchange")
        }
        return SessionKeys(receive: rx, transmit: tx)
    }
}
