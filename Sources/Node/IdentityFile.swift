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
        guard let json = try? JSONDecoder().decode(JSON.self, from: data),
            let raw = Data(base64Encoded: json.private_key).map([UInt8].init)
        else { throw IdentityError("\(path) is not an identity file ({\"id\": …, \"private_key\": base64}); the file is left as it is") }
        guard raw.count == 68, raw[0...3] == [0x08, 0x01, 0x12, 0x40] else {
            throw IdentityError("\(path): private_key is not a libp2p Ed25519 key (only Ed25519 identities are supported)")
        }
        let identity = try IdentityFile(key: try Ed25519.PrivateKey(seed: Array(raw[4..<36])))
        guard Array(raw[36..<68]) == identity.key.publicKey.bytes else {
            throw IdentityError("\(path): the private key's public half does not match its seed; the file is damaged")
        }
        guard json.id == identity.id.description else {
            throw IdentityError("\(path): id \(json.id) is not the peer ID of its private key (\(identity.id))")
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
