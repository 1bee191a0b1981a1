public import Multiformats
public import Sodium

/// What a connection needs once the handshake succeeded.
public struct SecureSession: Sendable {
    public let peer: PeerID
    public let isInitiator: Bool
    public let cipher: RecordCipher
    public let sendKey: SecureBytes
    public let receiveKey: SecureBytes
    /// The Noise handshake hash: unique to this connection, both sides agree on it.
    public let handshakeHash: [UInt8]
    /// The id datagrams addressed to us carry (we chose it; the peer writes it).
    public let localDatagramID: [UInt8]
    /// The id our datagrams to the peer carry (the peer chose it).
    public let remoteDatagramID: [UInt8]
    public let datagramKeys: DatagramKeys
}

/// Settings of the handshake.
public struct HandshakeSettings: Sendable {
    /// The 32-byte cluster secret (the Noise psk).
    public var clusterSecret: SecureBytes
    public var identity: Ed25519.PrivateKey {
        didSet { local = LocalStatic(identity) }
    }
    /// What every handshake of this identity sends, computed once: the Noise static key
    /// (a SHA-512 and a base-point multiplication) and the signature binding it (an Ed25519
    /// signing). Recomputing them per handshake put about 0.15 ms on each side's critical path.
    private(set) var local: LocalStatic
    /// A handshake not finished this long after it started fails with `timeout`.
    public var timeout: Duration = .seconds(5)
    public var ciphers: [RecordCipher] = RecordCipher.local
    /// Identity bindings checked before, to skip their signature check; nil checks every time.
    public var verified: (any VerifiedIdentities)?

    public init(clusterSecret: SecureBytes, identity: Ed25519.PrivateKey) {
        self.clusterSecret = clusterSecret
        self.identity = identity
        local = LocalStatic(identity)
    }

    struct LocalStatic: Sendable {
        let noiseStatic: X25519.PrivateKey
        let signature: [UInt8]

        init(_ identity: Ed25519.PrivateKey) {
            noiseStatic = identity.x25519PrivateKey()
            signature = identity.signature(for: HandshakePayloads.signaturePrefix + noiseStatic.publicKey.bytes)
        }
    }
}

/// The handshake as a pure state machine: messages in, actions out; time is a parameter.
///
/// The initiator may send application data right after message 3 (one round trip).
public struct HandshakeInstance {
    public enum Role: Sendable {
        /// Dialling; `expected` is the peer ID from the multiaddr, when known.
        case initiator(expected: PeerID?)
        case responder
    }

    public enum Action: Sendable {
        /// Send these bytes (one handshake message, already framed with its length).
        case send([UInt8])
        case established(SecureSession)
        /// Close the connection. The reason is for logs; a peer without the secret is told nothing.
        case failed(SecureChannelError)
    }

    static let prologue = Array("pinmesh/1".utf8)

    private var noise: NoiseHandshake
    private let role: Role
    private let settings: HandshakeSettings
    private let deadline: Duration
    private let localDatagramID: [UInt8]
    private var chosenCipher: UInt8 = 0
    private var done = false

    /// - Parameters:
    ///   - now: monotonic time, for the deadline.
    ///   - ephemeral, datagramID: injected for deterministic tests; random otherwise.
    public init(
        role: Role, settings: HandshakeSettings, now: Duration,
        ephemeral: X25519.PrivateKey = .generate(), datagramID: [UInt8] = SodiumRandom.bytes(8)
    ) {
        precondition(settings.clusterSecret.count == 32, "the cluster secret must be 32 bytes")
        precondition(datagramID.count == 8, "datagram ids are 8 bytes")
        self.role = role
        self.settings = settings
        deadline = now + settings.timeout
        localDatagramID = datagramID
        var isInitiator = false
        if case .initiator = role { isInitiator = true }
        noise = NoiseHandshake(
            initiator: isInitiator, prologue: HandshakeInstance.prologue, psk: settings.clusterSecret,
            staticKey: settings.local.noiseStatic, ephemeral: ephemeral)
    }

    /// The initiator's first message.
    public mutating func start() -> [Action] {
        guard case .initiator = role, noise.step == 0 else {
            return fail(SecureChannelError(.unexpectedMessage, "only a new initiator starts a handshake"))
        }
        do {
            return [.send(HandshakeInstance.frame(try noise.write(HandshakePayloads.hello(ciphers: settings.ciphers))))]
        } catch {
            return fail(error)
        }
    }

