import ArgumentParser
import ClusterModel

/// `pinmeshctl version`: the cluster peer's version, asked of the API as ipfs-cluster-ctl
/// does (`pinmeshctl --version` prints this program's own).
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the version of the peer the API belongs to (--version prints pinmeshctl's).", usage: "pinmeshctl version [<options>]")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let c = try global.client()
        let version = try await api { try await c.version() }
        if global.enc == .json { try global.printJSON(["version": version]) } else { print(version) }
    }
}

/// `pinmeshctl commands`: every command, one full command line each (`pinmeshctl pin add`),
/// depth first in the order of the help, then `help`, as ipfs-cluster-ctl's hidden
/// `commands` prints them.
struct CommandsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commands", abstract: "List every command.", shouldDisplay: false)

    static func lines(_ commands: [any ParsableCommand.Type], under parent: String) -> [String] {
        commands.flatMap { command -> [String] in
            let line = parent + " " + (command.configuration.commandName ?? command._commandName)
            return [line] + lines(command.configuration.subcommands, under: line)
        }
    }

    func run() {
        let root = PinMeshCtl.configuration.commandName ?? "pinmeshctl"
        for line in Self.lines(PinMeshCtl.configuration.subcommands, under: root) + [root + " help"] { print(line) }
    }
}
