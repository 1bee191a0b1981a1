import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation
import Multiformats
import Synchronization

/// Options every API command takes (ipfs-cluster-ctl's global flags; they may come before
/// the command, as ipfs-cluster-ctl users write them).
struct GlobalOptions: ParsableArguments {
    @Option(name: [.long, .customShort("l")], help: "API address(es): multiaddr or URL; a comma list fails over. Default: $PINMESH_API, else /ip4/127.0.0.1/tcp/9094.")
    var host: String?

    @Option(
        name: .customLong("basic-auth"),
        help: "USER[:PASSWORD] for the API's basic auth (default: $CLUSTER_CREDENTIALS); without a password it is asked for on a terminal. Implies --https for a multiaddr --host unless --force-http.")
    var basicAuth: String?

    @Option(help: "A token from `pinmeshctl token new`, sent instead of basic auth. Default: $PINMESH_TOKEN.")
    var token: String?

    @Flag(name: [.long, .customShort("s")], help: "Use HTTPS with a multiaddr --host.")
    var https = false

    @Flag(name: [.customLong("force-http"), .customShort("f")], help: "Use HTTP with basic auth (which otherwise implies --https).")
    var forceHTTP = false

    @Flag(name: .customLong("no-check-certificate"), help: "Do not verify the API's TLS certificate (a self-signed one).")
    var noCheckCertificate = false

    @Flag(name: [.long, .customShort("d")], help: "Print every request and the status of its answer on stderr.")
    var debug = false

    @Option(name: [.customLong("enc"), .customLong("encoding")], help: "Output: text or json.")
    var enc: Encoding = .text

    @Option(name: [.long, .customShort("t")], help: "Seconds before a request is abandoned; 0 (the default, as ipfs-cluster-ctl): never. A host that does not accept the connection within 2 s is reported at once.")
    var timeout: Int = 0

    enum Encoding: String, ExpressibleByArgument { case text, json }

    /// Global options that take a value, and flags, by every name (for moving those written
    /// before the command after it).
    static let names: Set<String> = ["--host", "-l", "--basic-auth", "--token", "--enc", "--encoding", "--timeout", "-t"]
    static let flags: Set<String> = ["--https", "-s", "--force-http", "-f", "--no-check-certificate", "--debug", "-d"]

    /// `USER[:PASSWORD]` split; no colon: the password is asked for on a terminal, else empty
    /// (as ipfs-cluster-ctl takes it).
    static func credentials(_ text: String) -> (String, String) {
        if let colon = text.firstIndex(of: ":") {
            return (String(text[..<colon]), String(text[text.index(after: colon)...]))
        }
        guard isatty(STDIN_FILENO) == 1, let typed = getpass("API password for \(text): ") else { return (text, "") }
        return (text, String(cString: typed))
    }

    func client() throws -> ClusterClient {
        let environment = ProcessInfo.processInfo.environment
        let hostList = host ?? environment["PINMESH_API"] ?? "/ip4/127.0.0.1/tcp/9094"
        let hosts = hostList.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        var auth: (String, String)?
        if let text = basicAuth ?? environment["CLUSTER_CREDENTIALS"], !text.isEmpty { auth = Self.credentials(text) }
        var useHTTPS = https
        if auth != nil, !https, !forceHTTP, hosts.contains(where: { $0.hasPrefix("/") }) {
            // ipfs-cluster-ctl's rule: credentials are not sent in the clear unless asked.
            FileHandle.standardError.write(Data("note: basic auth uses HTTPS; pass --force-http (-f) to send it over HTTP\n".utf8))
            useHTTPS = true
        }
        guard timeout >= 0 else { throw ValidationError("--timeout must be 0 (never) or a number of seconds") }
        var trace: (@Sendable (String) -> Void)?
        if debug { trace = { line in FileHandle.standardError.write(Data("debug: \(line)\n".utf8)) } }
        do {
            return try ClusterClient(
                hosts: hosts, basicAuth: auth, token: token ?? environment["PINMESH_TOKEN"], https: useHTTPS,
                timeout: timeout == 0 ? nil : .seconds(timeout), checkCertificate: !noCheckCertificate, trace: trace)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Prints one value as JSON (indented) when --enc json.
    func printJSON(_ value: some Encodable) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try e.encode(value), as: UTF8.self))
    }
}

