import ArgumentParser
import ClusterModel

@main
struct PinMeshCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinmeshctl",
        abstract: "Control a PinMesh peer through its REST API (ipfs-cluster-ctl compatible).",
        version: PinMeshVersion.string,
        subcommands: [VersionCommand.self]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the PinMesh version.")

    func run() {
        print(PinMeshVersion.string)
    }
}
