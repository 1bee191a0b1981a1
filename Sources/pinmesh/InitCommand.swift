import ArgumentParser
import EmbeddedIPFS
import Foundation
import Multiformats
import Node
import Sodium

/// `pinmesh init`: writes `service.json` (every default, a new cluster secret unless given)
/// and `identity.json` (a new Ed25519 identity, kept when it exists), as
/// `ipfs-cluster-service init` does.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a peer's service.json and identity.json.",
        discussion: """
            The IPFS side defaults to the embedded node; set ipfs_connector.ipfshttp.node_multiaddress \
            (and embedded: false) to use kubo. Every peer of a cluster needs the same secret: pass \
            --secret on the others, or copy service.json.
            """)

    @OptionGroup var config: ConfigOptions

    @Option(help: "The cluster secret (64 hex characters); default: $CLUSTER_SECRET, else a new random one.")
    var secret: String?

    @Option(help: "Peers to bootstrap from, comma-separated multiaddrs (…/p2p/12D3KooW…).")
    var peers: String?

    @Option(help: "The peer's name (default: $CLUSTER_PEERNAME, else the host name).")
    var peername: String?

    @Flag(help: "Pick free ports for the cluster, REST API, IPFS proxy, Pinning Service API, embedded IPFS (RPC API, gateway, and its swarm on 127.0.0.1) and metrics listeners.")
    var randomports = false

    @Flag(name: .shortAndLong, help: "Overwrite an existing service.json (identity.json is never overwritten).")
    var force = false

    func run() throws {
        let dir = config.path
        let servicePath = (dir as NSString).appendingPathComponent("service.json")
        if FileManager.default.fileExists(atPath: servicePath) && !force {
            throw ValidationError("\(servicePath) exists; pass --force to overwrite it (identity.json is kept either way)")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let env = ProcessInfo.processInfo.environment
        // ipfs-cluster-service init reads CLUSTER_SECRET and CLUSTER_PEERNAME too.
        let given = secret ?? env["PINMESH_CLUSTER_SECRET"] ?? env["CLUSTER_SECRET"]
        let secretHex = given ?? SodiumRandom.bytes(32).map { String(format: "%02x", $0) }.joined()
        let name = peername ?? env["PINMESH_CLUSTER_PEERNAME"] ?? env["CLUSTER_PEERNAME"] ?? ProcessInfo.processInfo.hostName
        var c = ServiceConfig.defaults(peername: name, secret: secretHex)
        if let peers {
            c.cluster.peerAddresses = peers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var swarm = RepoConfig.defaultSwarm
        var gateway = [RepoConfig.defaultGateway]
        if randomports {
            // A local cluster: the embedded nodes' swarm stays on loopback.
            swarm = ["/ip4/127.0.0.1/tcp/\(try Self.freePort())"]
            gateway = ["/ip4/127.0.0.1/tcp/\(try Self.freePort())"]
            let cluster = try Self.freePort()
            c.cluster.listenMultiaddress = ["/ip4/0.0.0.0/tcp/\(cluster)", "/ip4/0.0.0.0/udp/\(cluster)"]
            c.api.restapi.httpListenMultiaddress = ["/ip4/127.0.0.1/tcp/\(try Self.freePort())"]
            c.api.ipfsproxy.listenMultiaddress = ["/ip4/127.0.0.1/tcp/\(try Self.freePort())"]
            c.api.pinsvcapi.httpListenMultiaddress = ["/ip4/127.0.0.1/tcp/\(try Self.freePort())"]
            c.ipfsConnector.ipfshttp.nodeMultiaddress = "/ip4/127.0.0.1/tcp/\(try Self.freePort())"
            c.metrics.prometheusEndpoint = "/ip4/127.0.0.1/tcp/\(try Self.freePort())"
        }
        do {
            try c.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        let data = try c.json()
        let tmp = servicePath + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(tmp): check the directory's permissions")
        }
        guard rename(tmp, servicePath) == 0 else { throw ValidationError("cannot move \(tmp) to \(servicePath)") }
        let identityPath = config.identityPath
        let identity: IdentityFile
        if FileManager.default.fileExists(atPath: identityPath) {
            identity = try IdentityFile.load(identityPath)
            print("kept the existing identity in \(identityPath)")
        } else {
            identity = try IdentityFile(key: .generate())
            try identity.write(identityPath)
            print("wrote a new identity to \(identityPath)")
        }
        print("wrote \(servicePath)")
        if c.ipfsConnector.ipfshttp.embedded {
            // The embedded node's repository, with its swarm address (kubo's config file).
            let root = (dir as NSString).appendingPathComponent("ipfs")
            let existed = FileManager.default.fileExists(atPath: root + "/config")
            var repo = try IPFSRepo.initialize(at: root, api: c.ipfsConnector.ipfshttp.nodeMultiaddress, swarm: swarm)
            if existed && (randomports || force) {
                repo.Addresses.API = c.ipfsConnector.ipfshttp.nodeMultiaddress
                repo.Addresses.Swarm = swarm
                try repo.write(root + "/config")
            }
            if repo.Addresses.Gateway == nil || randomports || force {
                repo.Addresses.Gateway = RepoConfig.GatewayAddresses(gateway)
                try repo.write(root + "/config")
            }
            print("embedded IPFS node: \(root) (swarm \(swarm.joined(separator: ", ")))")
        }
        print("peer ID: \(identity.id)")
        if given == nil { print("cluster secret (give it to the other peers with --secret): \(secretHex)") }
    }

    /// A port free a moment ago for TCP and UDP (the cluster port uses both), chosen at random
    /// below the system's ephemeral range: a port the kernel hands out for port 0 (what this
    /// did before) is soon handed to some other program's socket too, and a daemon started a
    /// little later then found its port taken. Falls back to a port-0 port.
    ///
    /// Ports handed out are remembered for 10 minutes in a file in the temporary directory
    /// (shared by every `init` on the machine, under an flock) and not handed out again: the
    /// ports of a peer whose daemon has not started yet are free, and another `init` (or this
    /// one, for its next listener) would otherwise pick them too.
    static func freePort() throws -> Int {
        let ledger = (NSTemporaryDirectory() as NSString).appendingPathComponent("pinmesh-randomports")
        let fd = open(ledger, O_RDWR | O_CREAT, 0o600)
        if fd >= 0 { flock(fd, LOCK_EX) }
        defer { if fd >= 0 { flock(fd, LOCK_UN); close(fd) } }
        let now = Int(Date().timeIntervalSince1970)
        var recent: [(port: Int, at: Int)] = []
        if fd >= 0, let text = try? String(contentsOfFile: ledger, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 2, let port = Int(f[0]), let at = Int(f[1]), now - at < 600 { recent.append((port, at)) }
            }
        }
        let taken = Set(recent.map(\.port))
        let port = try pickPort(avoiding: taken)
        if fd >= 0 {
            recent.append((port, now))
            let text = recent.map { "\($0.port) \($0.at)\n" }.joined()
            ftruncate(fd, 0)
            _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        }
        return port
    }

    private static func pickPort(avoiding taken: Set<Int>) throws -> Int {
        var low = 32768
        if let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
           let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first, let n = Int(first) {
            low = n
        }
        if low > 11000 {
            for _ in 0..<64 {
                let port = Int.random(in: 10000..<low)
                if !taken.contains(port) && bindable(port, SOCK_STREAM) && bindable(port, SOCK_DGRAM) { return port }
            }
        }
        var port = 0
        guard bindable(0, SOCK_STREAM, bound: &port) else {
            throw ValidationError("cannot find a free port: \(String(cString: strerror(errno)))")
        }
        return port
    }

    private static func bindable(_ port: Int, _ type: __socket_type) -> Bool {
        var bound = 0
        return bindable(port, type, bound: &bound)
    }

    /// Whether 127.0.0.1:`port` can be bound now (the socket is closed again); `bound` is the
    /// port the kernel gave.
    private static func bindable(_ port: Int, _ type: __socket_type, bound: inout Int) -> Bool {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        bound = Int(UInt16(bigEndian: addr.sin_port))
        return ok
    }
}