/// A failed API call: exit code 2 (1 is a local failure, 64 bad usage), or the code given
/// (62 a --wait timed out, 125 it was interrupted, as ipfs-cluster-ctl).
struct APIFailure: Error, CustomStringConvertible {
    let description: String
    var exitCode: Int32 = 2
}

/// Set by the SIGINT handler while an `InterruptWatch` is active (an atomic store is
/// async-signal-safe).
private let sigintSeen = Atomic<Bool>(false)

/// Whether SIGINT came while a --wait runs (the default action is held off meanwhile). A
/// signal handler, not a dispatch source: libdispatch on Linux reads signals through a
/// signalfd that only gets them when every thread blocks them, so with SIGINT ignored a
/// Ctrl-C was dropped and the wait went on.
final class InterruptWatch: Sendable {
    init() {
        sigintSeen.store(false, ordering: .relaxed)
        signal(SIGINT) { _ in sigintSeen.store(true, ordering: .relaxed) }
    }

    var fired: Bool { sigintSeen.load(ordering: .relaxed) }

    func stop() {
        signal(SIGINT, SIG_DFL)
    }
}

func api<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as ClusterClient.ClientError {
        throw APIFailure(description: "\(e)")
    }
}

// MARK: token

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue or revoke API tokens (JWT, expiring after the API's token_ttl).",
        subcommands: [New.self, Revoke.self])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new", abstract: "Print a new token for the --basic-auth user; use it with --token or $PINMESH_TOKEN.", usage: "pinmeshctl token new [<options>]")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            struct T: Codable { let token: String }
            let t = try await api { try await global.client().decode(T.self, .POST, "/token") }
            if global.enc == .json { try global.printJSON(t) } else { print(t.token) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "With --token: revoke that token. With --basic-auth: revoke every token of that user issued so far.", usage: "pinmeshctl token revoke [<options>]")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            _ = try await api { try await global.client().call(.DELETE, "/token") }
        }
    }
}

// MARK: id, peers

struct IDCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "id", abstract: "Show the peer's identity and its IPFS daemon.", usage: "pinmeshctl id [<options>]")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let c = try global.client()
        let id = try await api { try await c.decode(PeerIdentity.self, .GET, "/id") }
        if global.enc == .json { return try global.printJSON(id) }
        print(Text.peer(id))
    }
}

/// ipfs-cluster's `ID` JSON, the fields PinMesh sends.
struct PeerIdentity: Codable {
    var id: String
    var peername: String?
    var addresses: [String]?
    var cluster_peers: [String]?
    var version: String?
    var ipfs: IPFS?
    var error: String?
    struct IPFS: Codable {
        var id: String?
        var addresses: [String]?
    }
}

struct PeersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peers", abstract: "List or remove the cluster's peers.", subcommands: [LS.self, RM.self])

    struct RM: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Forget a peer (address, connection, metrics): it leaves the peerset now; a live peer that dials back returns.", usage: "pinmeshctl peers rm [<options>] <peer>")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The peer ID.") var peer: String

        func run() async throws {
            _ = try await api { try await global.client().call(.DELETE, "/peers/\(peer)") }
        }
    }

    struct LS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "Every live peer, with its addresses and IPFS daemon.", usage: "pinmeshctl peers ls [<options>]")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let c = try global.client()
            try await api {
                try await c.each(PeerIdentity.self, .GET, "/peers") { id in
                    if global.enc == .json { try global.printJSON(id) } else { print(Text.peer(id)) }
                }
            }
        }
    }
}

