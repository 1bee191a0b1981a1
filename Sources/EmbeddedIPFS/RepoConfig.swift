import Foundation
public import Multiformats
import Sodium

/// The embedded node's `config` file, a subset of kubo's with kubo's key names:
/// `Identity.PeerID`, `Identity.PrivKey` (base64 libp2p protobuf, Ed25519),
/// `Addresses.API` (multiaddr), `Datastore.StorageMax` ("10GB", "512MiB", ...).
public struct RepoConfig: Codable, Sendable, Equatable {
    public struct IdentitySection: Codable, Sendable, Equatable {
        public var PeerID: String
        public var PrivKey: String
    }
    public struct AddressesSection: Codable, Sendable, Equatable {
        public var API: String
        /// Where the libp2p host listens (kubo's 4001 is never the default: see ``defaultSwarm``).
        public var Swarm: [String]?
        /// Addresses announced instead of the listen addresses (identify, the cluster's ping).
        public var Announce: [String]?
        /// Where the HTTP gateway listens (kubo's key: one multiaddr or a list; new repositories
        /// get ``RepoConfig/defaultGateway``; absent: no gateway, see ``RepoConfig/gatewayListen()``).
        public var Gateway: GatewayAddresses?
    }
    public struct DatastoreSection: Codable, Sendable, Equatable {
        public var StorageMax: String
    }
    /// kubo's `API` section: `HTTPHeaders` (its `Access-Control-Allow-Origin` lists the
    /// origins that may call the RPC API from a browser, see ``RequestOrigin``).
    public struct APISection: Codable, Sendable, Equatable {
        public var HTTPHeaders: [String: [String]]?
    }
    public var Identity: IdentitySection
    public var Addresses: AddressesSection
    public var Datastore: DatastoreSection
    public var API: APISection?
    /// Peers kept connected (kubo's `Peering.Peers`: `{"ID": …, "Addrs": […]}`).
    public var Peering: PeeringSection?
    /// Peers dialled at start (empty by default: the embedded node joins no public network
    /// unless told; kubo's public list is in Specs/libp2p.md).
    public var Bootstrap: [String]?
    /// kubo's `Swarm.ConnMgr` (`LowWater`, `HighWater`, `GracePeriod`).
    public var Swarm: SwarmSection?
    /// kubo's `Routing.Type` (`auto`, `dht`, `dhtclient`, `dhtserver`, `none`; see
    /// ``RepoConfig/routingPlan()``).
    public var Routing: RoutingSection?
    /// kubo's `Reprovider.Interval` (how often pinned roots are announced again).
    public var Reprovider: ReproviderSection?
    /// kubo's `Gateway` section: `ExposeRoutingAPI` only (see ``RepoConfig/exposesRoutingAPI``).
    public var Gateway: GatewaySection? = nil

    /// The origins `API.HTTPHeaders.Access-Control-Allow-Origin` allows (none by default).
    public var allowedOrigins: [String] { API?.HTTPHeaders?["Access-Control-Allow-Origin"] ?? [] }

    public static let defaultAPI = "/ip4/127.0.0.1/tcp/5091"
    /// kubo listens on 4001; the embedded node on 4091, so both can run on one host.
    public static let defaultSwarm = ["/ip4/0.0.0.0/tcp/4091"]
    public static let defaultStorageMax = "10GB"

    /// A new config with a fresh Ed25519 identity.
    public static func generate(api: String = defaultAPI, storageMax: String = defaultStorageMax, swarm: [String] = defaultSwarm) throws -> RepoConfig {
        let key = Ed25519.PrivateKey.generate()
        let id = try Multiformats.PeerID(ed25519PublicKey: key.publicKey.bytes)
        let raw = [0x08, 0x01, 0x12, 0x40] + key.seed.bytes + key.publicKey.bytes
        return RepoConfig(
            Identity: .init(PeerID: id.description, PrivKey: Data(raw).base64EncodedString()),
            Addresses: .init(API: api, Swarm: swarm, Announce: [], Gateway: .init([defaultGateway])), Datastore: .init(StorageMax: storageMax), API: nil,
            Peering: PeeringSection(Peers: []), Bootstrap: [], Swarm: SwarmSection(ConnMgr: .init(LowWater: 32, HighWater: 96, GracePeriod: "20s")),
            Routing: RoutingSection(Type: "auto"), Reprovider: ReproviderSection(Interval: "22h"),
            Gateway: GatewaySection(ExposeRoutingAPI: true))
    }

    public var peerID: Multiformats.PeerID {
        get throws { try Multiformats.PeerID(Identity.PeerID) }
    }

    /// `Datastore.StorageMax` in bytes, parsed as kubo does (decimal units kB/MB/GB/TB, binary
    /// KiB/MiB/GiB/TiB, a bare number is bytes).
    public var storageMaxBytes: UInt64 {
        get throws(ConfigError) { try Self.parseBytes(Datastore.StorageMax, key: "Datastore.StorageMax") }
    }

    public struct ConfigError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func parseBytes(_ text: String, key: String) throws(ConfigError) -> UInt64 {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isNumber || $0 == "." }
        let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let scale: Double? =
            switch unit {
            case "", "b": 1
            case "k", "kb": 1e3
            case "m", "mb": 1e6
            case "g", "gb": 1e9
            case "t", "tb": 1e12
            case "kib": 1024
            case "mib": 1_048_576
            case "gib": 1_073_741_824
            case "tib": 1_099_511_627_776
            default: nil
            }
        guard let scale, let n = Double(digits), n >= 0, n * scale < 1.8e19 else {
            throw ConfigError(description: "\(key): \(text.debugDescription) is not a size; write it as kubo does, e.g. \"10GB\" or \"512MiB\"")
        }
        return UInt64(n * scale)
    }

    public static func load(_ path: String) throws(ConfigError) -> RepoConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(description: "no config at \(path): create the repository with `pinmesh ipfs init`")
        }
        do {
            return try JSONDecoder().decode(RepoConfig.self, from: data)
        } catch {
            throw ConfigError(description: "\(path) is not a valid config: \(error); the file is left as it is")
        }
    }

    public func write(_ path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(self)
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError(description: "cannot write \(tmp): check the directory's permissions")
        }
        guard rename(tmp, path) == 0 else {
            throw ConfigError(description: "cannot move \(tmp) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
