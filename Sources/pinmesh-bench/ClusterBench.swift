import ArgumentParser
import ClusterClient
import ClusterModel
import ClusterTestKit
import Dispatch
import EmbeddedIPFS
import Foundation
import Multiformats
import NIOConcurrencyHelpers
import Node
import RESTAPI
import UnixFS

/// `pinmesh-bench cluster`: N real peers on loopback (embedded IPFS each, the production
/// monitor settings), driven through the REST API. Each figure beside a baseline from the same
/// run: pins accepted per second against empty requests (`GET /version`) per second through
/// the same client; time until pinned on every allocation against one RPC round trip between
/// peers; time to detect a killed peer against the ping TTL.
struct ClusterBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "A loopback cluster: pin rate and latency, dead-peer detection and repinning.")

    @Option(help: "Peers.") var peers = 3
    @Option(help: "Pins submitted.") var pins = 500
    @Option(help: "Replication factor of each pin.") var replication = 2
    @Option(help: "Requests in flight at once.") var concurrency = 16
    @Option(name: .customLong("repin-delay"), help: "cluster.repinning_delay (Go duration).") var repinDelay = "10s"
    @Option(name: .customLong("batch-age"), help: "consensus.crdt.batching.max_batch_age (Go duration).") var batchAge = "5ms"
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard peers >= 2, pins >= 1, replication >= 1, replication < peers, concurrency >= 1 else {
            throw ValidationError("need --peers >= 2, --pins >= 1, 1 <= --replication < --peers (a killed peer's pins need somewhere to go), --concurrency >= 1")
        }
        guard GoDuration.parse(repinDelay) != nil else { throw ValidationError("--repin-delay: a Go duration like 10s") }
        guard GoDuration.parse(batchAge) != nil else { throw ValidationError("--batch-age: a Go duration like 5ms") }
    }

    func run() async throws {
        let delay = GoDuration.parse(repinDelay)!
        let age = GoDuration.parse(batchAge)!.components
        let ageMillis = age.seconds * 1000 + age.attoseconds / 1_000_000_000_000_000
        progress("starting \(peers) peers")
        let cluster = try await startCluster(peers: peers) { s in
            // What service.json defaults to, except the repinning delay.
            s.monitor.pingInterval = .seconds(1)
            s.monitor.checkInterval = .seconds(1)
            s.monitor.informerTTL = .seconds(3)
            s.pinset.announceInterval = .seconds(1)
            s.connections.keepaliveInterval = .seconds(5)
            s.connections.keepaliveTimeout = .seconds(5)
            s.repinningDelay = delay
            s.pinset.batching.maxAgeMillis = ageMillis
        }
        defer { Task { await cluster.shutdown() } }
        let runStart = DispatchTime.now().uptimeNanoseconds
        var bytesBefore = 0
        for m in cluster.members { bytesBefore += await m.peer.monitor.bytesPublished }

        let server = try await serveREST(cluster[0].peer)
        defer { Task { await server.stop() } }
        let port = server.port
        let client = try ClusterClient(hosts: ["http://127.0.0.1:\(port)"])

        // Baseline: empty requests per second, same client, same concurrency.
        let versionRate = try await rate(count: max(pins, 200)) { _ in _ = try await client.call(.GET, "/version") }

        // Baseline: one RPC round trip between two peers.
        var pingTimes: [Double] = []
        for _ in 0..<200 {
            guard let c = cluster[0].peer.transport.connection(to: cluster[1].id) else { break }
            let t = DispatchTime.now().uptimeNanoseconds
            _ = try await c.call("pinmesh/ping", [])
            pingTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }

        // Content: small files in peer 0's IPFS (the others fetch the blocks they are allocated).
        progress("adding \(pins) files to peer 0")
        var cids: [CID] = []
        var blocks: [Block] = []
        for i in 0..<pins {
            var bytes = [UInt8](repeating: 0, count: 2048)
            withUnsafeBytes(of: UInt64(i).littleEndian) { for (k, b) in $0.enumerated() { bytes[k] = b } }
            withUnsafeBytes(of: UInt64(runStart).littleEndian) { for (k, b) in $0.enumerated() { bytes[8 + k] = b } }
            let (root, bs) = try FileImporter.importBytes(bytes, settings: ImportSettings(), keepBlocks: true)
            cids.append(root.cid)
            blocks += bs
        }
        _ = try await cluster[0].connector.blockPut(BlockList(blocks: blocks))
        let targets = cids

        progress("pinning \(pins) CIDs through the REST API, replication \(replication)")
        let submitted = NIOLockedValueBox<[CID: UInt64]>([:])
        let allocations = NIOLockedValueBox<[CID: [PeerID]]>([:])
        var streams: [(PeerID, AsyncStream<PinTrackerService.Finished>)] = []
        for m in cluster.members { streams.append((m.id, await m.peer.tracker.finishedOperations())) }
        let watching = streams
        let watcher = Task { try await self.watchPinned(cluster, streams: watching, count: targets.count, submitted: submitted) }
        let pinRate = try await rate(count: pins) { i in
            let cid = targets[i]
            submitted.withLockedValue { $0[cid] = DispatchTime.now().uptimeNanoseconds }
            let pin = try await client.decode(
                Pin.self, .POST, "/pins/\(cid)", query: [("replication-min", "\(replication)"), ("replication-max", "\(replication)")])
            allocations.withLockedValue { $0[cid] = pin.allocations }
        }
        let latencies = try await watcher.value.sorted()

        // Kill the peer (not 0) holding the most pins; time the alert and the repinning.
        let held = (1..<peers).map { i in (i, allocations.withLockedValue { $0.values.filter { $0.contains(cluster[i].id) }.count }) }
        let victim = held.max { $0.1 < $1.1 }!.0
        let dead = cluster[victim].id
        let moved = allocations.withLockedValue { $0.filter { $0.value.contains(dead) }.map(\.key) }
        progress("killing peer \(victim) (\(moved.count) pins to move)")
        let alerts = await cluster[0].peer.monitor.alerts()
        let killed = DispatchTime.now().uptimeNanoseconds
        await cluster.kill(victim)
        var detected = 0.0
        for await a in alerts where a.metric.name == "ping" && a.metric.peer == dead {
            detected = Double(DispatchTime.now().uptimeNanoseconds - killed) / 1e9
            break
        }
        let done = await LocalCluster.eventually(timeout: .seconds(600)) {
            for cid in moved {
                guard let p = try? await cluster[0].peer.pinned(cid), !p.allocations.contains(dead) else { return false }
                for m in cluster.members where m.running && p.allocations.contains(m.id) {
                    guard (try? m.repo.pins.get(cid)) != nil else { return false }
                }
            }
            return true
        }
        guard done else { throw ValidationError("the killed peer's pins were not all re-pinned within 10 minutes") }
        let repinDone = Double(DispatchTime.now().uptimeNanoseconds - killed) / 1e9

        var bytesAfter = 0
        for m in cluster.members { bytesAfter += await m.peer.monitor.bytesPublished }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - runStart) / 1e9
        let metricRate = Double(bytesAfter - bytesBefore) / Double(peers) / seconds
        let ttl = 3.0
        let p50 = pct(latencies, 0.5), p99 = pct(latencies, 0.99), ping50 = pct(pingTimes.sorted(), 0.5)
        BenchReport.print(
            scenario: "cluster",
            fields: [
                ("peers", Double(peers)), ("pins", Double(pins)), ("replication", Double(replication)),
                ("pins_per_s", pinRate), ("empty_requests_per_s", versionRate), ("ratio_pins_vs_empty_requests", pinRate / versionRate),
                ("pinned_all_p50_ms", p50), ("pinned_all_p99_ms", p99), ("rpc_round_trip_p50_ms", ping50),
                ("detect_dead_s", detected), ("ping_ttl_s", ttl), ("ratio_detect_vs_ttl", detected / ttl),
                ("repin_delay_s", Double(delay.components.seconds)), ("repinned_pins", Double(moved.count)), ("repin_done_s", repinDone),
                ("metrics_bytes_per_peer_per_s", metricRate),
            ], json: json)
    }

    /// Runs `body` for 0..<count with `concurrency` in flight; returns completions per second.
    func rate(count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try await withThrowingTaskGroup(of: Void.self) { g in
            var next = 0
            for _ in 0..<min(concurrency, count) {
                let i = next
                next += 1
                g.addTask { try await body(i) }
            }
            while try await g.next() != nil {
                if next < count {
                    let i = next
                    next += 1
                    g.addTask { try await body(i) }
                }
            }
        }
        return Double(count) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    /// Milliseconds from submission until each pin was pinned on all its allocations, from
    /// the trackers' completion events (no polling). `streams` are subscribed before any pin.
    func watchPinned(
        _ cluster: LocalCluster, streams: [(PeerID, AsyncStream<PinTrackerService.Finished>)], count: Int,
        submitted: NIOLockedValueBox<[CID: UInt64]>
    ) async throws -> [Double] {
        let (events, sink) = AsyncStream.makeStream(of: (CID, PeerID).self)
        var readers: [Task<Void, Never>] = []
        for (id, stream) in streams {
            readers.append(Task {
                for await f in stream where f.kind == .pin && f.error == nil { sink.yield((f.cid, id)) }
            })
        }
        defer { for r in readers { r.cancel() } }
        let timeout = Task {
            _ = await LocalCluster.eventually(timeout: .seconds(600)) { false }
            sink.finish()
        }
        defer { timeout.cancel() }
        var done: [CID: Set<PeerID>] = [:]
        var out: [Double] = []
        for await (cid, peer) in events {
            done[cid, default: []].insert(peer)
            // Peer 0 committed the pin before anyone could pin it: its allocations are there.
            guard let t0 = submitted.withLockedValue({ $0[cid] }), let pin = try await cluster[0].peer.pinned(cid),
                Set(pin.allocations).isSubset(of: done[cid]!)
            else { continue }
            out.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            done[cid] = nil
            if out.count == count { break }
        }
        guard out.count == count else { throw ValidationError("\(count - out.count) pins not pinned within 10 minutes") }
        return out
    }

    func pct(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(Data("… \(s)\n".utf8)) }
    }
}

