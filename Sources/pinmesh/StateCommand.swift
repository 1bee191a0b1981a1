import ArgumentParser
import ClusterModel
import Datastore
import Foundation
import Multiformats
import Node
import Pinset

/// Where a peer keeps its files: `--config DIR`, else `$PINMESH_PATH`, else
/// `$IPFS_CLUSTER_PATH`, else `~/.pinmesh`.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "The peer's directory (default: $PINMESH_PATH, $IPFS_CLUSTER_PATH or ~/.pinmesh).")
    var directory: String?

    var path: String {
        if let directory { return directory }
        let environment = ProcessInfo.processInfo.environment
        if let env = environment["PINMESH_PATH"], !env.isEmpty { return env }
        // ipfs-cluster-service's variable, for scripts written for it.
        if let env = environment["IPFS_CLUSTER_PATH"], !env.isEmpty { return env }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".pinmesh").path
    }

    var databasePath: String { (path as NSString).appendingPathComponent("pinset.sqlite") }
    var identityPath: String { (path as NSString).appendingPathComponent("identity.json") }

    func openDatabase(mustExist: Bool = true) throws -> PinsetDatabase {
        if mustExist && !FileManager.default.fileExists(atPath: databasePath) {
            throw ValidationError("no pinset at \(databasePath): is --config (or PINMESH_PATH) the peer's directory?")
        }
        do { return try PinsetDatabase(path: databasePath) } catch { throw ValidationError(error.message) }
    }
}

