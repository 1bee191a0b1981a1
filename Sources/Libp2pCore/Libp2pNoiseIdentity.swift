public import Sodium
public import Multiformats

/// This host's side of libp2p Noise: the Ed25519 identity, the Noise static key, and the
/// handshake payload signing the static key (computed once).
public struct Libp2pNoiseIdentity: Sendable {
    public let identity: Ed25519.PrivateKey
    public let staticKey: X25519.PrivateKey
    public let peerID: PeerID
    /// The encoded ``NoiseHandshakePayload`` this host sends.
    public let payload: [UInt8]

    public init(identity: Ed25519.PrivateKey, staticKey: X25519.PrivateKey) {
        self.identity = identity
        self.staticKey = staticKey
        let key = try! LibP2PPublicKey(type: .ed25519, data: identity.publicKey.bytes)
        peerID = try! PeerID(ed25519PublicKey: identity.publicKey.bytes)
        let signature = identity.signature(for: NoiseHandshakePayload.signaturePrefix + staticKey.publicKey.bytes)
        payload = NoiseHandshakePayload(identityKey: key.protobuf, identitySignature: signature).encoded
    }
}
