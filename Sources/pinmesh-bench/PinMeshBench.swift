import ArgumentParser
import ClusterModel

@main
struct PinMeshBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinmesh-bench",
        abstract: "Benchmark PinMesh scenarios; every figure is paired with a baseline measured in the same run.",
        version: PinMeshVersion.string,
        subcommands: [VersionCommand.self, IngestBench.self, PrimitivesBench.self, TransportBench.self, GossipBench.self, PubSubNetBench.self, PubSubPeer.self, PinsetBench.self, PinsetPeer.self, IPFSBench.self, IPFSNodeProcess.self, ClusterBench.self, AddBench.self, LoadBench.self, BitswapBench.self, GatewayBench.self, PSABench.self, DHTBench.self]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the PinMesh version.")

    func run() {
        print(PinMeshVersion.string)
    }
}
