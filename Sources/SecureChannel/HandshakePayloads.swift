import Multiformats
import Sodium

/// The record ciphers a connection can use after the handshake.
public enum RecordCipher: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Preferred where the CPU has AES-NI: the fastest here (see `pinmesh-bench primitives`).
    case aes256GCM = 1
    case chacha20Poly1305 = 2

    var algorithm: AEAD.Algorithm { self == .aes256GCM ? .aes256GCM : .chacha20Poly1305 }

    /// This machine's ciphers, most preferred first.
    public static var local: [RecordCipher] {
        AEAD.isAES256GCMAvailable ? [.aes256GCM, .chacha20Poly1305] : [.chacha20Poly1305]
    }

    static func mask(_ ciphers: [RecordCipher]) -> UInt8 { ciphers.reduce(0) { $0 | 1 << ($1.rawValue - 1) } }

    public var description: String { algorithm.rawValue }
}

/// The payloads carried (encrypted) in the three Noise messages.
enum HandshakePayloads {
    static let version: UInt8 = 1
    static let signaturePrefix = Array("pinmesh-noise-static-key:".utf8)

    /// Message 1: version, the initiator's record ciphers (bitmask).
    static func hello(ciphers: [RecordCipher]) -> [UInt8] { [version, RecordCipher.mask(ciphers)] }

    static func readHello(_ p: [UInt8]) throws(SecureChannelError) -> UInt8 {
        guard p.count == 2 else { throw SecureChannelError(.malformed, "hello payload must be 2 bytes, got \(p.count)") }
        guard p[0] == version else {
            throw SecureChannelError(.incompatible, "peer speaks PinMesh handshake version \(p[0]), this peer speaks \(version)")
        }
        return p[1]
    }

    /// Messages 2 and 3: version, cipher (chosen by the responder; echoed by the initiator),
    /// the datagram receive id, the Ed25519 identity key and its signature over the Noise static key.
    struct Identity: Equatable {
        var cipher: UInt8
        var datagramID: [UInt8]
        var ed25519: [UInt8]
        var signature: [UInt8]

        static let size = 1 + 1 + 8 + 32 + 64

        var encoded: [UInt8] { [HandshakePayloads.version, cipher] + datagramID + ed25519 + signature }

        /// `signature`: the identity's signature over ``signaturePrefix`` ‖ its Noise static key.
        init(cipher: UInt8, datagramID: [UInt8], ed25519: [UInt8], signature: [UInt8]) {
            self.cipher = cipher
            self.datagramID = datagramID
            self.ed25519 = ed25519
            self.signature = signature
        }

        init(decoding p: [UInt8]) throws(SecureChannelError) {
            guard p.count == Identity.size else {
                throw SecureChannelError(.badIdentity, "identity payload must be \(Identity.size) bytes, got \(p.count)")
            }
            guard p[0] == HandshakePayloads.version else {
                throw SecureChannelError(.incompatible, "peer speaks PinMesh handshake version \(p[0])")
            }
            cipher = p[1]
            datagramID = Array(p[2..<10])
            ed25519 = Array(p[10..<42])
            signature = Array(p[42..<106])
        }

        /// The peer ID, once the signature over `noiseStatic` is checked (or found in
        /// `verified`, the identities whose exact signature was checked before).
        func verifiedPeer(noiseStatic: X25519.PublicKey, verified: (any VerifiedIdentities)? = nil) throws(SecureChannelError) -> PeerID {
            let binding = ed25519 + noiseStatic.bytes + signature
            if verified?.contains(binding) != true {
                guard let key = try? Ed25519.PublicKey(bytes: ed25519),
                      key.isValidSignature(signature, for: HandshakePayloads.signaturePrefix + noiseStatic.bytes) else {
                    throw SecureChannelError(.badIdentity, "peer's signature over its Noise static key does not verify")
                }
                verified?.insert(binding)
            }
            guard let id = try? PeerID(ed25519PublicKey: ed25519) else {
                throw SecureChannelError(.badIdentity, "peer's identity key is not an Ed25519 key")
            }
            return id
        }
    }
}

/// Identity bindings (Ed25519 key ‖ Noise static key ‖ signature) whose signature was checked:
/// a peer that reconnects presents the same bytes (Ed25519 signatures are deterministic), and
/// its handshake then skips the signature check (about 0.13 ms here on each side's critical
/// path). Only bindings that verified are inserted; any other byte string misses.
public protocol VerifiedIdentities: Sendable {
    func contains(_ binding: [UInt8]) -> Bool
    func insert(_ binding: [UInt8])
}