// MARK: pin

struct PinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin", abstract: "Pin, unpin and list the cluster's pins.", subcommands: [Add.self, Rm.self, LS.self, Update.self])

    struct PinFlags: ParsableArguments {
        @Option(name: [.customShort("r"), .long], parsing: .unconditional, help: "Replication factor (min and max); -1: every peer; 0: the cluster's default.")
        var replication: Int = 0
        @Option(name: .shortAndLong, help: "A name for the pin.")
        var name: String?
        @Option(help: "recursive or direct.")
        var mode: String = "recursive"
        @OptionGroup var placement: PinPlacement
        @Flag(name: [.customLong("no-status"), .customLong("ns")], help: "Do not print the status afterwards.")
        var noStatus = false
        @Flag(name: [.customShort("w"), .long], help: "Wait until the pin is pinned on replication-min peers (or --wait-limit), or fails.")
        var wait = false
        @Option(name: [.customLong("wait-limit"), .customLong("wl")], help: "With --wait: how many peers must report it pinned (default: the pin's replication-min; every allocation when that is -1).")
        var waitLimit: Int = 0
        @Option(name: [.customLong("wait-timeout"), .customLong("wt")], help: "Give up waiting after this long (Go duration; 0: never); exit code 62.")
        var waitTimeout: String = "0s"

        func query() throws -> [(String, String)] {
            [("mode", mode)] + (try placement.query(replication: replication, name: name))
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Pin a CID in the cluster.",
            discussion: "Exit codes: 0 done, 1 --wait saw an error, 2 the API refused, 62 --wait timed out, 125 --wait interrupted (the pin stays), 64 bad usage.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var flags: PinFlags
        @Argument(help: "The CID to pin.") var cid: String

        func run() async throws {
            let c = try global.client()
            let pin = try await api { try await c.decode(Pin.self, .POST, "/pins/\(PinCommand.cidArgument(cid))", query: try flags.query()) }
            try await afterPin(c, pin, global: global, flags: flags)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "update", abstract: "Pin TO in place of FROM, with FROM's allocations (FROM stays pinned until removed).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var flags: PinFlags
        @Argument(help: "The pinned CID.") var from: String
        @Argument(help: "The new CID.") var to: String

        func run() async throws {
            let c = try global.client()
            let pin = try await api {
                try await c.decode(Pin.self, .POST, "/pins/\(PinCommand.cidArgument(to))", query: try flags.query() + [("pin-update", PinCommand.cidArgument(from))])
            }
            try await afterPin(c, pin, global: global, flags: flags)
        }
    }

    struct Rm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Unpin a CID from the cluster.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The CID to unpin.") var cid: String
        @Flag(name: [.customLong("no-status"), .customLong("ns")], help: "Do not print the status afterwards.") var noStatus = false
        @Flag(name: [.customShort("w"), .long], help: "Wait until every peer unpinned it.") var wait = false
        @Option(name: [.customLong("wait-timeout"), .customLong("wt")], help: "Give up waiting after this long (Go duration; 0: never); exit code 62.")
        var waitTimeout: String = "0s"

        func run() async throws {
            let c = try global.client()
            let target = PinCommand.cidArgument(cid)
            guard let limit = GoDuration.parse(waitTimeout) else { throw ValidationError("--wait-timeout \(waitTimeout): write a duration like 30s") }
            _ = try await api { try await c.decode(Pin.self, .DELETE, "/pins/\(target)") }
            guard !noStatus else { return }
            var status = try await api { try await c.decode(GlobalPinInfo.self, .GET, "/pins/\(target)") }
            if wait {
                FileHandle.standardError.write(Data("waiting until every peer unpinned \(target)…\n".utf8))
                let deadline = ContinuousClock.now + (limit == .zero ? .seconds(365 * 86400) : limit)
                while !status.peerMap.values.allSatisfy({ $0.status == .unpinned || $0.status == .remote || $0.status.isError }) {
                    guard ContinuousClock.now < deadline else {
                        print(Text.status(status))
                        throw APIFailure(description: "not unpinned on every peer after \(waitTimeout)", exitCode: 62)
                    }
                    try await Task.sleep(for: .milliseconds(250))
                    status = try await api { try await c.decode(GlobalPinInfo.self, .GET, "/pins/\(target)") }
                }
            }
            if global.enc == .json { try global.printJSON(status) } else { print(Text.status(status)) }
        }
    }

    struct LS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the cluster's pins (the shared state), or one.", usage: "pinmeshctl pin ls [<options>] [<cid>]")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A CID (default: every pin).") var cid: String?
        @Option(help: "Pin types: pin, meta-pin, clusterdag-pin, shard-pin or all (comma-separated).") var filter = "pin"

        func run() async throws {
            let c = try global.client()
            let show: (Pin) throws -> Void = { p in
                if global.enc == .json { try global.printJSON(p) } else { print(Text.pin(p)) }
            }
            if let cid {
                try show(try await api { try await c.decode(Pin.self, .GET, "/allocations/\(cid)") })
                return
            }
            try await api { try await c.each(Pin.self, .GET, "/allocations", query: [("filter", filter)]) { try show($0) } }
        }
    }
}

