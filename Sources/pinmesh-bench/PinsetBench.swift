import ArgumentParser
import ClusterModel
import ClusterTestKit
import Datastore
import Foundation
import GRDB
import GRDBSQLite
import Multiformats
import NIOPosix
import Node
import Pinset
import SecureChannel
import Sodium
import Transport

/// `pinmesh-bench pinset`: how fast deltas apply, how fast a new peer catches up over the real
/// transport, and how long a commit takes to reach every peer of a 5-peer loopback cluster.
///
/// Baselines measured in the same run: plain SQLite inserts of the same (key, value) rows in
/// one transaction (apply), applying the same nodes locally with no network (catch-up), and a
/// loopback RPC round trip on the same transport (commit-to-all).
struct PinsetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinset",
        abstract: "Pinset apply rate, catch-up of a new peer, commit-to-all latency; each against a baseline from the same run.")

    @Option(help: "Pins in the apply and catch-up scenarios (written as deltas of --delta pins).") var pins = 100_000
    @Option(help: "Pins per delta.") var delta = 100
    @Option(help: "Pins committed one by one in the 5-peer latency scenario.") var commits = 300
    @Option(help: "Pins in the snapshot catch-up scenario (0 skips it).") var snapshotPins = 1_000_000
    @Option(help: "Peers in the latency scenario.") var peers = 5
    @Flag(help: "One JSON object instead of a table.") var json = false
    @Flag(help: "Only the apply scenario (for profiling).") var applyOnly = false

    func validate() throws {
        guard pins >= delta, delta >= 1, delta <= 250, commits >= 10, peers >= 2 else {
            throw ValidationError("need --pins ≥ --delta, --delta within 1...250, --commits ≥ 10, --peers ≥ 2")
        }
    }

    func run() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-bench-pinset-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        progress("generating \(pins) pins as deltas of \(delta)")
        var author = PinsetReplica(seed: 1, store: MemoryPinsetStore())
        var nodes: [[UInt8]] = []
        for start in stride(from: 0, to: pins, by: delta) {
            nodes += try author.commit((start..<min(pins, start + delta)).map { .pin(PinsetFixtures.pin($0)) })
        }
        let dagBytes = nodes.reduce(0) { $0 + $1.count }

        // Apply rate, and its baseline.
        progress("apply: plain SQLite inserts")
        let rows = author.store.pins.values.map { (Data($0.cid.bytes), Data(PinCodec.encode($0))) }
        let plainSeconds = try plainInsert(rows, path: dir.appendingPathComponent("plain.sqlite").path)
        progress("apply: \(nodes.count) deltas into the pinset database")
        let applySeconds = try apply(nodes, path: dir.appendingPathComponent("apply.sqlite").path)
        progress("apply: the same into memory")
        let memorySeconds = try time {
            var r = PinsetReplica(seed: 2, store: MemoryPinsetStore())
            try r.receive(nodes)
        }

        if applyOnly {
            BenchReport.print(
                scenario: "pinset",
                fields: [
                    ("apply_ops_per_s", Double(pins) / applySeconds), ("baseline_plain_insert_rows_per_s", Double(pins) / plainSeconds),
                    ("apply_memory_ops_per_s", Double(pins) / memorySeconds),
                ], json: json)
            return
        }

        // Catch-up over the real transport.
        progress("catch-up: a new peer fetches \(pins) pins from one that holds them")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let sourceDir = dir.appendingPathComponent("source")
        try FileManager.default.createDirectory(at: sourceDir, withIntermediateDirectories: true)
        let prepared = try PinsetDatabase(path: sourceDir.appendingPathComponent("pinset.sqlite").path)
        try prepared.write { store in
            for n in nodes { _ = try PinsetInstance(trust: .everyone).apply(n, to: &store) }
        }
        try prepared.close()
        let source2 = try await BenchPeer.start(dir: sourceDir, group: group)
        // The new peer is a process of its own, so its peak RSS is its own.
        let fresh = try PinsetPeer.catchUp(from: source2.address, dir: dir.appendingPathComponent("fresh"))
        guard fresh.pins == pins else { throw ValidationError("catch-up ended with \(fresh.pins) of \(pins) pins") }
        let (catchup, rounds) = (fresh.seconds, fresh.rounds)
        await source2.stop()

        // Catch-up from a snapshot.
        var snapshotFields: [(String, Double)] = []
        if snapshotPins > 0 {
            progress("snapshot catch-up: writing \(snapshotPins) pins as deltas on the source")
            let snapDir = dir.appendingPathComponent("snapshot-source")
            try FileManager.default.createDirectory(at: snapDir, withIntermediateDirectories: true)
            let key = Ed25519.PrivateKey.generate()
            let id = try PeerID(ed25519PublicKey: key.publicKey.bytes)
            let db = try PinsetDatabase(path: snapDir.appendingPathComponent("pinset.sqlite").path)
            let rules = PinsetInstance(trust: .everyone)
            for start in stride(from: 0, to: snapshotPins, by: Self.rowsPerTransaction) {
                try db.write { store in
                    var ops = (start..<min(snapshotPins, start + Self.rowsPerTransaction)).map { PinsetOperation.pin(PinsetFixtures.pin($0)) }[...]
                    while let d = try rules.makeDelta(&ops, author: key, authorID: id, in: store) {
                        _ = try rules.apply(d.node, cid: d.cid, bytes: d.bytes, to: &store)
                    }
                }
            }
            progress("snapshot catch-up: making the snapshot")
            let makeSeconds = try time { _ = try db.makeSnapshot(author: id, key: key, created: .now()) }
            try db.close()
            let source = try await BenchPeer.start(dir: snapDir, group: group, key: key)
            progress("snapshot catch-up: a new peer (its own process) starts from it")
            let fresh2 = try PinsetPeer.catchUp(from: source.address, dir: dir.appendingPathComponent("fresh-from-snapshot"))
            guard fresh2.pins == snapshotPins, fresh2.snapshots == 1 else {
                throw ValidationError("snapshot catch-up ended with \(fresh2.pins) of \(snapshotPins) pins")
            }
            await source.stop()
            snapshotFields = [
                ("snapshot_catchup_pins", Double(snapshotPins)), ("snapshot_catchup_s", fresh2.seconds),
                ("snapshot_catchup_pins_per_s", Double(snapshotPins) / fresh2.seconds), ("snapshot_make_s", makeSeconds),
                ("snapshot_catchup_peer_peak_rss_mb", fresh2.peakRSS),
            ]
        }

        // Commit to all peers.
        progress("commit-to-all: \(commits) pins committed one by one on a \(peers)-peer loopback cluster")
        let (rtt, latencies) = try await commitToAll(dir: dir.appendingPathComponent("cluster"), group: group)
        try await group.shutdownGracefully()
        let pick = { (p: Double) in latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }

        BenchReport.print(
            scenario: "pinset",
            fields: [
                ("pins", Double(pins)), ("delta_pins", Double(delta)), ("dag_nodes", Double(nodes.count)),
                ("dag_mb", Double(dagBytes) / 1e6),
                ("apply_ops_per_s", Double(pins) / applySeconds),
                ("baseline_plain_insert_rows_per_s", Double(pins) / plainSeconds),
                ("ratio_apply_vs_plain_insert", plainSeconds / applySeconds),
                ("apply_memory_ops_per_s", Double(pins) / memorySeconds),
                ("catchup_pins", Double(pins)), ("catchup_s", catchup), ("catchup_fetch_rounds", Double(rounds)),
                ("catchup_pins_per_s", Double(pins) / catchup),
                ("baseline_local_apply_s", applySeconds), ("ratio_catchup_vs_local_apply", catchup / applySeconds),
                ("peak_rss_mb", fresh.peakRSS),  // the catching-up peer's own process
                ("bench_process_peak_rss_mb", peakRSSMegabytes()),  // generator, sources and cluster
                ("commit_to_all_p50_ms", pick(0.5) * 1e3), ("commit_to_all_p99_ms", pick(0.99) * 1e3),
                ("baseline_rpc_rtt_ms", rtt * 1e3), ("ratio_commit_to_all_p50_vs_rtt", pick(0.5) / rtt),
            ] + snapshotFields,
            json: json)
    }

    // MARK: Scenarios

    /// Rows per transaction in the apply scenario and its baseline: what a catching-up peer
    /// applies at once (`PinsetService.applyBatchOperations`).
    static let rowsPerTransaction = PinsetService.applyBatchOperations

    /// The baseline: the same (key, value) rows inserted into one plain table with the same
    /// settings and transaction size, through a prepared statement and SQLite's C API.
    private func plainInsert(_ rows: [(Data, Data)], path: String) throws -> Double {
        var config = Configuration()
        config.prepareDatabase { db in try PinsetDatabase.tune(db) }
        let pool = try DatabasePool(path: path, configuration: config)
        try pool.write { db in try db.execute(sql: "CREATE TABLE t(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID") }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        let seconds = try time {
            for chunk in stride(from: 0, to: rows.count, by: Self.rowsPerTransaction) {
                try pool.write { db in
                    var st: OpaquePointer?
                    guard sqlite3_prepare_v2(db.sqliteConnection, "INSERT INTO t(key, value) VALUES (?, ?)", -1, &st, nil) == SQLITE_OK else {
                        throw ValidationError("cannot prepare the baseline insert")
                    }
                    defer { sqlite3_finalize(st) }
                    for (k, v) in rows[chunk..<min(rows.count, chunk + Self.rowsPerTransaction)] {
                        _ = k.withUnsafeBytes { sqlite3_bind_blob(st, 1, $0.baseAddress, Int32($0.count), transient) }
                        _ = v.withUnsafeBytes { sqlite3_bind_blob(st, 2, $0.baseAddress, Int32($0.count), transient) }
                        guard sqlite3_step(st) == SQLITE_DONE else { throw ValidationError("baseline insert failed") }
                        sqlite3_reset(st)
                    }
                }
            }
        }
        try pool.close()
        return seconds
    }

    /// Applies the nodes in transactions of `rowsPerTransaction` pins, as a catching-up peer does.
    private func apply(_ nodes: [[UInt8]], path: String) throws -> Double {
        let db = try PinsetDatabase(path: path)
        let rules = PinsetInstance(trust: .everyone)
        let perTransaction = max(1, Self.rowsPerTransaction / delta)
        let seconds = try time {
            for chunk in stride(from: 0, to: nodes.count, by: perTransaction) {
                try db.write { store in
                    for n in nodes[chunk..<min(nodes.count, chunk + perTransaction)] { _ = try rules.apply(n, to: &store) }
                }
            }
        }
        guard try db.count() == pins else { throw ValidationError("apply ended with \(try db.count()) pins, expected \(pins)") }
        try db.close()
        return seconds
    }

    private func commitToAll(dir: URL, group: MultiThreadedEventLoopGroup) async throws -> (rtt: Double, latencies: [Double]) {
        var cluster: [BenchPeer] = []
        for i in 0..<peers { cluster.append(try await BenchPeer.start(dir: dir.appendingPathComponent("\(i)"), group: group)) }
        for i in cluster.indices {
            for j in cluster.indices where j > i { _ = try await cluster[i].transport.dial(cluster[j].address) }
        }
        for p in cluster { _ = await p.pubsub.waitForPeers(subscribedTo: p.pinset.topic, count: peers - 1, timeout: .seconds(10)) }

        // Baseline: RPC round trips on the same transport.
        cluster[1].transport.server.register("bench/echo") { _, payload in payload }
        let conn = cluster[0].transport.connection(to: cluster[1].transport.localPeer)!
        var rtts: [Double] = []
        for _ in 0..<200 { rtts.append(try await time { _ = try await conn.call("bench/echo", [1, 2, 3]) }) }
        rtts.sort()

        // Arrival times, keyed by pin number, on every other peer.
        let arrivals = Arrivals()
        var readers: [Task<Void, Never>] = []
        for p in cluster.dropFirst() {
            let changes = await p.pinset.changes()
            readers.append(Task {
                for await keys in changes {
                    let now = DispatchTime.now().uptimeNanoseconds
                    for k in keys { await arrivals.arrived(k, at: now) }
                }
            })
        }
        var committed: [CID: UInt64] = [:]
        for n in 0..<commits {
            let pin = PinsetFixtures.pin(10_000_000 + n)
            let start = DispatchTime.now().uptimeNanoseconds
            try await cluster[0].pinset.pin([pin])
            committed[pin.cid] = start
            // About 100 commits per second.
            try await Task.sleep(for: .milliseconds(10))
        }
        let everyone = peers - 1
        let deadline = DispatchTime.now().uptimeNanoseconds + 10_000_000_000
        while await arrivals.complete(committed.keys, peers: everyone) == false, DispatchTime.now().uptimeNanoseconds < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        for r in readers { r.cancel() }
        var latencies: [Double] = []
        for (cid, start) in committed {
            guard let last = await arrivals.last(cid, peers: everyone) else {
                throw ValidationError("pin \(cid) did not reach every peer within 10 s")
            }
            latencies.append(Double(last - start) / 1e9)
        }
        latencies.sort()
        for p in cluster { await p.stop() }
        return (rtts[rtts.count / 2], latencies)
    }

    private actor Arrivals {
        var times: [CID: [UInt64]] = [:]
        func arrived(_ k: CID, at t: UInt64) { times[k, default: []].append(t) }
        func complete(_ keys: some Sequence<CID>, peers: Int) -> Bool { keys.allSatisfy { (times[$0]?.count ?? 0) >= peers } }
        func last(_ k: CID, peers: Int) -> UInt64? {
            guard let t = times[k], t.count >= peers else { return nil }
            return t.max()
        }
    }

    // MARK: Helpers

    private func time(_ body: () throws -> Void) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func time(_ body: () async throws -> Void) async throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try await body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func progress(_ s: String) { FileHandle.standardError.write(Data("pinset: \(s)...\n".utf8)) }
}

