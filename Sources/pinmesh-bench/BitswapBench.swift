import ArgumentParser
import ClusterTestKit
import Foundation
import Multiformats

/// `pinmesh-bench bitswap`: PinMesh's libp2p host and bitswap against a real kubo 0.22 on
/// loopback, every figure beside its baseline from the same run.
///
/// - Fetch: kubo B downloads a file kubo A added (the baseline), then PinMesh fetches the same
///   DAG from A into a flatfs store (time to the last block stored): `ratio_fetch_vs_kubo`.
/// - Serve: a fresh kubo C, connected only to PinMesh, downloads the file from it:
///   `ratio_serve_vs_kubo` against the same kubo-from-kubo baseline.
/// - Memory: this process's peak RSS (VmHWM, reset before each step through
///   `/proc/self/clear_refs`) while fetching a file of a quarter of the size and of the full
///   size, and while serving: flat when the two fetch peaks are close.
/// - Host: dial to first stream (median of 20) and one stream's rate against ChaChaPoly's
///   one-core rate (`ratio_stream_vs_aead`).
/// - Needs kubo (`bash .ci/kubo`); every kubo and temporary folder is removed at the end.
struct BitswapBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bitswap", abstract: "libp2p and bitswap against kubo: fetch, serve, memory, dial, one stream, against their baselines.")

    @Option(help: "Bytes of the file moved over bitswap.") var size = 256 << 20
    @Option(help: "Bytes moved through the one-stream measurement.") var streamBytes = 256 << 20
    @Option(help: "Dials for the connect-to-first-stream median.") var dials = 20
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard size >= 4 << 20 else { throw ValidationError("--size must be at least 4 MiB") }
        guard streamBytes >= 1 << 20, dials >= 1 else { throw ValidationError("--stream-bytes must be at least 1 MiB and --dials at least 1") }
    }

    func run() async throws {
        if let why = KuboPeer.availability() { throw ValidationError("kubo is not available: \(why) (run `bash .ci/kubo`)") }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-bench-bitswap-\(getpid())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }

        progress("dial to first stream, \(dials) times")
        let dial = try await Self.measureDials(dials)
        progress("one stream, \(streamBytes >> 20) MiB")
        let stream = try await Self.measureStream(total: streamBytes)
        let aead = try Self.measureAEAD(total: streamBytes)

        let kubos = KuboSet()
        do {
            let figures = try await exchange(root: root, kubos: kubos)
            await kubos.stopAll()
            report(dial: dial, stream: stream, aead: aead, figures)
        } catch {
            await kubos.stopAll()
            throw error
        }
    }

    /// The bitswap figures: kubo→kubo, kubo→PinMesh (two sizes), PinMesh→kubo.
    private func exchange(root: URL, kubos: KuboSet) async throws -> ExchangeFigures {
        progress("starting kubo A and writing \(size >> 20) MiB and \(size >> 22) MiB files")
        let a = try await kubos.start()
        let small = root.appendingPathComponent("small").path, big = root.appendingPathComponent("big").path
        try Self.writeFile(small, bytes: size / 4, seed: 1)
        try Self.writeFile(big, bytes: size, seed: 2)
        let smallCID = try await a.add(path: small, timeout: .seconds(600))
        let bigCID = try await a.add(path: big, timeout: .seconds(600))
        try? FileManager.default.removeItem(atPath: small)
        try? FileManager.default.removeItem(atPath: big)

        progress("kubo B downloads from kubo A")
        let b = try await kubos.start()
        try await b.connect(a.dialAddress)
        let kuboSeconds = try await timed { _ = try await b.download(cid: bigCID, to: root.appendingPathComponent("b-out").path, timeout: .seconds(900)) }
        try? FileManager.default.removeItem(at: root.appendingPathComponent("b-out"))

        let node = try await BitswapBenchNode(directory: root.appendingPathComponent("flatfs").path)
        try await node.host.connect(a.dialAddress)
        progress("PinMesh fetches \(size >> 22) MiB from kubo A")
        ProcessMemory.resetPeak()
        let rssBefore = ProcessMemory.megabytes("VmRSS")
        _ = try await node.fetchDAG(smallCID)
        let smallPeak = ProcessMemory.megabytes("VmHWM")
        progress("PinMesh fetches \(size >> 20) MiB from kubo A")
        ProcessMemory.resetPeak()
        var fetched = (blocks: 0, bytes: 0)
        let fetchSeconds = try await timed { fetched = try await node.fetchDAG(bigCID) }
        let fetchPeak = ProcessMemory.megabytes("VmHWM")
        await node.host.disconnect(a.id)

        progress("kubo C downloads from PinMesh")
        let c = try await kubos.start()
        try await c.connect(try node.dialAddress)
        ProcessMemory.resetPeak()
        let serveSeconds = try await timed { _ = try await c.download(cid: bigCID, to: root.appendingPathComponent("c-out").path, timeout: .seconds(900)) }
        let servePeak = ProcessMemory.megabytes("VmHWM")
        await node.shutdown()
        return ExchangeFigures(
            blocks: fetched.blocks, dagBytes: fetched.bytes, kuboSeconds: kuboSeconds, fetchSeconds: fetchSeconds, serveSeconds: serveSeconds,
            rssBefore: rssBefore, smallPeak: smallPeak, fetchPeak: fetchPeak, servePeak: servePeak)
    }

    private func report(dial: (median: Double, min: Double), stream: Double, aead: Double, _ f: ExchangeFigures) {
        let mb = Double(f.dagBytes) / 1e6
        let kubo = mb / f.kuboSeconds, fetch = mb / f.fetchSeconds, serve = mb / f.serveSeconds
        BenchReport.print(
            scenario: "bitswap",
            fields: [
                ("file_bytes", Double(size)), ("dag_blocks", Double(f.blocks)), ("dag_bytes", Double(f.dagBytes)),
                ("kubo_from_kubo_mb_s", kubo), ("pinmesh_from_kubo_mb_s", fetch), ("ratio_fetch_vs_kubo", fetch / kubo),
                ("kubo_from_pinmesh_mb_s", serve), ("ratio_serve_vs_kubo", serve / kubo),
                ("kubo_from_kubo_s", f.kuboSeconds), ("pinmesh_from_kubo_s", f.fetchSeconds), ("kubo_from_pinmesh_s", f.serveSeconds),
                ("rss_before_fetch_mb", f.rssBefore), ("peak_rss_fetch_quarter_mb", f.smallPeak), ("peak_rss_fetch_mb", f.fetchPeak),
                ("peak_rss_serve_mb", f.servePeak),
                ("connect_first_stream_ms", dial.median), ("connect_first_stream_min_ms", dial.min),
                ("stream_mb_s", stream), ("aead_one_core_mb_s", aead), ("ratio_stream_vs_aead", stream / aead),
            ], json: json)
    }

    private func timed(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        return Self.seconds(ContinuousClock.now - start)
    }

    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(Data("… \(s)\n".utf8)) }
    }

    /// `bytes` of incompressible, seed-determined data (so every 256 KiB block is distinct).
    static func writeFile(_ path: String, bytes: Int, seed: UInt64) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw BitswapBenchError("cannot write \(path)")
        }
        defer { try? handle.close() }
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var chunk = [UInt64](repeating: 0, count: (1 << 20) / 8)
        var left = bytes
        while left > 0 {
            for i in chunk.indices {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                chunk[i] = state
            }
            let n = min(left, 1 << 20)
            try chunk.withUnsafeBytes { try handle.write(contentsOf: Data(bytes: $0.baseAddress!, count: n)) }
            left -= n
        }
    }
}

struct ExchangeFigures {
    var blocks: Int, dagBytes: Int
    var kuboSeconds: Double, fetchSeconds: Double, serveSeconds: Double
    var rssBefore: Double, smallPeak: Double, fetchPeak: Double, servePeak: Double
}

/// The kubos of one run, all stopped at the end whatever happened.
actor KuboSet {
    private var peers: [KuboPeer] = []

    func start() async throws -> KuboPeer {
        let peer = try await KuboPeer.start()
        peers.append(peer)
        return peer
    }

    func stopAll() async {
        for p in peers { _ = await p.stop() }
        peers = []
    }
}

extension ProcessMemory {
    /// Resets this process's VmHWM to its current RSS (Linux: "5" into /proc/self/clear_refs).
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}
