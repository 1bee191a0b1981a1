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
/// same run (`ratio_gateway_vs_cat`; the goal is ≥ 0.9). Each read is checked for its
/// length; the median of `--repeats` is reported.
struct GatewayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway", abstract: "HTTP gateway: a large file through /ipfs/<cid> against cat over the RPC API.")

    @Option(help: "Bytes of the file served.") var size = 1 << 30
    @Option(help: "Repetitions of each read; the median is reported.") var repeats = 3
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
        await gw.stop()
        await api.stop()
        let g = median(gatewayRates), c = median(catRates)
        BenchReport.print(
            scenario: "gateway",
            fields: [("bytes", Double(size)), ("gateway_mb_s", g), ("cat_mb_s", c), ("ratio_gateway_vs_cat", g / c)],
            json: json, text: ["cid": cid.description])
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