/// One in-process peer: transport, pubsub and pinset with its database in `dir`.
struct BenchPeer {
    let key: Ed25519.PrivateKey
    let transport: SecureTransport
    let pubsub: PubSubService
    let pinset: PinsetService
    let database: PinsetDatabase
    let address: Multiaddr

    static let secret = SecureBytes([UInt8](repeating: 7, count: 32))

    static func start(dir: URL, group: MultiThreadedEventLoopGroup, key: Ed25519.PrivateKey = .generate()) async throws -> BenchPeer {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let transport = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: key), group: group)
        let pubsub = try PubSubService(transport: transport, identity: key)
        await pubsub.start()
        let database = try PinsetDatabase(path: dir.appendingPathComponent("pinset.sqlite").path)
        var settings = PinsetService.Settings()
        settings.clusterName = "bench"
        settings.batching.maxAgeMillis = 2
        let pinset = try PinsetService(database: database, transport: transport, pubsub: pubsub, identity: key, settings: settings)
        try await pinset.start()
        let port = try await transport.listen()
        return BenchPeer(
            key: key, transport: transport, pubsub: pubsub, pinset: pinset, database: database,
            address: try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(transport.localPeer)"))
    }

    func stop() async {
        await pinset.stop()
        await pubsub.stop()
        await transport.shutdown()
        try? database.close()
    }
}

