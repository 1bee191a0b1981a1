import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover", abstract: "Retry failed pins and unpins: one CID, or every one in error.",
        discussion: """
            With --wait, waits until no recovered operation is queued or running any more, then prints \
            each CID's status. Exit codes: 0 done, 1 --wait saw an error, 2 the API refused, 62 --wait \
            timed out, 125 --wait interrupted (the operations go on), 64 bad usage.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A CID (default: everything in error).") var cid: String?
    @Flag(help: "Only on the peer the API belongs to.") var local = false
    @Flag(name: [.customShort("w"), .long], help: "Wait until the recovered pins and unpins are done (pinned, unpinned, or failed again).")
    var wait = false
    @Option(name: [.customLong("wait-timeout"), .customLong("wt")], help: "Give up waiting after this long (Go duration; 0: never); exit code 62.")
    var waitTimeout: String = "0s"

    func run() async throws {
        let c = try global.client()
        let q: [(String, String)] = local ? [("local", "true")] : []
        guard let limit = GoDuration.parse(waitTimeout) else { throw ValidationError("--wait-timeout \(waitTimeout): write a duration like 30s") }
        let show: (GlobalPinInfo) throws -> Void = { g in
            if global.enc == .json { try global.printJSON(g) } else { print(Text.status(g)) }
        }
        var recovered: [GlobalPinInfo] = []
        if let cid {
            recovered.append(try await api { try await c.decode(GlobalPinInfo.self, .POST, "/pins/\(PinCommand.cidArgument(cid))/recover", query: q) })
        } else {
            try await api {
                try await c.each(GlobalPinInfo.self, .POST, "/pins/recover", query: q) { g in
                    if wait { recovered.append(g) } else { try show(g) }
                }
            }
        }
        guard wait else { return try recovered.forEach(show) }
        guard !recovered.isEmpty else { return }
        let what = recovered.count == 1 ? "\(recovered[0].cid)'s recovered operations are" : "the \(recovered.count) recovered CIDs' operations are"
        let interrupt = InterruptWatch()  // before saying so: a Ctrl-C right after the line is caught
        defer { interrupt.stop() }
        FileHandle.standardError.write(Data("waiting until \(what) done (Ctrl-C stops waiting; they go on)…\n".utf8))
        let deadline = ContinuousClock.now + (limit == .zero ? .seconds(365 * 86400) : limit)
        var failed = false
        for var g in recovered {
            while Self.inFlight(g) {
                guard ContinuousClock.now < deadline else {
                    try show(g)
                    throw APIFailure(description: "\(g.cid) still has operations queued or running after \(waitTimeout); they go on", exitCode: 62)
                }
                if interrupt.fired {
                    try show(g)
                    throw APIFailure(description: "stopped waiting; the recovered operations go on (`pinmeshctl status \(g.cid)` shows them)", exitCode: 125)
                }
                try await Task.sleep(for: .milliseconds(250))
                g = try await api { try await c.decode(GlobalPinInfo.self, .GET, "/pins/\(g.cid)", query: q) }
            }
            try show(g)
            failed = failed || g.peerMap.values.contains { $0.status.isError }
        }
        if failed { throw APIFailure(description: "recovering failed again on some peers (see above); `pinmeshctl status --filter error` lists them", exitCode: 1) }
    }

    /// Whether a peer still has a pin or unpin of the CID queued or running.
    static func inFlight(_ g: GlobalPinInfo) -> Bool {
        g.peerMap.values.contains { [.pinQueued, .pinning, .unpinQueued, .unpinning].contains($0.status) }
    }
}
