import ArgumentParser
import AsyncHTTPClient
import ClusterTestKit
import Dispatch
import EmbeddedIPFS
import Foundation
import Gateway
import Logging
import Multiformats
import NIOCore
import UnixFS

/// `pinmesh-bench gateway`: one file served by the embedded node's gateway against `cat` of it
/// over the node's RPC API, both from one repository in this process over loopback HTTP, in the
/// same run (`ratio_gateway_vs_cat`; the goal is ≥ 0.9), and the first-byte latency of
/// a 1 KiB file under `--clients` concurrent clients (p50, p99; the client runs in this process,
/// so it is a pessimistic figure). Each read is checked for its length; the median of
/// `--repeats` is reported.
struct GatewayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway", abstract: "HTTP gateway: a large file through /ipfs/<cid> against cat over the RPC API.")

    @Option(help: "Bytes of the file served.") var size = 1 << 30
    @Option(help: "Repetitions of each read; the median is reported.") var repeats = 3
    @Option(help: "Concurrent clients for the first-byte latency of a 1 KiB file.") var clients = 100
    @Option(help: "Requests per client for the latency run.") var requests = 50
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard size > 0, repeats >= 1 else { throw ValidationError("--size and --repeats must be positive") }
    }

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-bench-gateway-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try IPFSRepo.initialize(at: root, storageMax: "1TB")
        let repo = try IPFSRepo(root: root)
        progress("importing \(size >> 20) MiB")
        let cid = try Self.importFile(size: size, into: repo)
        var logger = Logger(label: "bench.gateway")
        logger.logLevel = .critical
        let gw = try await RunningApp.start(logger: logger) { GatewayServer(repo: repo, logger: logger).application(host: "127.0.0.1", port: 0, onRunning: $0) }
        let api = try await RunningApp.start(logger: logger) { KuboRPCServer(repo: repo, logger: logger).application(host: "127.0.0.1", port: 0, onRunning: $0) }
        var gatewayRates: [Double] = []
        var catRates: [Double] = []
        for rep in 0..<repeats {
            progress("read \(rep + 1) of \(repeats)")
            gatewayRates.append(try await rate(HTTPClientRequest(url: "http://127.0.0.1:\(gw.port)/ipfs/\(cid)")))
            var cat = HTTPClientRequest(url: "http://127.0.0.1:\(api.port)/api/v0/cat?arg=\(cid)")
            cat.method = .POST
            catRates.append(try await rate(cat))
        }
        progress("first byte of a 1 KiB file, \(clients) clients × \(requests) requests")
        let small = try FileImporter.importBytes([UInt8](repeating: 0x61, count: 1024), settings: ImportSettings(), keepBlocks: true)
        for b in small.blocks { try repo.put(b) }
        let latencies = try await firstByte(url: "http://127.0.0.1:\(gw.port)/ipfs/\(small.root.cid)")
        await gw.stop()
        await api.stop()
        let g = median(gatewayRates), c = median(catRates)
        BenchReport.print(
            scenario: "gateway",
            fields: [
                ("bytes", Double(size)), ("gateway_mb_s", g), ("cat_mb_s", c), ("ratio_gateway_vs_cat", g / c),
                ("clients", Double(clients)), ("first_byte_p50_ms", latencies[latencies.count / 2]),
                ("first_byte_p99_ms", latencies[min(latencies.count - 1, latencies.count * 99 / 100)]),
            ],
            json: json, text: ["cid": cid.description])
    }

    /// Sorted milliseconds from sending a GET of `url` to its response head, `clients` at once
    /// (one connection each, kept alive), `requests` each; the client shares this process.
    func firstByte(url: String) async throws -> [Double] {
        var config = HTTPClient.Configuration()
        config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = clients
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        defer { _ = http.shutdown() }
        let n = requests
        let all = try await withThrowingTaskGroup(of: [Double].self) { g in
            for _ in 0..<clients {
                g.addTask {
                    var out: [Double] = []
                    for _ in 0..<n {
                        let start = DispatchTime.now().uptimeNanoseconds
                        let r = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
                        out.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                        guard r.status == .ok, try await r.body.collect(upTo: 4096).readableBytes == 1024 else {
                            throw ValidationError("\(url) answered \(r.status)")
                        }
                    }
                    return out
                }
            }
            var all: [Double] = []
            for try await part in g { all += part }
            return all
        }
        return all.sorted()
    }

    /// MB/s of reading `request`'s whole body (which must be `size` bytes).
    func rate(_ request: HTTPClientRequest) async throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        let response = try await HTTPClient.shared.execute(request, timeout: .hours(1))
        var n = 0
        for try await part in response.body { n += part.readableBytes }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard response.status == .ok, n == size else {
            throw ValidationError("\(request.url) answered \(response.status) with \(n) of \(size) bytes")
        }
        return Double(size) / 1e6 / seconds
    }

    /// Imports `size` pseudo-random bytes (kubo's default DAG) into `repo` a MiB at a time; the root CID.
    static func importFile(size: Int, into repo: IPFSRepo) throws -> CID {
        var importer = try FileImporter(settings: ImportSettings(), keepBlocks: true)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var chunk = [UInt64](repeating: 0, count: 1 << 17)
        var left = size
        while left > 0 {
            for i in chunk.indices {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                chunk[i] = state
            }
            let n = min(left, chunk.count * 8)
            chunk.withUnsafeBytes { importer.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            left -= n
            for b in importer.takeBlocks() { try repo.put(b) }
        }
        let root = importer.finish()
        for b in importer.takeBlocks() { try repo.put(b) }
        return root.cid
    }

    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(Data("… \(s)\n".utf8)) }
    }
}
