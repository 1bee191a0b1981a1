public import Sodium

/// The Noise XX handshake (Noise protocol framework, revision 34), with or without psk0:
///
///     -> [psk,] e
///     <- e, ee, s, es
///     -> s, se
///
/// - With a psk (the cluster's `Noise_XXpsk0_25519_ChaChaPoly_SHA256`, the psk being the cluster
///   secret) a peer without it cannot produce or read message 1, and every `e` is also mixed
///   into the key (the psk modifier's rule).
/// - Without one (libp2p's `Noise_XX_25519_ChaChaPoly_SHA256`) message 1's payload is plaintext.
/// - The protocol name only seeds the hash: the pattern, DH, cipher and hash are always
///   XX / 25519 / ChaChaPoly / SHA256. Messages are at most 65535 bytes.
public struct NoiseHandshake: Sendable {
    /// The cluster transport's protocol name.
    static let protocolName = Array("Noise_XXpsk0_25519_ChaChaPoly_SHA256".utf8)
    /// libp2p's protocol name (`/noise`).
    public static let xxProtocolName = Array("Noise_XX_25519_ChaChaPoly_SHA256".utf8)
    public static let maxMessage = 65535

    private var symmetric: SymmetricState
    private let initiator: Bool
    private let staticKey: X25519.PrivateKey
    private let ephemeral: X25519.PrivateKey
    private let psk: SecureBytes?
    public private(set) var remoteStatic: X25519.PublicKey?
    private var remoteEphemeral: X25519.PublicKey?
    public private(set) var step = 0

    /// The cluster's XXpsk0 handshake.
    init(initiator: Bool, prologue: [UInt8], psk: SecureBytes, staticKey: X25519.PrivateKey, ephemeral: X25519.PrivateKey) {
        self.init(
            protocolName: NoiseHandshake.protocolName, initiator: initiator, prologue: prologue, psk: psk,
            staticKey: staticKey, ephemeral: ephemeral)
    }

    /// A handshake named `protocolName`, with psk0 when `psk` is given.
    public init(
        protocolName: [UInt8], initiator: Bool, prologue: [UInt8], psk: SecureBytes?,
        staticKey: X25519.PrivateKey, ephemeral: X25519.PrivateKey
    ) {
        symmetric = SymmetricState(protocolName: protocolName)
        symmetric.mixHash(prologue)
        self.initiator = initiator
        self.staticKey = staticKey
        self.ephemeral = ephemeral
        self.psk = psk
    }

    private mutating func mixEphemeral(_ e: [UInt8]) {
        symmetric.mixHash(e)
        if psk != nil { symmetric.mixKey(e) }
    }

    /// Writes the next message of this side with `payload`.
    public mutating func write(_ payload: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        var out: [UInt8] = []
        switch (step, initiator) {
        case (0, true):
            if let psk { symmetric.mixKeyAndHash(psk) }
            out += ephemeral.publicKey.bytes
            mixEphemeral(ephemeral.publicKey.bytes)
        case (1, false):
            out += ephemeral.publicKey.bytes
            mixEphemeral(ephemeral.publicKey.bytes)
            symmetric.mixKey(try dh(ephemeral, remoteEphemeral!))
            out += try symmetric.encryptAndHash(staticKey.publicKey.bytes)
            symmetric.mixKey(try dh(staticKey, remoteEphemeral!))
        case (2, true):
            out += try symmetric.encryptAndHash(staticKey.publicKey.bytes)
            symmetric.mixKey(try dh(staticKey, remoteEphemeral!))
        default:
            throw SecureChannelError(.unexpectedMessage, "no Noise message to write at step \(step)")
        }
        out += try symmetric.encryptAndHash(payload)
        guard out.count <= NoiseHandshake.maxMessage else {
            throw SecureChannelError(.tooLarge, "handshake message of \(out.count) bytes exceeds 65535")
        }
        step += 1
        return out
    }

