import ArgumentParser
import EmbeddedIPFS
import Foundation
import Hummingbird
import Logging
import Multiformats

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

    func run() async throws {
        try IPFSRepo.initialize(at: repo.path)
        let max = try storageMax.map { try RepoConfig.parseBytes($0, key: "--storage-max") }
        let r = try IPFSRepo(root: repo.path, storageMax: max)
        let address = api ?? r.config.Addresses.API
        guard let ma = try? Multiaddr(address) else { throw ValidationError("\(address) is not a multiaddr; write /ip4/127.0.0.1/tcp/5091") }
        var host: String?
        var port: Int?
        for c in ma.components {
            switch c {
            case .ip4(let a): host = a.description
            case .ip6(let a): host = a.description
            case .tcp(let p): port = Int(p)
            default: break
            }
        }
        guard let host, let port else { throw ValidationError("\(address) needs an ip4 or ip6 host and a tcp port") }
        var logger = Logger(label: "pinmesh.ipfs")
        logger.logLevel = .info
        // No libp2p swarm: `id` lists no swarm addresses.
        let server = KuboRPCServer(repo: r, logger: logger)
        let app = server.application(host: host, port: port) { bound in
            // Scripts and tests wait for this line to learn the port.
            let line = "RPC API server listening on /ip4/\(host)/tcp/\(bound)\npeer identity: \(r.peerID)\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        try await app.runService()
    }
}
