import Foundation
public import Multiformats
public import Sodium

/// `identity.json`: the peer's Ed25519 key, in ipfs-cluster's format so its identity files
/// work as they are: `{"id": "<peer ID>", "private_key": "<base64 of the libp2p protobuf
/// private key>"}` (type 1 = Ed25519, data = seed ‖ public key). Written with mode 0600;
/// never logged.
public struct IdentityFile: Sendable {
    public let id: PeerID
    public let key: Ed25519.PrivateKey

    public init(key: Ed25519.PrivateKey) throws {
        self.key = key
        id = try PeerID(ed25519PublicKey: key.publicKey.bytes)
    }

    struct JSON: Codable {
        var id: String
        var private_key: String
    }

    /// Reads `path`; the error names the file and what is wrong with it.
    public static func load(_ path: String) throws -> IdentityFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IdentityError("no identity file at \(path): create one with 'pinmesh init', or point --config at the directory that holds it")
        }
        guard let json = try? JSONDecoder().decode(JSON.self, from: data) else {
            throw IdentityError("\(path) is not an identity file ({\"id\": …, \"private_key\": base64}); the file is left as it is")
        }
        return try decode(id: json.id, privateKey: json.private_key, source: path)
    }

    /// The key types of libp2p's key protobuf, by their number, for messages.
    static let keyTypeNames = [0: "RSA", 1: "Ed25519", 2: "secp256k1", 3: "ECDSA"]

    /// The libp2p key type of a base64 protobuf private key (0 RSA, 1 Ed25519, 2 secp256k1,
    /// 3 ECDSA), or nil when it is not one.
    public static func keyType(ofPrivateKey base64: String) -> Int? {
        guard let raw = Data(base64Encoded: base64).map([UInt8].init), raw.count >= 2, raw[0] == 0x08, raw[1] <= 3 else { return nil }
        return Int(raw[1])
    }

    /// An identity from its two fields (identity.json's, or the `cluster.id` and
    /// `cluster.private_key` of an older ipfs-cluster `service.json`); `source` names where they
    /// came from in errors. A key of another type than Ed25519 is refused with the command that
    /// replaces it.
    public static func decode(id: String, privateKey: String, source: String) throws -> IdentityFile {
        guard let raw = Data(base64Encoded: privateKey).map([UInt8].init) else {
            throw IdentityError("\(source): private_key is not base64; the file is left as it is")
        }
        if let type = keyType(ofPrivateKey: privateKey), type != 1 {
            throw IdentityError(
                "\(source) holds an \(keyTypeNames[type]!) key (peer ID \(id)), as older ipfs-cluster peers made; PinMesh peers use Ed25519 keys. Run `pinmesh key migrate --config <the peer's directory>` to give this peer a new Ed25519 identity (the old key is kept beside it); its peer ID changes, so update trusted_peers and peer_addresses that name \(id)")
        }
        guard raw.count == 68, raw[0...3] == [0x08, 0x01, 0x12, 0x40] else {
            throw IdentityError("\(source): private_key is not a libp2p Ed25519 key; the file is damaged")
        }
        let identity = try IdentityFile(key: try Ed25519.PrivateKey(seed: Array(raw[4..<36])))
        guard Array(raw[36..<68]) == identity.key.publicKey.bytes else {
            throw IdentityError("\(source): the private key's public half does not match its seed; the file is damaged")
        }
        guard id.isEmpty || id == identity.id.description else {
            throw IdentityError("\(source): id \(id) is not the peer ID of its private key (\(identity.id))")
        }
        return identity
    }

    /// Writes the file atomically with mode 0600; refuses to overwrite an existing one.
    public func write(_ path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw IdentityError("\(path) exists already; remove it first if you mean to replace this peer's identity")
        }
        let raw = [0x08, 0x01, 0x12, 0x40] + key.seed.bytes + key.publicKey.bytes
        let data = try JSONEncoder().encode(JSON(id: id.description, private_key: Data(raw).base64EncodedString()))
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw IdentityError("cannot write \(tmp): check the directory exists and is writable")
        }
        try FileManager.default.moveItem(atPath: tmp, toPath: path)
    }
}

public struct IdentityError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}
