import ArgumentParser
import ClusterModel

@main
struct PinMeshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinmesh",
        abstract: "A gossip-first, leaderless IPFS pinning cluster peer.",
        discussion: """
            Runs a PinMesh peer beside an IPFS daemon (the embedded one by default) and keeps the \
            cluster's shared pinset pinned. Drive a running peer with `pinmeshctl`.
            """,
        version: PinMeshVersion.string,
        subcommands: [VersionCommand.self, InitCommand.self, DaemonCommand.self, KeyCommand.self, StateCommand.self, IPFSCommand.self]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the PinMesh version.")

    func run() {
        print(PinMeshVersion.string)
    }
}
