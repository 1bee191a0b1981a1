public import Multiformats
import Sodium
import Crypto
import _CryptoExtras

/// Verifies a libp2p identity key's signature and derives its peer ID.
///
/// - Ed25519: libsodium. ECDSA (PKIX DER key, DER signature over SHA-256 of the message, as
///   go-libp2p signs on every curve): P-256, P-384, P-521 through swift-crypto. RSA (PKIX DER
///   key of at least 2048 bits, PKCS#1 v1.5 with SHA-256): swift-crypto's `_CryptoExtras`.
/// - secp256k1 is refused with `unsupportedKey`: swift-crypto has no secp256k1.
public enum Libp2pKeyVerifier {
    /// Checks that `signature` by `key` covers `message`; throws why not.
    public static func verify(_ key: LibP2PPublicKey, signature: [UInt8], message: [UInt8]) throws(Libp2pProtocolError) {
        let valid: Bool
        switch key.type {
        case .ed25519:
            guard let pk = try? Ed25519.PublicKey(bytes: key.data) else {
                throw Libp2pProtocolError(.badIdentity, "peer's Ed25519 key is not 32 bytes")
            }
            valid = pk.isValidSignature(signature, for: message)
        case .ecdsa:
            valid = try verifyECDSA(key.data, signature, message)
        case .rsa:
            valid = try verifyRSA(key.data, signature, message)
        case .secp256k1:
            throw Libp2pProtocolError(
                .unsupportedKey, "peer's identity is a secp256k1 key, which PinMesh cannot verify (swift-crypto has no secp256k1); use a peer with an Ed25519, ECDSA or RSA identity")
        }
        guard valid else { throw Libp2pProtocolError(.badIdentity, "peer's identity signature does not verify against its \(key.type) key") }
    }

    /// The peer ID of `key`: the identity multihash of its protobuf up to 42 bytes, else sha2-256.
    public static func peerID(of key: LibP2PPublicKey) throws(Libp2pProtocolError) -> PeerID {
        let proto = key.protobuf
        do throws(MultiformatsError) {
            if proto.count <= PeerID.maxInlineKeyBytes { return try PeerID(multihash: Multihash.identity(proto)) }
            return try PeerID(multihash: Multihash.sha256(proto))
        } catch {
            throw Libp2pProtocolError(.badIdentity, "peer's key gives no peer ID: \(error.message)")
        }
    }

    private static func verifyECDSA(_ der: [UInt8], _ signature: [UInt8], _ message: [UInt8]) throws(Libp2pProtocolError) -> Bool {
        let digest = SHA256.hash(data: message)
        if let pk = try? P256.Signing.PublicKey(derRepresentation: der) {
            guard let sig = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return pk.isValidSignature(sig, for: digest)
        }
        if let pk = try? P384.Signing.PublicKey(derRepresentation: der) {
            guard let sig = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return pk.isValidSignature(sig, for: digest)
        }
        if let pk = try? P521.Signing.PublicKey(derRepresentation: der) {
            guard let sig = try? P521.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return pk.isValidSignature(sig, for: digest)
        }
        throw Libp2pProtocolError(.unsupportedKey, "peer's ECDSA key is not a P-256, P-384 or P-521 key in PKIX DER form")
    }

    private static func verifyRSA(_ der: [UInt8], _ signature: [UInt8], _ message: [UInt8]) throws(Libp2pProtocolError) -> Bool {
        guard let pk = try? _RSA.Signing.PublicKey(derRepresentation: der) else {
            throw Libp2pProtocolError(.unsupportedKey, "peer's RSA key is not a PKIX DER key of at least 2048 bits")
        }
        let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
        return pk.isValidSignature(sig, for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
    }
}
