import ArgumentParser
import AsyncHTTPClient
import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import Node
import UnixFS

/// `pinmesh-bench load`: many clients streaming `GET /pins` at once while pins arrive at a
/// steady rate, through one peer's REST API on a loopback cluster; errors and resident memory
/// over time. The baseline: the memory of the idle cluster before the load.
struct LoadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Concurrent GET /pins streams and a steady pin rate against one peer's API.")

    @Option(help: "Peers.") var peers = 3
    @Option(help: "Clients each reading GET /pins over and over.") var streams = 1000
    @Option(name: .customLong("pins-per-second"), help: "Pins submitted per second.") var pinsPerSecond = 200
    @Option(help: "Seconds of load.") var seconds = 60
    @Option(help: "Replication of each pin.") var replication = 2
    @Flag(help: "Stream this peer's view only (GET /pins?local=true), not every peer's.") var local = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard peers >= 1, streams >= 0, pinsPerSecond >= 1, seconds >= 1, replication >= 1, replication <= peers else {
            throw ValidationError("need --peers >= 1, --streams >= 0, --pins-per-second >= 1, --seconds >= 1, 1 <= --replication <= --peers")
        }
    }

    func run() async throws {
        progress("starting \(peers) peers")
        let cluster = try await startCluster(peers: peers)
        defer { Task { await cluster.shutdown() } }
        // The content: one small block per pin, in peer 0's IPFS (the others fetch it).
        let count = pinsPerSecond * seconds
        progress("storing \(count) blocks")
        let blocks = (0..<count).map { i -> Block in
            let bytes = Array("pinmesh load \(i)\n".utf8)
            return Block(cid: CID.v1(codec: .raw, .sha256(bytes)), bytes: bytes)
        }
        _ = try await cluster[0].connector.blockPut(BlockList(blocks: blocks))
        let server = try await serveREST(cluster[0].peer)
        defer { Task { await server.stop() } }
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: streams + 300)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        defer { Task { try? await http.shutdown() } }
        let client = try ClusterClient(hosts: ["http://127.0.0.1:\(server.port)"], timeout: .seconds(600), client: http)
        let idle = ProcessMemory.megabytes("VmRSS")

        progress("\(streams) streams and \(pinsPerSecond) pins/s for \(seconds) s")
        let cids = blocks.map(\.cid)
        let query = local ? [("local", "true")] : []
        let result = await LoadScenario(streams: streams, pinsPerSecond: pinsPerSecond, duration: .seconds(seconds)).run(
            pin: { i in _ = try await client.call(.POST, "/pins/\(cids[i])", query: [("replication", String(replication))]) },
            stream: {
                var lines = 0
                try await client.lines(.GET, "/pins", query: query) { _ in lines += 1 }
                return lines
            })
        if let e = result.firstError { progress("first error: \(e)") }
        let rss = result.rssMB
        let secondHalf = rss.suffix(max(1, rss.count / 2))
        BenchReport.print(
            scenario: "load",
            fields: [
                ("peers", Double(peers)), ("streams", Double(streams)), ("pins_per_s_target", Double(pinsPerSecond)),
                ("seconds", result.seconds), ("pins_done", Double(result.pinsDone)), ("pins_per_s", Double(result.pinsDone) / max(result.pinSeconds, 1e-9)),
                ("pin_latency_p50_s", Self.percentile(result.pinLatencies, 0.5)), ("pin_latency_p99_s", Self.percentile(result.pinLatencies, 0.99)),
                ("pin_errors", Double(result.pinErrors)), ("streams_read", Double(result.streamsRead)), ("stream_lines", Double(result.streamLines)),
                ("stream_errors", Double(result.streamErrors)), ("idle_rss_mb", idle), ("peak_rss_mb", rss.max() ?? 0),
                ("rss_first_half_max_mb", rss.prefix(max(1, rss.count / 2)).max() ?? 0), ("rss_second_half_max_mb", secondHalf.max() ?? 0),
                ("end_rss_mb", rss.last ?? 0),
            ], json: json)
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
    }

    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(Data("… \(s)\n".utf8)) }
    }
}