/// `pinmesh state`: the local copy of the shared pinset, offline (ipfs-cluster-service's
/// `state` commands).
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Export, import, inspect or remove this peer's copy of the shared pinset.",
        subcommands: [Export.self, Import.self, Cleanup.self, CRDT.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every pin as newline-delimited JSON (ipfs-cluster's format), in CID order, with bounded memory.")
        @OptionGroup var config: ConfigOptions
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var file: String?

        func run() throws {
            let db = try config.openDatabase()
            let out: FileHandle
            if let file {
                guard FileManager.default.createFile(atPath: file, contents: nil) else { throw ValidationError("cannot create \(file)") }
                out = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            } else {
                out = .standardOutput
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var buffer = Data()
            try db.forEachPin { pin in
                buffer += try encoder.encode(pin)
                buffer.append(0x0a)
                if buffer.count > 1 << 20 {
                    out.write(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            out.write(buffer)
            let skipped = db.undecodableRows
            if skipped.count > 0 {
                FileHandle.standardError.write(
                    Data(
                        ("warning: \(skipped.count) stored pin(s) could not be read and are not in the export (the last: \(skipped.lastKey.map(\.description) ?? "?"), \(skipped.lastError ?? "")). "
                            + "'pinmesh state cleanup' removes the local state; the other peers' copies are not affected.\n").utf8))
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add (or update) the pins of an export to the pinset, as deltas signed by this peer.",
            discussion: """
                Reads newline-delimited JSON pins (what 'state export' and ipfs-cluster write). Every line \
                is checked before anything is written: a bad line is reported with its number and nothing \
                is imported. Pins are committed in batches; peers receive them when this peer runs.
                """)
        @OptionGroup var config: ConfigOptions
        @Argument(help: "The export to read (default: standard input).") var path: String?
        @Option(name: .customLong("file"), help: "The export to read (as the argument).") var file: String?
        @Flag(
            name: .shortAndLong,
            help: "Accepted for ipfs-cluster-service's scripts: an import adds to the pinset and replaces nothing, so there is nothing to confirm.")
        var force = false
        @Option(
            name: [.customLong("replication-min"), .customLong("rmin"), .customLong("rmin", withSingleDash: true)], parsing: .unconditional,
            help: "Set every imported pin's replication_factor_min (0 keeps each pin's; -1 pins everywhere).")
        var replicationMin = 0
        @Option(
            name: [.customLong("replication-max"), .customLong("rmax"), .customLong("rmax", withSingleDash: true)], parsing: .unconditional,
            help: "Set every imported pin's replication_factor_max (0 keeps each pin's; -1 pins everywhere).")
        var replicationMax = 0
        @Option(
            name: [.customLong("allocations"), .customLong("allocs")],
            help: "Set every imported pin's allocations: a comma-separated list of peer IDs.")
        var allocations: String?
        @Option(help: "Pins per transaction.") var batch = 10_000
        @Flag(help: "Report each committed transaction on standard error.") var progress = false

        /// The overrides ipfs-cluster-service's `state import` takes, checked.
        func overrides() throws -> (min: Int?, max: Int?, allocations: [PeerID]?) {
            for (name, v) in [("--replication-min", replicationMin), ("--replication-max", replicationMax)] where v < -1 || v > 1024 {
                throw ValidationError("\(name) must be -1 (everywhere), 0 (keep each pin's) or 1 to 1024, not \(v)")
            }
            var peers: [PeerID]?
            if let allocations {
                peers = []
                for part in allocations.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
                    guard let id = try? PeerID(part) else {
                        throw ValidationError("--allocations: \(part.debugDescription) is not a peer ID (they look like 12D3KooW…; 'pinmeshctl peers ls' lists them)")
                    }
                    peers?.append(id)
                }
                guard peers?.isEmpty == false else { throw ValidationError("--allocations needs at least one peer ID") }
            }
            return (replicationMin == 0 ? nil : replicationMin, replicationMax == 0 ? nil : replicationMax, peers)
        }

        func run() throws {
            let (rmin, rmax, allocs) = try overrides()
            if path != nil && file != nil { throw ValidationError("give the export once: as the argument or with --file") }
            let file = path ?? file
            let identity: IdentityFile
            do { identity = try IdentityFile.load(config.identityPath) } catch { throw ValidationError("\(error)") }
            let input: FileHandle
            if let file {
                guard let h = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
                input = h
            } else {
                input = .standardInput
            }
            let data = input.readDataToEndOfFile()
            var pins: [Pin] = []
            let decoder = JSONDecoder()
            for (n, line) in data.split(separator: 0x0a, omittingEmptySubsequences: false).enumerated() {
                guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0d || $0 == 0x09 }) else { continue }
                var pin: Pin
                do { pin = try decoder.decode(Pin.self, from: Data(line)) } catch {
                    throw ValidationError("line \(n + 1) is not a pin: \(error). Nothing was imported.")
                }
                if let rmin { pin.options.replicationFactorMin = rmin }
                if let rmax { pin.options.replicationFactorMax = rmax }
                if let allocs { pin.allocations = allocs }
                let (lo, hi) = (pin.options.replicationFactorMin, pin.options.replicationFactorMax)
                // As ipfs-cluster checks them: -1 (everywhere) for one means -1 for both, else min
                // at most max; 0 is the cluster's default, filled in when the pin is allocated.
                if lo != 0, hi != 0, lo == -1 || hi == -1 ? lo != hi : lo > hi {
                    throw ValidationError(
                        "line \(n + 1): replication_factor_min \(lo) and replication_factor_max \(hi) do not fit together (min at most max; -1, everywhere, for both). Nothing was imported.")
                }
                do { try PinCodec.validate(pin) } catch {
                    throw ValidationError("line \(n + 1): \(error.message). Nothing was imported.")
                }
                pins.append(pin)
            }
            let db = try config.openDatabase(mustExist: false)
            let rules = PinsetInstance(trust: .everyone)
            var nodes = 0
            for start in stride(from: 0, to: pins.count, by: max(1, batch)) {
                let end = min(pins.count, start + max(1, batch))
                try db.write { store in
                    var ops = pins[start..<end].map { PinsetOperation.pin($0) }[...]
                    while let d = try rules.makeDelta(&ops, author: identity.key, authorID: identity.id, in: store) {
                        _ = try rules.apply(d.node, cid: d.cid, bytes: d.bytes, to: &store)
                        nodes += 1
                    }
                }
                // Durable from here on (synchronous=FULL): what this line reports survives a crash.
                if progress { FileHandle.standardError.write(Data("committed \(end) of \(pins.count) pins\n".utf8)) }
            }
            FileHandle.standardError.write(Data("imported \(pins.count) pins as \(nodes) deltas into \(config.databasePath)\n".utf8))
        }
    }

    struct Cleanup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove this peer's copy of the pinset; on its next start it fetches the cluster's again.")
        @OptionGroup var config: ConfigOptions
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation.") var force = false

        func run() throws {
            let paths = ["", "-wal", "-shm"].map { config.databasePath + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
            guard !paths.isEmpty else {
                print("no pinset at \(config.databasePath): nothing to remove")
                return
            }
            // Held until the files are gone: a daemon cannot start on the directory meanwhile.
            let lock: PinsetLock
            do { lock = try PinsetLock(directory: config.path) } catch { throw ValidationError(error.message) }
            defer { lock.release() }
            if !force {
                print("Remove \(config.databasePath)? The peer fetches the shared pinset again when it starts. [y/N] ", terminator: "")
                guard readLine()?.lowercased().hasPrefix("y") == true else { throw ExitCode(1) }
            }
            for p in paths { try FileManager.default.removeItem(atPath: p) }
            print("removed \(config.databasePath)")
        }
    }

    struct CRDT: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crdt", abstract: "Inspect the pinset's DAG.", subcommands: [Info.self, Dot.self])

        /// ipfs-cluster-service's `state crdt dot`: the DAG in Graphviz's DOT language.
        struct Dot: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write the pinset's DAG as a Graphviz DOT file (render it with: dot -Tsvg FILE > dag.svg).",
                discussion: """
                    One node per delta: its height, author and what it does (+ pins added, − keys removed, \
                    ~ re-allocated), an edge to each parent; heads are drawn double, pruned history (kept \
                    only as CID and height after compaction) dashed.
                    """)
            @OptionGroup var config: ConfigOptions
            @Argument(help: "Write to this file (default: standard output).") var path: String?

            func run() throws {
                let db = try config.openDatabase()
                let links = try db.allLinks()
                let heads = Set(try db.info().heads)
                var out = "digraph pinset {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
                let ordered = links.sorted { a, b in
                    a.value.height != b.value.height ? a.value.height < b.value.height : a.key.bytes.lexicographicallyPrecedes(b.key.bytes)
                }
                for (cid, l) in ordered {
                    let name = cid.description
                    var label = "\(name.prefix(8))…\(name.suffix(6))\\nheight \(l.height)"
                    var style = heads.contains(cid) ? ", peripheries=2" : ""
                    if let bytes = try db.read({ try $0.nodeBytes(cid) }), !bytes.isEmpty, let node = try? DeltaNode(decoding: bytes) {
                        let author = node.author.description
                        label += "\\nby …\(author.suffix(6))\\n+\(node.adds.count) −\(node.removes.count) ~\(node.reallocations.count)"
                    } else {
                        label += "\\npruned"
                        style += ", style=dashed"
                    }
                    out += "  \"\(name)\" [label=\"\(label)\"\(style)];\n"
                    for p in l.parents { out += "  \"\(name)\" -> \"\(p.description)\";\n" }
                }
                out += "}\n"
                if let path {
                    guard FileManager.default.createFile(atPath: path, contents: Data(out.utf8)) else { throw ValidationError("cannot write \(path)") }
                } else {
                    print(out, terminator: "")
                }
            }
        }

        struct Info: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Heads, height, DAG size, pins and the snapshot served, as JSON.")
            @OptionGroup var config: ConfigOptions

            func run() throws {
                let db = try config.openDatabase()
                let info = try db.info()
                var object: [String: Any] = [
                    "heads": info.heads.map(\.description), "height": info.height, "dag_nodes": info.nodes, "dag_bytes": info.dagBytes,
                    "pins": info.pins, "dirty": false,
                ]
                object["snapshot"] = try db.latestSnapshot()?.cid.description ?? NSNull()
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }
}