/// A loopback cluster of `peers`, returned once every peer sees every other.
func startCluster(peers: Int, tweak: @escaping @Sendable (inout ClusterPeer.Settings) -> Void = { _ in }) async throws -> LocalCluster {
    let cluster = try await LocalCluster(peers: peers, tweak: tweak)
    // What a daemon publishes besides the ping and the informers (pinned_total, bandwidth), so
    // the metrics' bytes per second are a daemon's; the IPFS counters read the embedded nodes'.
    for m in cluster.members {
        let bitswap = m.node?.bitswap
        await m.peer.addActivityInformers(
            ipfs: bitswap.map { b in
                { @Sendable in (UInt64(await b.clientCounters.blockBytesReceived), UInt64(await b.serverCounters.blockBytesSent)) }
            })
    }
    guard await LocalCluster.eventually(timeout: .seconds(60), {
        for m in cluster.members { if await m.peer.monitor.peers().count != peers { return false } }
        return true
    }) else {
        await cluster.shutdown()
        throw ValidationError("the peers did not all see each other within 60 s")
    }
    return cluster
}

/// `peer`'s REST API on a port the OS picks; `stop()` ends it gracefully.
func serveREST(_ peer: ClusterPeer) async throws -> RunningApp {
    try await RunningApp.start { running in try RESTAPIServer(peer: peer).application(host: "127.0.0.1", port: 0, onRunning: running) }
}