/// The pin options `pin add` and `add` share (ipfs-cluster-ctl's), as query parameters; each
/// command has its own `--replication` and `--name` (their short forms differ).
struct PinPlacement: ParsableArguments {
    @Option(name: [.customLong("replication-min"), .customLong("rmin")], parsing: .unconditional, help: "Minimum replication factor.")
    var replicationMin: Int = 0
    @Option(name: [.customLong("replication-max"), .customLong("rmax")], parsing: .unconditional, help: "Maximum replication factor.")
    var replicationMax: Int = 0
    @Option(help: "Multiaddrs of IPFS nodes that hold the content (…/p2p/<ID>), comma-separated: every allocated peer connects to them before pinning.")
    var origins: String?
    @Option(name: [.long, .customLong("allocs")], help: "Peers to allocate to first, comma-separated peer IDs.")
    var allocations: String?
    @Option(name: .customLong("expire-in"), help: "Unpin after this long (Go duration: 24h, 90m).")
    var expireIn: String?
    @Option(help: "key=value metadata; repeat for more.")
    var metadata: [String] = []

    func query(replication: Int, name: String?) throws -> [(String, String)] {
        var q: [(String, String)] = []
        if replication != 0 {
            q += [("replication-min", String(replication)), ("replication-max", String(replication))]
        } else {
            if replicationMin != 0 { q.append(("replication-min", String(replicationMin))) }
            if replicationMax != 0 { q.append(("replication-max", String(replicationMax))) }
        }
        if let allocations { q.append(("user-allocations", allocations)) }
        if let origins { q.append(("origins", origins)) }
        if let name { q.append(("name", name)) }
        if let expireIn { q.append(("expire-in", expireIn)) }
        for m in metadata {
            guard let eq = m.firstIndex(of: "="), eq != m.startIndex else { throw ValidationError("--metadata \(m.debugDescription): write key=value") }
            q.append(("meta-" + m[..<eq], String(m[m.index(after: eq)...])))
        }
        return q
    }
}

extension PinCommand {
    /// A CID argument as ipfs-cluster-ctl takes it: a CID, or `/ipfs/<cid>`.
    static func cidArgument(_ text: String) -> String {
        text.hasPrefix("/ipfs/") ? String(text.dropFirst("/ipfs/".count)).split(separator: "/").first.map(String.init) ?? text : text
    }
}

