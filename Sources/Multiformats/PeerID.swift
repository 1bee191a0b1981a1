/// A libp2p peer ID: the multihash of a peer's protobuf-encoded public key.
///
/// Keys whose encoding is at most 42 bytes (Ed25519: 36) are inlined with the identity
/// multihash and print as `12D3KooW…`; longer keys (RSA) are sha2-256 hashed and print as `Qm…`.
/// The CIDv1 form uses the `libp2p-key` codec.
public struct PeerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Key encodings up to this length are inlined rather than hashed.
    public static let maxInlineKeyBytes = 42

    public let multihash: Multihash

    /// Wraps a multihash, checking that it can be a peer ID.
    public init(multihash: Multihash) throws(MultiformatsError) {
        switch multihash.code {
        case .identity:
            guard multihash.digest.count <= PeerID.maxInlineKeyBytes else {
                throw MFError(.invalidPeerID, "an inlined peer ID key must be at most \(PeerID.maxInlineKeyBytes) bytes, got \(multihash.digest.count)")
            }
            _ = try LibP2PPublicKey(protobuf: multihash.digest)
        case .sha2_256:
            break
        default:
            throw MFError(.invalidPeerID, "a peer ID is an identity or sha2-256 multihash, not \(multihash.code)")
        }
        self.multihash = multihash
    }

    /// The peer ID of an Ed25519 public key (32 bytes).
    public init(ed25519PublicKey key: [UInt8]) throws(MultiformatsError) {
        let proto = try LibP2PPublicKey(type: .ed25519, data: key).protobuf
        try self.init(multihash: Multihash.identity(proto))
    }

    /// Parses `12D3KooW…`/`Qm…` (bare base58btc multihash) or a multibase CIDv1 with codec libp2p-key.
    public init(_ text: String) throws(MultiformatsError) {
        guard !text.isEmpty else { throw MFError(.empty, "empty peer ID") }
        guard text.utf8.count <= CID.maxTextLength else {
            throw MFError(.tooLong, "peer ID text of \(text.utf8.count) bytes exceeds the limit of \(CID.maxTextLength)")
        }
        do throws(MultiformatsError) {
            if text.hasPrefix("1") || text.hasPrefix("Qm") {
                let bytes = try Multibase.base58btc.decodeWithoutPrefix(Substring(text))
                try self.init(multihash: Multihash(bytes: bytes))
            } else {
                let cid = try CID(text)
                guard cid.version == .v1, cid.codec == .libp2pKey else {
                    throw MFError(.invalidPeerID, "a CID peer ID must be CIDv1 with codec libp2p-key, got \(cid.codec)")
                }
                try self.init(multihash: cid.multihash)
            }
        } catch {
            throw MFError(error.code, "invalid peer ID \"\(CID.excerpt(text))\": \(error.message)")
        }
    }

    /// Parses the binary form (the multihash bytes), as a `/p2p` multiaddr component carries it.
    public init(bytes: [UInt8]) throws(MultiformatsError) {
        try self.init(multihash: Multihash(bytes: bytes))
    }

    /// The public key, when it is inlined in the ID.
    public var publicKey: LibP2PPublicKey? {
        guard multihash.code == .identity else { return nil }
        return try? LibP2PPublicKey(protobuf: multihash.digest)
    }

    /// The Ed25519 public key, when this ID inlines one.
    public var ed25519PublicKey: [UInt8]? {
        guard let key = publicKey, key.type == .ed25519 else { return nil }
        return key.data
    }

    /// The binary form.
    public var bytes: [UInt8] { multihash.bytes }

    /// The legacy text form: bare base58btc multihash.
    public var description: String { multihash.base58 }

    /// The CIDv1 form (codec libp2p-key).
    public var cid: CID { .v1(codec: .libp2pKey, multihash) }

    public static func < (a: PeerID, b: PeerID) -> Bool { a.multihash < b.multihash }
}

extension PeerID: Codable {
    public init(from decoder: any Decoder) throws {
        self = try PeerID(decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// libp2p's `PublicKey` protobuf: `{ required KeyType Type = 1; required bytes Data = 2; }`.
///
/// Only the deterministic encoding is accepted: field 1 then field 2, each once, minimal
/// varints, nothing else.
public struct LibP2PPublicKey: Hashable, Sendable {
    public enum KeyType: UInt64, Sendable {
        case rsa = 0
        case ed25519 = 1
        case secp256k1 = 2
        case ecdsa = 3
    }

    /// The longest key data accepted (large RSA keys fit).
    public static let maxDataBytes = 2048

    public let type: KeyType
    public let data: [UInt8]

    public init(type: KeyType, data: [UInt8]) throws(MultiformatsError) {
        if type == .ed25519 && data.count != 32 {
            throw MFError(.unsupportedKey, "an Ed25519 public key is 32 bytes, got \(data.count)")
        }
        guard data.count <= LibP2PPublicKey.maxDataBytes else {
            throw MFError(.tooLong, "public key data of \(data.count) bytes exceeds the limit of \(LibP2PPublicKey.maxDataBytes)")
        }
        self.type = type
        self.data = data
    }

    public init(protobuf bytes: [UInt8]) throws(MultiformatsError) {
        var r = ByteReader(bytes)
        guard try r.readVarint() == 0x08 else {
            throw MFError(.invalidPeerID, "public key protobuf must start with field 1 (Type)")
        }
        let rawType = try r.readVarint()
        guard let type = KeyType(rawValue: rawType) else {
            throw MFError(.unsupportedKey, "unknown libp2p key type \(rawType)")
        }
        guard try r.readVarint() == 0x12 else {
            throw MFError(.invalidPeerID, "public key protobuf must continue with field 2 (Data)")
        }
        let length = try r.readLength(limit: LibP2PPublicKey.maxDataBytes, what: "public key data")
        let data = try r.readBytes(length, what: "public key data")
        try r.expectEnd("public key protobuf")
        try self.init(type: type, data: data)
    }

    /// The deterministic protobuf encoding.
    public var protobuf: [UInt8] {
        var out: [UInt8] = [0x08]
        Varint.encode(type.rawValue, into: &out)
        out.append(0x12)
        Varint.encode(UInt64(data.count), into: &out)
        out.append(contentsOf: data)
        return out
    }
}
