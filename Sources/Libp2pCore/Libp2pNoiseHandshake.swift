public import Sodium
public import Multiformats
import SecureChannel
import CodedError

/// libp2p's `/noise` handshake: `Noise_XX_25519_ChaChaPoly_SHA256`, empty prologue, each
/// message behind a 2-byte big-endian length.
///
/// - Message 1 (initiator): `e`, empty payload. Message 2 (responder) and 3 (initiator) carry
///   the sender's ``NoiseHandshakePayload``.
/// - The remote payload's key must sign "noise-libp2p-static-key:" ‖ the remote Noise static
///   key; the remote peer ID is derived from that key and must equal `expectedPeer` when given.
/// - Bytes after the last handshake message are returned as `leftover` (transport frames).
public struct Libp2pNoiseHandshake: Sendable {
    public static let protocolID = "/noise"

    public enum Outcome: Sendable {
        case pending(send: [UInt8])
        /// The channel is secure; `send` still goes out first (message 3 for the initiator).
        case complete(send: [UInt8], remote: PeerID, remoteKey: LibP2PPublicKey, transport: NoiseTransportCipher, leftover: [UInt8])
        case failed(Libp2pProtocolError)
    }

    private var noise: NoiseHandshake
    private let initiator: Bool
    private let local: Libp2pNoiseIdentity
    private let expectedPeer: PeerID?
    private var buffer: [UInt8] = []
    private var remote: (PeerID, LibP2PPublicKey)?
    private var failed = false

    public init(initiator: Bool, local: Libp2pNoiseIdentity, ephemeral: X25519.PrivateKey, expectedPeer: PeerID? = nil) {
        noise = NoiseHandshake(
            protocolName: NoiseHandshake.xxProtocolName, initiator: initiator, prologue: [], psk: nil,
            staticKey: local.staticKey, ephemeral: ephemeral)
        self.initiator = initiator
        self.local = local
        self.expectedPeer = expectedPeer
    }

    /// The initiator's first message (framed); empty for the responder.
    public mutating func start() -> [UInt8] {
        guard initiator, noise.step == 0 else { return [] }
        return Libp2pNoiseHandshake.frame(try! noise.write([]))
    }

    /// Takes the peer's next bytes.
    public mutating func receive(_ bytes: [UInt8]) -> Outcome {
        guard !failed else { return .failed(Libp2pProtocolError(.protocolViolation, "Noise handshake already failed")) }
        buffer += bytes
        var send: [UInt8] = []
        while buffer.count >= 2 {
            let length = Int(buffer[0]) << 8 | Int(buffer[1])
            guard buffer.count >= 2 + length else { break }
            let message = Array(buffer[2..<(2 + length)])
            buffer.removeFirst(2 + length)
            switch step(message) {
            case .failure(let error):
                failed = true
                return .failed(error)
            case .success(let reply):
                send += reply
            }
            if noise.isComplete, let (peer, key) = remote {
                let (k1, k2) = noise.split()
                let transport = NoiseTransportCipher(send: initiator ? k1 : k2, receive: initiator ? k2 : k1)
                let rest = buffer
                buffer = []
                return .complete(send: send, remote: peer, remoteKey: key, transport: transport, leftover: rest)
            }
        }
        return .pending(send: send)
    }

    /// Reads one handshake message and writes this side's reply, if any (framed).
    private mutating func step(_ message: [UInt8]) -> Result<[UInt8], Libp2pProtocolError> {
        do {
            let payload = try noise.read(message)
            switch (noise.step, initiator) {
            case (1, false):
                return .success(Libp2pNoiseHandshake.frame(try noise.write(local.payload)))
            case (2, true):
                remote = try verify(payload)
                return .success(Libp2pNoiseHandshake.frame(try noise.write(local.payload)))
            case (3, false):
                remote = try verify(payload)
                return .success([])
            default:
                return .failure(Libp2pProtocolError(.protocolViolation, "unexpected Noise handshake message"))
            }
        } catch let error as SecureChannelError {
            let code: ErrorCode<Libp2pProtocolError> = error.code == .authenticationFailed ? .authenticationFailed : .malformed
            return .failure(Libp2pProtocolError(code, "Noise handshake: \(error.message)"))
        } catch let error as Libp2pProtocolError {
            return .failure(error)
        } catch {
            return .failure(Libp2pProtocolError(.malformed, "Noise handshake: \(error)"))
        }
    }

    private func verify(_ payloadBytes: [UInt8]) throws(Libp2pProtocolError) -> (PeerID, LibP2PPublicKey) {
        let payload = try NoiseHandshakePayload(decoding: payloadBytes)
        let key: LibP2PPublicKey
        do throws(MultiformatsError) {
            key = try LibP2PPublicKey(protobuf: payload.identityKey)
        } catch {
            throw Libp2pProtocolError(.badIdentity, "peer's Noise identity key: \(error.message)")
        }
        guard let remoteStatic = noise.remoteStatic else {
            throw Libp2pProtocolError(.protocolViolation, "Noise payload before the peer's static key")
        }
        try Libp2pKeyVerifier.verify(key, signature: payload.identitySignature, message: NoiseHandshakePayload.signaturePrefix + remoteStatic.bytes)
        let peer = try Libp2pKeyVerifier.peerID(of: key)
        if let expectedPeer, expectedPeer != peer {
            throw Libp2pProtocolError(.unexpectedPeer, "dialled \(expectedPeer) but the peer proved it is \(peer)")
        }
        return (peer, key)
    }

    /// `message` behind its 2-byte big-endian length.
    static func frame(_ message: [UInt8]) -> [UInt8] {
        [UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message
    }
}