/// The process's peak resident set (VmHWM), in MB.
func peakRSSMegabytes() -> Double { ProcessMemory.megabytes("VmHWM") }

/// The new peer of the catch-up scenarios, in a process of its own (not for direct use): it
/// dials the source, syncs, and reports the time, pins, fetch rounds and its own peak RSS.
struct PinsetPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pinset-peer", shouldDisplay: false)

    @Option var source: String
    @Option var dir: String

    struct Result {
        let seconds: Double
        let pins: Int
        let rounds: Int
        let snapshots: Int
        let peakRSS: Double
    }

    /// Runs a peer process that catches up from `source` in `dir`.
    static func catchUp(from source: Multiaddr, dir: URL) throws -> Result {
        let child = try Child(arguments: ["pinset-peer", "--source", source.description, "--dir", dir.path])
        defer { child.terminate() }
        let words = try child.expect("DONE").split(separator: " ").compactMap { Double($0) }
        guard words.count == 5 else { throw ValidationError("the catch-up peer answered something else") }
        return Result(seconds: words[0], pins: Int(words[1]), rounds: Int(words[2]), snapshots: Int(words[3]), peakRSS: words[4])
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let peer = try await BenchPeer.start(dir: URL(fileURLWithPath: dir), group: group)
        let address = try Multiaddr(source)
        let start = DispatchTime.now().uptimeNanoseconds
        let connection = try await peer.transport.dial(address)
        try await peer.pinset.sync(from: connection.peer)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let pins = try peer.database.count()
        let stats = await peer.pinset.stats
        FileHandle.standardOutput.write(
            Data("DONE \(seconds) \(pins) \(stats.fetchRounds) \(stats.snapshotsLoaded) \(peakRSSMegabytes())\n".utf8))
        await peer.stop()
        try await group.shutdownGracefully()
    }
}
