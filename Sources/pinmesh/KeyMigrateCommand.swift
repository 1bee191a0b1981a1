import ArgumentParser
import Foundation
import Node
import Sodium

extension KeyCommand {
    /// `pinmesh key migrate`: gives a peer whose identity is not Ed25519 (older ipfs-cluster
    /// peers have RSA keys) a new Ed25519 identity, and writes identity.json for a peer whose
    /// key is still in service.json (`cluster.private_key`, before ipfs-cluster 0.11). The old
    /// key is kept beside the new one; service.json is left as it is.
    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Replace an RSA (or other non-Ed25519) identity with a new Ed25519 one, keeping the old key beside it.",
            discussion: "The peer's ID changes: update trusted_peers and peer_addresses on the other peers that name the old ID.")

        @OptionGroup var config: ConfigOptions

        func run() throws {
            let path = config.identityPath
            let servicePath = (config.path as NSString).appendingPathComponent("service.json")
            let old: (id: String, key: String, from: String)
            if let data = FileManager.default.contents(atPath: path) {
                guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let id = json["id"] as? String, let key = json["private_key"] as? String
                else { throw ValidationError("\(path) is not an identity file ({\"id\": …, \"private_key\": base64}); it is left as it is") }
                old = (id, key, path)
            } else if let data = FileManager.default.contents(atPath: servicePath),
                let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let cluster = json["cluster"] as? [String: Any], let key = cluster["private_key"] as? String
            {
                old = (cluster["id"] as? String ?? "", key, servicePath + " (cluster.private_key)")
            } else {
                throw ValidationError("no identity at \(path) and no cluster.private_key in \(servicePath): `pinmesh init --config \(config.path)` makes one")
            }
            if IdentityFile.keyType(ofPrivateKey: old.key) == 1 {
                if old.from == path {
                    print("\(path) is already an Ed25519 identity (\(old.id)); nothing to do")
                    return
                }
                // Before ipfs-cluster 0.11: an Ed25519 key in service.json; the same identity, in its own file.
                let identity: IdentityFile
                do { identity = try IdentityFile.decode(id: old.id, privateKey: old.key, source: old.from) } catch let e as IdentityError {
                    throw ValidationError(e.description)
                }
                try write(identity, to: path)
                print("wrote \(path) from \(old.from); the peer ID stays \(identity.id)")
                return
            }
            let backup = path + ".old"
            if old.from == path {
                guard !FileManager.default.fileExists(atPath: backup) else {
                    throw ValidationError("\(backup) exists already: move it away first (it may hold an earlier identity)")
                }
                do { try FileManager.default.moveItem(atPath: path, toPath: backup) } catch {
                    throw ValidationError("cannot move \(path) to \(backup): check the directory's permissions")
                }
            }
            let identity = try IdentityFile(key: .generate())
            try write(identity, to: path)
            print("old peer ID: \(old.id.isEmpty ? "(not given)" : old.id) (key kept in \(old.from == path ? backup : old.from))")
            print("new peer ID: \(identity.id) (Ed25519, in \(path))")
            if let text = try? String(contentsOfFile: servicePath, encoding: .utf8), !old.id.isEmpty, text.contains(old.id) {
                print("service.json names the old peer ID: replace it there, and on the other peers, with the new one")
            } else {
                print("update trusted_peers and peer_addresses on the other peers that name the old peer ID")
            }
        }

        private func write(_ identity: IdentityFile, to path: String) throws {
            do { try identity.write(path) } catch let e as IdentityError { throw ValidationError(e.description) }
        }
    }
}
