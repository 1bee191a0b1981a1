import ArgumentParser
import ClusterModel

@main
struct PinMeshCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinmeshctl",
        abstract: "Control a PinMesh peer through its REST API (ipfs-cluster-ctl compatible).",
        version: PinMeshVersion.string,
        subcommands: [AddCommand.self, VersionCommand.self]
    )

    /// Accepts kubo's `--raw-leaves` with no value (meaning true) as well as `--raw-leaves=false`.
    static func main() async {
        let arguments = CommandLine.arguments.dropFirst().map { $0 == "--raw-leaves" ? "--raw-leaves=true" : $0 }
        do {
            var command = try parseAsRoot(Array(arguments))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the PinMesh version.")

    func run() {
        print(PinMeshVersion.string)
    }
}
