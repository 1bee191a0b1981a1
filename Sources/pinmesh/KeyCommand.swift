import ArgumentParser
import Multiformats
import Node
import Sodium

/// `pinmesh key`: identity keys, for scripting and for checking an identity by hand.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Create or inspect peer identity keys.",
        subcommands: [Generate.self, PeerIDOf.self, Migrate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gen",
            abstract: "Generate an Ed25519 identity and print its peer ID and base64 private key seed.")

        @Option(help: "Write it as an identity file (ipfs-cluster's identity.json format, mode 0600) instead of printing the key.")
        var write: String?

        func run() throws {
            let key = Ed25519.PrivateKey.generate()
            let id = try PeerID(ed25519PublicKey: key.publicKey.bytes)
            print("peer_id: \(id)")
            if let write {
                do { try IdentityFile(key: key).write(write) } catch { throw ValidationError("\(error)") }
                print("identity: \(write)")
            } else {
                print("private_key_seed: \(Multibase.base64.encodeWithoutPrefix(key.seed.bytes))")
            }
        }
    }

    struct PeerIDOf: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "peer-id",
            abstract: "Print the peer ID forms of a peer ID given in any form (12D3KooW…, Qm…, or a libp2p-key CID).")

        @Argument(help: "A peer ID.")
        var peerID: String

        func run() throws {
            do throws(MultiformatsError) {
                let id = try PeerID(peerID)
                print("base58btc: \(id)")
                print("cid:       \(id.cid.string(base: .base36))")
                if let key = id.ed25519PublicKey {
                    print("ed25519:   \(Multibase.base16.encodeWithoutPrefix(key))")
                }
            } catch {
                throw ValidationError(error.message)
            }
        }
    }
}
