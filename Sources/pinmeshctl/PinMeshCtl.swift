import ArgumentParser
import ClusterModel
import Foundation

@main
struct PinMeshCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinmeshctl",
        abstract: "Control a PinMesh peer through its REST API (ipfs-cluster-ctl compatible).",
        version: PinMeshVersion.string,
        subcommands: [
            IDCommand.self, PeersCommand.self, AddCommand.self, PinCommand.self, StatusCommand.self, RecoverCommand.self,
            HealthCommand.self, IPFSCommand.self, TokenCommand.self, VersionCommand.self, CommandsCommand.self,
        ]
    )

    /// Accepts kubo's `--raw-leaves` with no value (meaning true) as well as `--raw-leaves=false`.
    /// Global flags written before the command (as ipfs-cluster-ctl users do) move after it.
    static func main() async {
        var arguments = CommandLine.arguments.dropFirst().map { $0 == "--raw-leaves" ? "--raw-leaves=true" : $0 }
        var leading: [String] = []
        while let first = arguments.first, first.hasPrefix("-") {
            let name = String(first.split(separator: "=", maxSplits: 1)[0])
            if GlobalOptions.flags.contains(name) || (GlobalOptions.names.contains(name) && first.contains("=")) {
                leading.append(arguments.removeFirst())
            } else if GlobalOptions.names.contains(name), arguments.count >= 2 {
                leading += arguments.prefix(2)
                arguments.removeFirst(2)
            } else {
                break
            }
        }
        arguments = HealthCommand.Graph.fileFlag(arguments) + leading
        do {
            var command = try parseAsRoot(Array(arguments))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let e as APIFailure {
            // The API refused or no host answered: exit code 2, as the commands document.
            FileHandle.standardError.write(Data("Error: \(e.description)\n".utf8))
            exit(withError: ExitCode(e.exitCode))
        } catch {
            exit(withError: error)
        }
    }
}