    /// Reads the peer's next message; returns its payload.
    public mutating func read(_ message: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        guard message.count <= NoiseHandshake.maxMessage else {
            throw SecureChannelError(.tooLarge, "handshake message of \(message.count) bytes exceeds 65535")
        }
        var rest = message[...]
        func take(_ n: Int, _ what: String) throws(SecureChannelError) -> [UInt8] {
            guard rest.count >= n else {
                throw SecureChannelError(.malformed, "handshake message \(step + 1) too short for \(what)")
            }
            defer { rest = rest.dropFirst(n) }
            return Array(rest.prefix(n))
        }
        switch (step, initiator) {
        case (0, false):
            if let psk { symmetric.mixKeyAndHash(psk) }
            let e = try take(32, "the ephemeral key")
            remoteEphemeral = try! X25519.PublicKey(bytes: e)
            mixEphemeral(e)
        case (1, true):
            let e = try take(32, "the ephemeral key")
            remoteEphemeral = try! X25519.PublicKey(bytes: e)
            mixEphemeral(e)
            symmetric.mixKey(try dh(ephemeral, remoteEphemeral!))
            let s = try symmetric.decryptAndHash(try take(48, "the static key"))
            remoteStatic = try! X25519.PublicKey(bytes: s)
            symmetric.mixKey(try dh(ephemeral, remoteStatic!))
        case (2, false):
            let s = try symmetric.decryptAndHash(try take(48, "the static key"))
            remoteStatic = try! X25519.PublicKey(bytes: s)
            symmetric.mixKey(try dh(ephemeral, remoteStatic!))
        default:
            throw SecureChannelError(.unexpectedMessage, "no Noise message to read at step \(step)")
        }
        let payload = try symmetric.decryptAndHash(Array(rest))
        step += 1
        return payload
    }

    public var isComplete: Bool { step == 3 }
    public var handshakeHash: [UInt8] { symmetric.h }

    /// The transport keys: (initiator to responder, responder to initiator).
    public func split() -> (SecureBytes, SecureBytes) {
        let (k1, k2) = HKDF2.derive(chainingKey: symmetric.ck, input: [])
        return (SecureBytes(k1), SecureBytes(k2))
    }

    private func dh(_ key: X25519.PrivateKey, _ peer: X25519.PublicKey) throws(SecureChannelError) -> [UInt8] {
        do throws(SodiumError) {
            return try key.sharedSecret(with: peer).bytes
        } catch {
            throw SecureChannelError(.authenticationFailed, "peer's X25519 key is a low-order point")
        }
    }
}

/// Noise's HKDF with HMAC-SHA256 (libsodium's: the handshake hashes little data).
enum HKDF2 {
    static func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        SodiumSHA256.hmac(key: key, data)
    }

    static func derive(chainingKey: [UInt8], input: [UInt8]) -> ([UInt8], [UInt8]) {
        let temp = hmac(chainingKey, input)
        let o1 = hmac(temp, [1])
        let o2 = hmac(temp, o1 + [2])
        return (o1, o2)
    }

    static func derive3(chainingKey: [UInt8], input: [UInt8]) -> ([UInt8], [UInt8], [UInt8]) {
        let temp = hmac(chainingKey, input)
        let o1 = hmac(temp, [1])
        let o2 = hmac(temp, o1 + [2])
        let o3 = hmac(temp, o2 + [3])
        return (o1, o2, o3)
    }
}

/// Noise's SymmetricState with ChaChaPoly and SHA-256.
public struct SymmetricState: Sendable {
    var ck: [UInt8]
    var h: [UInt8]
    private var key: AEAD?
    private var nonce: UInt64 = 0

    init(protocolName: [UInt8]) {
        h = protocolName.count <= 32 ? protocolName + [UInt8](repeating: 0, count: 32 - protocolName.count) : SodiumSHA256.hash(protocolName)
        ck = h
    }

    mutating func mixHash(_ data: [UInt8]) {
        h = SodiumSHA256.hash(h + data)
    }

    mutating func mixKey(_ input: [UInt8]) {
        let (newCK, k) = HKDF2.derive(chainingKey: ck, input: input)
        ck = newCK
        key = try! AEAD(.chacha20Poly1305, key: SecureBytes(k))
        nonce = 0
    }

    mutating func mixKeyAndHash(_ input: SecureBytes) {
        let (newCK, tempH, k) = HKDF2.derive3(chainingKey: ck, input: input.bytes)
        ck = newCK
        mixHash(tempH)
        key = try! AEAD(.chacha20Poly1305, key: SecureBytes(k))
        nonce = 0
    }

    /// Noise's ChaChaPoly nonce: 4 zero bytes, then the counter little-endian.
    public static func nonceBytes(_ n: UInt64) -> [UInt8] {
        [0, 0, 0, 0] + withUnsafeBytes(of: n.littleEndian) { Array($0) }
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        guard let key else {
            mixHash(plaintext)
            return plaintext
        }
        let c = try! key.seal(plaintext, nonce: SymmetricState.nonceBytes(nonce), authenticating: h)
        nonce += 1
        mixHash(c)
        return c
    }

    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        guard let key else {
            mixHash(ciphertext)
            return ciphertext
        }
        let p: [UInt8]
        do throws(SodiumError) {
            p = try key.open(ciphertext, nonce: SymmetricState.nonceBytes(nonce), authenticating: h)
        } catch {
            throw SecureChannelError(.authenticationFailed, "handshake message failed authentication (wrong cluster secret, tampering or replay)")
        }
        nonce += 1
        mixHash(ciphertext)
        return p
    }
}
