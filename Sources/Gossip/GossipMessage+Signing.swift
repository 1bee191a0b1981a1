import Crypto
import Multiformats
public import Sodium

extension GossipMessage {
    /// Prefix of the signed bytes, as in libp2p pubsub.
    static let signaturePrefix = Array("libp2p-pubsub:".utf8)

    /// The content-derived ID: SHA-256 over the message without signature and key, first 20 bytes.
    ///
    /// The same author, sequence number, topic and data always give the same ID, whoever relays it.
    public var id: MessageID { Self.id(unsigned: encoded(includingSignature: false)) }

    /// The ID from `encoded(includingSignature: false)`, for callers that also need those bytes.
    static func id(unsigned: [UInt8]) -> MessageID {
        MessageID(bytes: Array(SHA256.hash(data: unsigned).prefix(MessageID.byteCount)))
    }

    /// Signs as `identity` (strict sign); sets `signature` and clears `key` (Ed25519 IDs inline the key).
    public mutating func sign(with identity: Ed25519.PrivateKey) {
        key = nil
        signature = identity.signature(for: Self.signaturePrefix + encoded(includingSignature: false))
    }

    /// Whether the message is signed by its `from` peer (which must inline an Ed25519 key).
    public var hasValidSignature: Bool { hasValidSignature(unsigned: encoded(includingSignature: false)) }

    /// `hasValidSignature`, given `encoded(includingSignature: false)` already computed.
    func hasValidSignature(unsigned: [UInt8]) -> Bool {
        guard let from, seqno != nil, let signature, let raw = from.ed25519PublicKey,
            let key = try? Ed25519.PublicKey(bytes: raw)
        else { return false }
        if let explicit = self.key, explicit != from.publicKey.map({ $0.protobuf }) { return false }
        return key.isValidSignature(signature, for: Self.signaturePrefix + unsigned)
    }
}