    /// One handshake message from the peer (without its length prefix).
    public mutating func onMessage(_ message: [UInt8], now: Duration) -> [Action] {
        guard !done else { return [.failed(SecureChannelError(.unexpectedMessage, "handshake already over"))] }
        if now > deadline { return fail(SecureChannelError(.timeout, "handshake did not finish within \(settings.timeout)")) }
        do {
            let actions = try handle(message)
            if actions.contains(where: { if case .established = $0 { true } else { false } }) { done = true }
            return actions
        } catch {
            return fail(error)
        }
    }

    /// Fails the handshake once its deadline has passed.
    public mutating func onTick(now: Duration) -> [Action] {
        guard !done, now > deadline else { return [] }
        return fail(SecureChannelError(.timeout, "handshake did not finish within \(settings.timeout)"))
    }

    private mutating func handle(_ message: [UInt8]) throws(SecureChannelError) -> [Action] {
        switch role {
        case .responder where noise.step == 0:
            let theirs = try HandshakePayloads.readHello(try noise.read(message))
            guard let cipher = settings.ciphers.first(where: { theirs & 1 << ($0.rawValue - 1) != 0 }) else {
                throw SecureChannelError(.incompatible, "no record cipher in common (peer offered mask \(theirs))")
            }
            chosenCipher = cipher.rawValue
            let payload = HandshakePayloads.Identity(
                cipher: chosenCipher, datagramID: localDatagramID, ed25519: settings.identity.publicKey.bytes,
                signature: settings.local.signature)
            return [.send(HandshakeInstance.frame(try noise.write(payload.encoded)))]
        case .initiator(let expected) where noise.step == 1:
            let identity = try HandshakePayloads.Identity(decoding: try noise.read(message))
            let peer = try identity.verifiedPeer(noiseStatic: noise.remoteStatic!, verified: settings.verified)
            if let expected, expected != peer {
                throw SecureChannelError(.unexpectedPeer, "dialled \(expected) but the peer proved it is \(peer)")
            }
            guard let cipher = RecordCipher(rawValue: identity.cipher), settings.ciphers.contains(cipher) else {
                throw SecureChannelError(.incompatible, "peer chose record cipher \(identity.cipher), which was not offered")
            }
            chosenCipher = cipher.rawValue
            let payload = HandshakePayloads.Identity(
                cipher: chosenCipher, datagramID: localDatagramID, ed25519: settings.identity.publicKey.bytes,
                signature: settings.local.signature)
            let out = HandshakeInstance.frame(try noise.write(payload.encoded))
            return [.send(out), .established(session(peer: peer, remoteDatagramID: identity.datagramID))]
        case .responder where noise.step == 2:
            let identity = try HandshakePayloads.Identity(decoding: try noise.read(message))
            let peer = try identity.verifiedPeer(noiseStatic: noise.remoteStatic!, verified: settings.verified)
            guard identity.cipher == chosenCipher else {
                throw SecureChannelError(.malformed, "initiator echoed cipher \(identity.cipher), responder chose \(chosenCipher)")
            }
            return [.established(session(peer: peer, remoteDatagramID: identity.datagramID))]
        default:
            throw SecureChannelError(.unexpectedMessage, "unexpected handshake message at step \(noise.step)")
        }
    }

    private func session(peer: PeerID, remoteDatagramID: [UInt8]) -> SecureSession {
        let (i2r, r2i) = noise.split()
        var isInitiator = false
        if case .initiator = role { isInitiator = true }
        let hash = noise.handshakeHash
        return SecureSession(
            peer: peer, isInitiator: isInitiator, cipher: RecordCipher(rawValue: chosenCipher)!,
            sendKey: isInitiator ? i2r : r2i, receiveKey: isInitiator ? r2i : i2r, handshakeHash: hash,
            localDatagramID: localDatagramID, remoteDatagramID: remoteDatagramID,
            datagramKeys: DatagramKeys(handshakeHash: hash, isInitiator: isInitiator))
    }

    private mutating func fail(_ error: SecureChannelError) -> [Action] {
        done = true
        return [.failed(error)]
    }

    /// Frames a handshake message: 2-byte big-endian length, then the message.
    static func frame(_ m: [UInt8]) -> [UInt8] { [UInt8(m.count >> 8), UInt8(m.count & 0xff)] + m }
}
