import ArgumentParser
import EmbeddedIPFS
import Foundation
import Gateway
import Hummingbird
import Logging
import Multiformats
import NIOPosix
import Node
import Transport

/// `pinmesh ipfs init|daemon`: the embedded IPFS node on its own, for users who want an IPFS
/// daemon without kubo and for tests.
struct IPFSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipfs", abstract: "Run PinMesh's embedded IPFS node (kubo's RPC API) on its own.",
        subcommands: [IPFSInit.self, IPFSDaemon.self])
}

struct RepoOption: ParsableArguments {
    @Option(name: .long, help: "The repository directory (default: $PINMESH_PATH/ipfs, else ~/.pinmesh/ipfs).")
    var repo: String?

    var path: String {
        if let repo { return repo }
        if let base = ProcessInfo.processInfo.environment["PINMESH_PATH"] { return base + "/ipfs" }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.pinmesh/ipfs"
    }
}

struct IPFSInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create the embedded node's repository (left as it is when it exists).")

    @OptionGroup var repo: RepoOption
    @Option(help: "The RPC API's address.") var api = RepoConfig.defaultAPI
    @Option(name: .customLong("storage-max"), help: "Datastore.StorageMax, as kubo writes it (10GB, 512MiB).")
    var storageMax = RepoConfig.defaultStorageMax

    func run() throws {
        let existed = FileManager.default.fileExists(atPath: repo.path + "/config")
        let config = try IPFSRepo.initialize(at: repo.path, api: api, storageMax: storageMax)
        print(existed ? "repository exists at \(repo.path)" : "initialized the embedded IPFS repository at \(repo.path)")
        print("peer identity: \(config.Identity.PeerID)")
    }
}

struct IPFSDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon", abstract: "Serve the embedded IPFS node's RPC API (creates the repository when missing).")

    @OptionGroup var repo: RepoOption
    @Option(help: "Listen on this multiaddr instead of the config's Addresses.API (port 0: any free port).")
    var api: String?
    @Option(name: .customLong("storage-max"), help: "Override Datastore.StorageMax (10GB, 512MiB).")
    var storageMax: String?
    @Option(help: "Listen for IPFS peers on these multiaddrs (comma-separated) instead of the config's Addresses.Swarm.")
    var swarm: String?
    @Flag(help: "Run without the libp2p host: no connections to other IPFS nodes.")
    var offline = false
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"
    @Option(help: "Also serve the HTTP gateway on this multiaddr (port 0: any free port); with Gateway.ExposeRoutingAPI true in the config, /routing/v1 too.")
    var gateway: String?

    func run() async throws {
        try IPFSRepo.initialize(at: repo.path)
        let max = try storageMax.map { try RepoConfig.parseBytes($0, key: "--storage-max") }
        let r = try IPFSRepo(root: repo.path, storageMax: max)
        let address = api ?? r.config.Addresses.API
        guard let ma = try? Multiaddr(address) else { throw ValidationError("\(address) is not a multiaddr; write /ip4/127.0.0.1/tcp/5091") }
        guard let (host, port) = SecureTransport.hostAndPort(ma) else { throw ValidationError("\(address) needs an ip4 or ip6 host and a tcp port") }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level \(logLevel): use trace, debug, info, notice, warning, error or critical")
        }
        var logger = Logger(label: "pinmesh.ipfs")
        logger.logLevel = level
        var node: EmbeddedNode?
        if !offline {
            let listen = try swarm.map { list in
                try list.split(separator: ",").map { a in
                    do { return try Multiaddr(String(a).trimmingCharacters(in: .whitespaces)) } catch {
                        throw ValidationError("--swarm: \(a) is not a multiaddr; write /ip4/0.0.0.0/tcp/4091")
                    }
                }
            }
            do {
                node = try EmbeddedNode(repo: r, group: MultiThreadedEventLoopGroup.singleton, listen: listen, logger: logger)
                try await node?.start()
            } catch {
                throw ValidationError("the libp2p host cannot start (\(repo.path)/config, Addresses.Swarm): \(error)")
            }
            // Missing blocks come from the IPFS peers this node is connected to.
            if let node { r.setFetcher(node.fetcher) }
        }
        let started = node
        let gatewayTask = try gateway.map { text in
            try Self.serveGateway(text, repo: r, node: started, logger: logger)
        }
        defer { gatewayTask?.cancel() }
        let server = KuboRPCServer(repo: r, swarm: started, logger: logger)
        let app = server.application(host: host, port: port) { bound in
            // Scripts and tests wait for this line to learn the port.
            var line = "RPC API server listening on /ip4/\(host)/tcp/\(bound)\npeer identity: \(r.peerID)\n"
            for a in started?.addresses ?? [] { line += "swarm listening on \(a)\n" }
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        try await app.runService()
        await node?.stop()
    }

    /// The gateway on `text` (`--gateway`), running until the task is cancelled; prints kubo's
    /// `Gateway server listening on <multiaddr>` line once bound.
    static func serveGateway(_ text: String, repo: IPFSRepo, node: EmbeddedNode?, logger: Logger) throws -> Task<Void, Never> {
        guard let ma = try? Multiaddr(text) else { throw ValidationError("--gateway \(text) is not a multiaddr; write /ip4/127.0.0.1/tcp/8091") }
        guard let (host, port) = SecureTransport.hostAndPort(ma) else { throw ValidationError("--gateway \(text) needs an ip4 or ip6 host and a tcp port") }
        let server = GatewayServer(repo: repo, routing: repo.config.exposesRoutingAPI ? node : nil, logger: logger)
        let app = server.application(host: host, port: port) { bound in
            FileHandle.standardOutput.write(Data("Gateway server listening on /\(host.contains(":") ? "ip6" : "ip4")/\(host)/tcp/\(bound)\n".utf8))
        }
        return Task {
            do { try await app.runService() } catch { logger.error("the gateway stopped", metadata: ["error": "\(error)"]) }
        }
    }
}