/// After a pin: its status (unless --no-status), waiting for it with --wait.
func afterPin(_ c: ClusterClient, _ pin: Pin, global: GlobalOptions, flags: PinCommand.PinFlags) async throws {
    let min = pin.options.replicationFactorMin
    try await afterPin(
        c, pin.cid, global: global, noStatus: flags.noStatus, wait: flags.wait, waitTimeout: flags.waitTimeout,
        waitLimit: flags.waitLimit > 0 ? flags.waitLimit : (min > 0 ? min : nil))
}

/// `waitLimit`: how many peers must report the pin pinned; nil: every allocation (every peer
/// but those that report `remote` when it is pinned everywhere). With --wait, a time-out exits
/// 62 and Ctrl-C 125, saying the pin stays (as ipfs-cluster-ctl).
func afterPin(_ c: ClusterClient, _ cid: CID, global: GlobalOptions, noStatus: Bool, wait: Bool, waitTimeout: String, waitLimit: Int? = nil) async throws {
    guard !noStatus else { return }
    var status = try await api { try await c.decode(GlobalPinInfo.self, .GET, "/pins/\(cid)") }
    if wait {
        guard let limit = GoDuration.parse(waitTimeout) else { throw ValidationError("--wait-timeout \(waitTimeout): write a duration like 30s") }
        let deadline = ContinuousClock.now + (limit == .zero ? .seconds(365 * 86400) : limit)
        let what = waitLimit.map { "\($0) peer\($0 == 1 ? "" : "s")" } ?? "every allocated peer"
        let interrupt = InterruptWatch()  // before saying so: a Ctrl-C right after the line is caught
        defer { interrupt.stop() }
        FileHandle.standardError.write(Data("waiting until \(cid) is pinned on \(what) (Ctrl-C stops waiting; the pin stays)…\n".utf8))
        func settled(_ g: GlobalPinInfo) -> Bool {
            // No allocations: pinned everywhere, or a sharded root (its holders report `sharded`).
            let mine = g.allocations.isEmpty ? g.peerMap.values.filter { $0.status != .remote } : g.allocations.compactMap { g.peerMap[$0.description] }
            let done = mine.filter { $0.status == .pinned || $0.status == .sharded }.count
            if let waitLimit, done >= waitLimit { return true }
            return !mine.isEmpty && mine.allSatisfy { $0.status == .pinned || $0.status == .sharded || $0.status.isError }
        }
        while !settled(status) {
            guard ContinuousClock.now < deadline else {
                print(Text.status(status))
                throw APIFailure(description: "not pinned on \(what) after \(waitTimeout); the pin stays and goes on", exitCode: 62)
            }
            if interrupt.fired {
                print(Text.status(status))
                throw APIFailure(description: "stopped waiting; the pin stays in the cluster and goes on (`pinmeshctl status \(cid)` shows it)", exitCode: 125)
            }
            try await Task.sleep(for: .milliseconds(250))
            status = try await api { try await c.decode(GlobalPinInfo.self, .GET, "/pins/\(cid)") }
        }
    }
    if global.enc == .json { try global.printJSON(status) } else { print(Text.status(status)) }
    if wait, status.peerMap.values.contains(where: { $0.status.isError }) {
        throw APIFailure(description: "the pin failed on some peers (see above); `pinmeshctl recover \(cid)` retries", exitCode: 1)
    }
}

// MARK: status, recover

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show where CIDs stand on every peer (or only this one with --local).", usage: "pinmeshctl status [<options>] [<cids> ...]")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "CIDs (default: every pin).") var cids: [String] = []
    @Flag(help: "Only the peer the API belongs to.") var local = false
    @Option(help: "Only these statuses, comma-separated (pinned, pin_error, error, queued, …).") var filter: String?

    func run() async throws {
        let c = try global.client()
        var q: [(String, String)] = []
        if local { q.append(("local", "true")) }
        if let filter { q.append(("filter", filter)) }
        if !cids.isEmpty { q.append(("cids", cids.joined(separator: ","))) }
        try await api {
            try await c.each(GlobalPinInfo.self, .GET, "/pins", query: q) { g in
                if global.enc == .json { try global.printJSON(g) } else { print(Text.status(g)) }
            }
        }
        // The root of a sharded add: each shard's progress too.
        if cids.count == 1, global.enc == .text, !cids[0].contains("/") {
            var shards: [GlobalPinInfo] = []
            do {
                try await c.each(GlobalPinInfo.self, .GET, "/pins/\(cids[0])/shards", query: local ? [("local", "true")] : []) { shards.append($0) }
            } catch let e as ClusterClient.ClientError where e.status == 404 || e.status == 400 {
                return  // not sharded
            }
            for g in shards { print(Text.shardLine(g)) }
        }
    }
}

