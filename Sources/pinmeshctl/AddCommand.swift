public import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation
import Ingest
import Multiformats
public import UnixFS

/// `pinmeshctl add`: uploads files to the cluster (`POST /add`), which imports them as
/// UnixFS exactly as `ipfs add` does, sends the blocks to the allocated peers and pins the
/// root; or, with --only-hash, computes the CIDs here.
struct AddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add files to the cluster, or with --only-hash print the CIDs `ipfs add` would give.",
        discussion: """
            Prints `added <cid> <path>` for every file, then every directory (children first), \
            as `ipfs add` does; the root's line comes last, once it is pinned. Reads standard \
            input when no path or `-` is given. A progress bar goes to standard error when it \
            is a terminal (not with -q or -Q).

            Exit codes: 0 success, 1 a file could not be read or imported (or --wait saw an \
            error), 2 the API refused, 62 --wait timed out, 125 --wait interrupted (the pin \
            stays), 64 bad usage.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Files or directories to add ('-' or nothing: standard input).")
    var paths: [String] = []

    @Flag(name: .long, help: "Only compute CIDs, here; send, store and pin nothing.")
    var onlyHash = false

    @Flag(name: .shortAndLong, help: "Add directories recursively.")
    var recursive = false

    @Flag(name: [.customShort("w"), .long], help: "Wrap the added paths in a directory.")
    var wrapWithDirectory = false

    @Flag(name: [.customShort("H"), .long], help: "Include files whose names start with a dot.")
    var hidden = false

    @Flag(name: .shortAndLong, help: "Print only CIDs.")
    var quiet = false

    @Flag(name: [.customShort("Q"), .long], help: "Print only the final root CID.")
    var quieter = false

    @Option(help: "CID version: 0 or 1 (1 implies --raw-leaves unless --raw-leaves=false).")
    var cidVersion: Int?

    @Option(name: .customLong("raw-leaves"), help: "Use raw blocks for leaves (--raw-leaves or --raw-leaves=true|false).")
    var rawLeaves: Bool?

    @Option(help: "Chunker: size-N, rabin, rabin-AVG, rabin-MIN-AVG-MAX or buzhash (default: the profile's, size-262144).")
    var chunker: String?

    @Option(help: "DAG layout: balanced or trickle.")
    var layout: Layout = .balanced

    @Flag(help: "Same as --layout trickle (kubo's flag).")
    var trickle = false

    @Option(help: "Hash function: sha2-256 (default), sha2-512, sha3-256, blake2b-256 and the others `ipfs add` takes; any but sha2-256 means CIDv1.")
    var hash: String?

    @Option(help: "Import profile: unixfs-v0-2015 or unixfs-v1-2025 (other flags override it).")
    var profile: String?

    // MARK: cluster options (ipfs-cluster-ctl add's)

    @Option(name: [.customLong("replication"), .customLong("rf")], parsing: .unconditional, help: "Replication factor (min and max); -1: every peer; 0: the cluster's default.")
    var replication: Int = 0
    @Option(name: [.customShort("n"), .long], help: "A name for the pin.")
    var name: String?
    @OptionGroup var placement: PinPlacement
    @Flag(help: "Send the blocks to this peer's IPFS only; allocate at the end as for a pin.")
    var local = false
    @Flag(name: .customLong("no-pin"), help: "Send the blocks but pin nothing.")
    var noPin = false
    @Option(help: "unixfs (import the files) or car (each file is a CAR; its roots are pinned).")
    var format: String = "unixfs"
    @Flag(help: "Cut the file's leaves into shards pinned on different peers (Specs/sharding.md); one root.")
    var shard = false
    @Option(name: .customLong("shard-size"), help: "Bytes per shard with --shard (default 104857600).")
    var shardSize: UInt64?
    @Flag(name: .customLong("no-stream"), help: "Print the output once the add is done, not as it comes.")
    var noStream = false
    @Flag(help: "Wait until the root is pinned on all its allocations (or fails).")
    var wait = false
    @Option(name: [.customLong("wait-timeout"), .customLong("wt")], help: "Give up waiting after this long (Go duration; 0: never); exit code 62.")
    var waitTimeout: String = "0s"

    func validate() throws {
        if let v = cidVersion, v != 0 && v != 1 { throw ValidationError("--cid-version must be 0 or 1") }
        if let p = profile, ImportSettings(profile: p) == nil {
            throw ValidationError("unknown --profile \(p): use unixfs-v0-2015 or unixfs-v1-2025")
        }
    }

    /// The settings `ipfs add` would use with these flags (kubo 0.40's rules, Specs/unixfs.md).
    func settings() throws -> ImportSettings {
        let options = KuboAddOptions(
            profile: profile, cidVersion: cidVersion, rawLeaves: rawLeaves, hash: hash, chunker: chunker,
            trickle: trickle || layout == .trickle)
        do throws(UnixFSError) { return try options.resolve() } catch { throw ValidationError(error.message) }
    }

    func run() async throws {
        guard onlyHash else { return try await upload() }
        var options = AddOptions(settings: try settings())
        options.recursive = recursive
        options.hidden = hidden
        options.wrapWithDirectory = wrapWithDirectory
        var adder = try PathAdder(options: options)
        var last: AddedEntry?
        let print: (AddedEntry) -> Void = { e in
            last = e
            guard !quieter else { return }
            if quiet {
                Swift.print(e.cid)
            } else {
                Swift.print(e.path.isEmpty ? "added \(e.cid)" : "added \(e.cid) \(e.path)")
            }
        }
        do {
            if paths.isEmpty || paths == ["-"] {
                _ = try adder.add(handle: .standardInput, name: "", entry: print)
            } else {
                _ = try adder.add(paths, entry: print)
            }
        } catch let error as AddError {
            throw RuntimeError(error.message)
        } catch let error as UnixFSError {
            throw RuntimeError(error.message)
        }
        if quieter, let last { Swift.print(last.cid) }
    }
}

extension Layout: ExpressibleByArgument {}

/// A failure reported to the user with exit code 1.
struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

// MARK: adding to the cluster

/// ipfs-cluster's `AddedOutput` as `pinmeshctl` reads it.
struct AddedLine: Codable {
    var name: String
    var cid: String?
    var bytes: UInt64?
    var size: UInt64?
    var allocations: [String]?
}

extension AddCommand {
    /// The query of `POST /add`: the import settings resolved here (profile and flags) and
    /// the pin options.
    func query() throws -> [(String, String)] {
        let s = try settings()
        var q: [(String, String)] = [
            ("cid-version", s.cidVersion == .v1 ? "1" : "0"), ("raw-leaves", s.rawLeaves ? "true" : "false"),
            ("chunker", s.chunker.description), ("layout", s.layout == .trickle ? "trickle" : "balanced"), ("hash", s.hashFunction.description),
            ("wrap-with-directory", String(wrapWithDirectory)), ("recursive", String(recursive)), ("hidden", String(hidden)),
            ("local", String(local)), ("no-pin", String(noPin)), ("format", format), ("shard", String(shard)),
        ]
        if let shardSize {
            guard shard else { throw ValidationError("--shard-size needs --shard") }
            q.append(("shard-size", String(shardSize)))
        }
        q += try placement.query(replication: replication, name: name)
        return q
    }

    func upload() async throws {
        guard format == "unixfs" || format == "car" else { throw ValidationError("--format \(format): use unixfs or car") }
        let query = try query()
        let entries: [UploadEntry]
        do {
            entries = try UploadEntry.walk(paths.isEmpty ? ["-"] : paths, recursive: recursive, hidden: hidden)
        } catch {
            throw RuntimeError("\(error)")
        }
        let c = try global.client()
        let bar = isatty(2) == 1 && !quiet && !quieter && global.enc == .text
            ? ProgressBar(total: entries.reduce(0) { $0 + $1.size }) : nil
        let upload = MultipartUpload(entries: entries) { sent in bar?.update(sent) }
        var lines: [AddedLine] = []
        var last: AddedLine?
        let show: (AddedLine) throws -> Void = { l in
            guard let cid = l.cid else { return }
            if global.enc == .json { return try global.printJSON(l) }
            if quieter { return }
            bar?.clear()
            if quiet { print(cid) } else { print(l.name.isEmpty || l.name == cid ? "added \(cid)" : "added \(cid) \(l.name)") }
        }
        try await api {
            try await c.add(upload, query: query) { raw in
                let l = try JSONDecoder().decode(AddedLine.self, from: Data(raw))
                guard l.cid != nil else { return }
                last = l
                if noStream { lines.append(l) } else { try show(l) }
            }
        }
        bar?.finish()
        for l in lines { try show(l) }
        guard let last, let cid = last.cid else { throw RuntimeError("the API answered no CID for the upload") }
        if quieter && global.enc == .text { print(cid) }
        if wait && !noPin {
            guard let root = try? CID(cid) else { throw RuntimeError("the API answered \(cid.debugDescription), which is not a CID") }
            try await afterPin(c, root, global: global, noStatus: false, wait: true, waitTimeout: waitTimeout)
        }
    }
}

/// A one-line progress bar on standard error: bytes sent, rate, time left. Redrawn at most
/// every 100 ms.
final class ProgressBar: @unchecked Sendable {
    let total: UInt64
    let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var sent: UInt64 = 0
    private let lock = NSLock()

    init(total: UInt64) { self.total = total }

    static func size(_ n: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = n
        var i = 0
        while v >= 1024, i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return i == 0 ? "\(Int(v)) B" : String(format: "%.1f %@", v, units[i])
    }

    func update(_ n: UInt64) {
        lock.withLock {
            sent = n
            guard ContinuousClock.now - lastDraw >= .milliseconds(100) else { return }
            lastDraw = .now
            draw()
        }
    }

    private func draw() {
        let elapsed = Double((ContinuousClock.now - start).components.seconds) + Double((ContinuousClock.now - start).components.attoseconds) / 1e18
        let rate = elapsed > 0 ? Double(sent) / elapsed : 0
        var line = ""
        if total > 0 {
            let fraction = min(1, Double(sent) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            line = "[" + String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "") + "] "
            line += "\(Self.size(Double(sent))) / \(Self.size(Double(total)))"
            if rate > 0, sent < total { line += String(format: "  ETA %.0fs", Double(total - sent) / rate) }
        } else {
            line = Self.size(Double(sent))
        }
        line += "  \(Self.size(rate))/s"
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    }

    /// Erases the bar (before a line of output).
    func clear() {
        lock.withLock { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    func finish() {
        lock.withLock {
            draw()
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }
}
