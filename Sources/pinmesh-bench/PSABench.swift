import ArgumentParser
import AsyncHTTPClient
import ClusterTestKit
import Dispatch
import Foundation
import Logging
import Multiformats
import NIOCore
import Node
import PinningService

/// `pinmesh-bench psa`: `POST /pins` of the Pinning Service API against the same pins through
/// the REST API (`POST /pins/{cid}`), on one loopback cluster, same HTTP client, same number in
/// flight, in alternating rounds so drift hits both alike (`ratio_psa_vs_rest`); then one page
/// of `limit` results, with every status and with the default `pinned` filter.
struct PSABench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "psa", abstract: "Pinning Service API: create rate against the REST API's pin rate, and a listing page.")

    @Option(help: "Peers.") var peers = 1
    @Option(help: "Pins submitted through each API.") var pins = 1000
    @Option(help: "Requests in flight at once.") var concurrency = 16
    @Option(help: "Alternating rounds the pins are split into.") var rounds = 4
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard peers >= 1, pins >= rounds, rounds >= 1, concurrency >= 1 else {
            throw ValidationError("need --peers >= 1, --rounds >= 1, --pins >= --rounds, --concurrency >= 1")
        }
    }

    func run() async throws {
        progress("starting \(peers) peer(s)")
        let cluster = try await startCluster(peers: peers)
        defer { Task { await cluster.shutdown() } }
        var quiet = Logger(label: "bench.psa")
        quiet.logLevel = .critical
        let service = PinningService(peer: cluster[0].peer, logger: quiet)
        let psa = try await RunningApp.start(logger: quiet) { running in
            PinningServiceServer(service: service, logger: quiet).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        defer { Task { await psa.stop() } }
        let rest = try await serveREST(cluster[0].peer)
        defer { Task { await rest.stop() } }

        progress("adding \(2 * pins) files to peer 0")
        var cids: [CID] = []
        for i in 0..<(2 * pins) { cids.append(try await cluster.addFile(Array("psa bench \(i) \(UInt64.random(in: 0...UInt64.max))".utf8), to: 0)) }
        let restCIDs = Array(cids[..<pins])
        let psaCIDs = Array(cids[pins...])
        var restSeconds = 0.0
        var psaSeconds = 0.0
        let per = pins / rounds
        for round in 0..<rounds {
            let lo = round * per
            let hi = round == rounds - 1 ? pins : lo + per
            progress("round \(round + 1) of \(rounds): \(hi - lo) pins through each API")
            restSeconds += try await timed(hi - lo) { i in
                try await Self.post("http://127.0.0.1:\(rest.port)/pins/\(restCIDs[lo + i])", body: nil, expect: 200)
            }
            psaSeconds += try await timed(hi - lo) { i in
                try await Self.post("http://127.0.0.1:\(psa.port)/pins", body: #"{"cid":"\#(psaCIDs[lo + i])","name":"bench \#(lo + i)"}"#, expect: 202)
            }
        }
        let restRate = Double(pins) / restSeconds
        let psaRate = Double(pins) / psaSeconds
        // A page of up to 1,000 results: every status (statuses of the page only), and the
        // default filter (statuses of every request; cached for 1 s, so asked fresh here).
        let limit = min(pins, 1000)
        let allMs = try await Self.getMs("http://127.0.0.1:\(psa.port)/pins?limit=\(limit)&status=queued,pinning,pinned,failed")
        try await Task.sleep(for: .milliseconds(1100))
        let pinnedMs = try await Self.getMs("http://127.0.0.1:\(psa.port)/pins?limit=\(limit)")
        if json {
            let out: [String: Any] = [
                "scenario": "psa", "peers": peers, "pins": pins, "concurrency": concurrency,
                "psa_pins_per_s": psaRate.rounded(), "rest_pins_per_s": restRate.rounded(),
                "ratio_psa_vs_rest": (psaRate / restRate * 100).rounded() / 100,
                "list_page_all_statuses_ms": (allMs * 10).rounded() / 10, "list_page_pinned_ms": (pinnedMs * 10).rounded() / 10,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print("Pinning Service API, \(peers) peer(s), \(pins) pins per API, \(concurrency) in flight")
            print("  POST /pins (PSA)           \(Int(psaRate)) pins/s")
            print("  POST /pins/{cid} (REST)    \(Int(restRate)) pins/s")
            print("  ratio PSA vs REST          \(String(format: "%.2f", psaRate / restRate))")
            print("  GET /pins, \(limit), all statuses  \(String(format: "%.1f", allMs)) ms")
            print("  GET /pins, \(limit), pinned        \(String(format: "%.1f", pinnedMs)) ms")
        }
    }

    /// Seconds to run `body` for 0..<count with `concurrency` in flight.
    func timed(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try await withThrowingTaskGroup(of: Void.self) { g in
            var next = 0
            for _ in 0..<min(concurrency, count) {
                let i = next
                next += 1
                g.addTask { try await body(i) }
            }
            while try await g.next() != nil {
                guard next < count else { continue }
                let i = next
                next += 1
                g.addTask { try await body(i) }
            }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    static func post(_ url: String, body: String?, expect: Int) async throws {
        var r = HTTPClientRequest(url: url)
        r.method = .POST
        if let body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(r, timeout: .seconds(60))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status.code == expect else { throw ValidationError("POST \(url): \(response.status.code) \(text)") }
    }

    static func getMs(_ url: String) async throws -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(120))
        _ = try await response.body.collect(upTo: 64 << 20)
        guard response.status.code == 200 else { throw ValidationError("GET \(url): \(response.status.code)") }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    }

    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(Data("… \(s)\n".utf8)) }
    }
}