// MARK: health

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "The monitor's metrics and alerts, and the connection graph.",
        subcommands: [Graph.self, Metrics.self, Alerts.self, Bandwidth.self])

    struct Bandwidth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bandwidth", abstract: "The peer's traffic by protocol: totals and the last second's rates.", usage: "pinmeshctl health bandwidth [<options>]")
        @OptionGroup var global: GlobalOptions

        struct Stats: Codable {
            var TotalIn: UInt64
            var TotalOut: UInt64
            var RateIn: Double
            var RateOut: Double
        }

        func run() async throws {
            let c = try global.client()
            let bw = try await api { try await c.decode([String: Stats].self, .GET, "/health/bandwidth") }
            if global.enc == .json { return try global.printJSON(bw) }
            for (proto, s) in bw.sorted(by: { $0.key < $1.key }) {
                print("\(proto) | in: \(ProgressBar.size(Double(s.TotalIn))) (\(ProgressBar.size(s.RateIn))/s) | out: \(ProgressBar.size(Double(s.TotalOut))) (\(ProgressBar.size(s.RateOut))/s)")
            }
        }
    }

    struct Metrics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "metrics", abstract: "Metric names, or every peer's latest value of one.", usage: "pinmeshctl health metrics [<options>] [<name>]")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A metric name (ping, freespace, tag:group, pinqueue, numpin, pinned_total, bandwidth).") var name: String?

        func run() async throws {
            let c = try global.client()
            guard let name else {
                let names = try await api { try await c.decode([String].self, .GET, "/monitor/metrics") }
                if global.enc == .json { return try global.printJSON(names) }
                for n in names { print(n) }
                return
            }
            let metrics = try await api { try await c.decode([Metric].self, .GET, "/monitor/metrics/\(name)") }
            if global.enc == .json { return try global.printJSON(metrics) }
            for m in metrics {
                let expires = Date(timeIntervalSince1970: Double(m.expire) / 1e9)
                print("\(m.peer) | \(m.name): \(m.value.isEmpty ? "-" : m.value) | Expires in: \(Int(expires.timeIntervalSinceNow.rounded()))s")
            }
        }
    }

    struct Alerts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "alerts", abstract: "Recent alerts (metrics that expired), newest first.", usage: "pinmeshctl health alerts [<options>]")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let c = try global.client()
            let alerts = try await api { try await c.decode([Alert].self, .GET, "/health/alerts") }
            if global.enc == .json { return try global.printJSON(alerts) }
            for a in alerts { print("\(a.triggeredAt.rfc3339) | \(a.metric.peer) | \(a.metric.name) expired") }
        }
    }
}

// MARK: ipfs

