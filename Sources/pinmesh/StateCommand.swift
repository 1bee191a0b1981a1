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
        @Option(name: .shortAndLong, help: "Read from this file instead of standard input.") var file: String?
        @Option(help: "Pins per transaction.") var batch = 10_000
        @Flag(help: "Report each committed transaction on standard error.") var progress = false

        func run() throws {
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
                let pin: Pin
                do { pin = try decoder.decode(Pin.self, from: Data(line)) } catch {
                    throw ValidationError("line \(n + 1) is not a pin: \(error). Nothing was imported.")
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
            commandName: "crdt", abstract: "Inspect the pinset's DAG.", subcommands: [Info.self])

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