struct IPFSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ipfs", abstract: "Operations on the peers' IPFS daemons.", subcommands: [GC.self])

    /// ipfs-cluster's `GlobalRepoGC`, with PinMesh's `removed` count.
    struct GlobalRepoGC: Codable {
        struct PeerGC: Codable {
            struct Key: Codable { var key: String; var error: String? }
            var peer: String
            var peername: String
            var keys: [Key]
            var removed: Int?
            var error: String?
        }
        var peer_map: [String: PeerGC]
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Garbage-collect every peer's IPFS daemon (--local: this peer's only).", usage: "pinmeshctl ipfs gc [<options>]")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Only the peer answering the API.") var local = false

        func run() async throws {
            let c = try global.client()
            let r = try await api { try await c.decode(GlobalRepoGC.self, .POST, "/ipfs/gc", query: [("local", String(local))]) }
            if global.enc == .json { return try global.printJSON(r) }
            for (id, g) in r.peer_map.sorted(by: { ($0.value.peername, $0.key) < ($1.value.peername, $1.key) }) {
                if let e = g.error, !e.isEmpty {
                    print("\(g.peername.isEmpty ? id : g.peername) | ERROR: \(e)")
                } else {
                    print("\(g.peername.isEmpty ? id : g.peername) | removed \(g.removed ?? g.keys.count) blocks")
                }
            }
            if r.peer_map.values.contains(where: { !($0.error ?? "").isEmpty }) {
                throw APIFailure(description: "garbage collection failed on some peers (see above)")
            }
        }
    }
}

// MARK: text output

enum Text {
    static func peer(_ id: PeerIdentity) -> String {
        var out = "\(id.id) | \(id.peername ?? "") | Sees \(max(0, (id.cluster_peers?.count ?? 1) - 1)) other peers"
        if let e = id.error, !e.isEmpty { out += "\n  > Error: \(e)" }
        if let a = id.addresses, !a.isEmpty { out += "\n  > Addresses:" + a.map { "\n    - \($0)" }.joined() }
        if let ipfs = id.ipfs, let i = ipfs.id { out += "\n  > IPFS: \(i)" }
        return out
    }

    static func pin(_ p: Pin) -> String {
        let repl = p.isPinEverywhere ? "Repl. Factor: -1" : "Repl. Factor: \(p.options.replicationFactorMin)--\(p.options.replicationFactorMax)"
        let alloc = p.allocations.isEmpty ? "[everywhere]" : "[" + p.allocations.map(\.description).joined(separator: " ") + "]"
        let exp = p.options.expireAt.map(\.rfc3339) ?? "∞"
        return "\(p.cid) | \(p.name) | \(p.type.name.uppercased()) | \(repl) | Allocations: \(alloc) | \(p.options.mode == .direct ? "Direct" : "Recursive") | Metadata: \(p.options.metadata.isEmpty ? "no" : "yes") | Exp: \(exp) | Added: \(p.timestamp.rfc3339)"
    }

    /// `  shard-3 <cid>: PINNED on p1, p2 | PINNING on p3` (statuses grouped; remote peers left out).
    static func shardLine(_ g: GlobalPinInfo) -> String {
        var groups: [TrackerStatus: [String]] = [:]
        for (peer, s) in g.peerMap where s.status != .remote { groups[s.status, default: []].append(s.peername.isEmpty ? peer : s.peername) }
        let parts = groups.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue.uppercased()) on \($0.value.sorted().joined(separator: ", "))" }
        let label = g.name.split(separator: "-").suffix(2).joined(separator: "-")
        return "    \(label.isEmpty ? "shard" : label) \(g.cid): \(parts.isEmpty ? "no holder" : parts.joined(separator: " | "))"
    }

    static func status(_ g: GlobalPinInfo) -> String {
        var out = g.name.isEmpty ? "\(g.cid):" : "\(g.cid) | \(g.name):"
        let width = max(10, g.peerMap.values.map(\.peername.count).max() ?? 0)
        for (peer, s) in g.peerMap.sorted(by: { ($0.value.peername, $0.key) < ($1.value.peername, $1.key) }) {
            let name = (s.peername.isEmpty ? peer : s.peername).padding(toLength: width, withPad: " ", startingAt: 0)
            out += "\n    > \(name) : \(s.status.rawValue.uppercased()) | \(s.timestamp.rfc3339) | Attempts: \(s.attemptCount) | Priority: \(s.priorityPin)"
            if !s.error.isEmpty { out += " | \(s.error)" }
        }
        return out
    }
}
