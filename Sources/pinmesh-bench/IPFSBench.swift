import ArgumentParser
import AsyncHTTPClient
import Datastore
import Dispatch
import EmbeddedIPFS
import Foundation
import Hummingbird
import IPFSConnector
import Ingest
import Logging
import Multiformats
import NIOCore
import UnixFS

/// `pinmesh-bench ipfs`: the embedded node over real HTTP, in a process of its own, each
/// figure beside its baseline from the same run: `block/put` against writing the same blocks
/// to files, `add` against the in-memory importer, and `pin/ls` of a million pins (time and the
/// node's peak RSS, which must not grow with the pin count).
struct IPFSBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipfs", abstract: "Embedded IPFS node: block/put, add and pin/ls over HTTP against their baselines.")

    @Option(help: "Bytes for block/put and add.") var size = 256 << 20
    @Option(help: "Block size for block/put.") var blockSize = 256 << 10
    @Option(help: "Pins for the pin/ls run.") var pins = 1_000_000
    @Option(help: "Repetitions of the timed runs; the median is reported.") var repeats = 3
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard size >= blockSize, blockSize > 0, blockSize <= FlatfsBlockstore.softBlockLimit else {
            throw ValidationError("--block-size must be 1..1048576 and --size at least one block")
        }
        guard pins >= 0, repeats >= 1 else { throw ValidationError("--pins and --repeats must not be negative") }
    }

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-bench-ipfs-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        let repoPath = root.appendingPathComponent("repo").path
        try IPFSRepo.initialize(at: repoPath, storageMax: "1TB")

        // Pins written straight into the database before the node starts (only pin/ls is timed).
        progress("writing \(pins) pins")
        do {
            let store = try IPFSPinStore(path: repoPath + "/pins.sqlite")
            var batch: [IPFSPin] = []
            for i in 0..<pins {
                var seed = [UInt8](repeating: 0, count: 8)
                withUnsafeBytes(of: UInt64(i).littleEndian) { seed = Array($0) }
                batch.append(IPFSPin(cid: .v1(codec: .dagPB, .sha256(seed)), mode: .recursive(maxDepth: nil)))
                if batch.count == 100_000 {
                    try store.add(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            try store.add(batch)
        }

        let child = try Child(arguments: ["ipfs-node", "--repo", repoPath])
        defer { child.terminate() }
        guard let port = Int(try child.expect("PORT")) else { throw ValidationError("the node did not say its port") }
        let api = "http://127.0.0.1:\(port)/api/v0/"
        let conn = try KuboConnector(nodeMultiaddress: "/ip4/127.0.0.1/tcp/\(port)")

        // pin/ls first, so the node's peak RSS is its own (nothing else ran in it yet).
        let rssBefore = child.peakRSS()
        progress("pin/ls of \(pins) pins")
        let lsStart = DispatchTime.now().uptimeNanoseconds
        var listed = 0
        var r = HTTPClientRequest(url: api + "pin/ls?type=recursive&stream=true")
        r.method = .POST
        let response = try await HTTPClient.shared.execute(r, timeout: .hours(1))
        for try await chunk in response.body {
            listed += chunk.readableBytesView.reduce(0) { $0 + ($1 == 0x0a ? 1 : 0) }
        }
        let lsSeconds = Double(DispatchTime.now().uptimeNanoseconds - lsStart) / 1e9
        guard listed == pins else { throw ValidationError("pin/ls listed \(listed) of \(pins) pins") }
        let rssAfter = child.peakRSS()

        // block/put: distinct blocks, streamed in one request per run of one format.
        let count = size / blockSize
        progress("block/put of \(count) blocks of \(blockSize) bytes")
        var blocks: [Block] = []
        for i in 0..<count {
            var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: i &* 7), count: blockSize)
            withUnsafeBytes(of: UInt64(i).littleEndian) { for (k, b) in $0.enumerated() { bytes[k] = b } }
            blocks.append(Block(cid: .v1(codec: .raw, .sha256(bytes)), bytes: bytes))
        }
        var putRates: [Double] = []
        var fileRates: [Double] = []
        for rep in 0..<repeats {
            // Fresh blocks each time: a block already stored is not written again.
            let round = blocks.map { b -> Block in
                var bytes = b.bytes
                bytes[8] = UInt8(rep + 1)
                return Block(cid: .v1(codec: .raw, .sha256(bytes)), bytes: bytes)
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let stored = try await conn.blockPut(BlockSequence(round))
            putRates.append(Double(count * blockSize) / 1e6 / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            guard stored == count else { throw ValidationError("block/put stored \(stored) of \(count)") }
            fileRates.append(try Self.writeFiles(round, into: root.appendingPathComponent("files-\(rep)").path))
        }

        // add: the same bytes through HTTP and through the in-memory importer.
        progress("add of \(size) bytes")
        var data = [UInt8](repeating: 0, count: size)
        for i in stride(from: 0, to: size, by: 4096) { data[i] = UInt8(truncatingIfNeeded: i >> 12); data[min(i + 1, size - 1)] = UInt8(truncatingIfNeeded: i >> 20) }
        var addRates: [Double] = []
        var importerRates: [Double] = []
        for rep in 0..<repeats {
            data[size - 1] = UInt8(rep)
            let expected = try FileImporter.importBytes(data, settings: ImportSettings(), parallelFor: DispatchParallel.allCores).root.cid
            let body = Self.multipart(data, boundary: "bench-\(rep)")
            var req = HTTPClientRequest(url: api + "add?quieter=true")
            req.method = .POST
            req.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=bench-\(rep)")
            req.body = .bytes(body)
            let start = DispatchTime.now().uptimeNanoseconds
            let resp = try await HTTPClient.shared.execute(req, timeout: .hours(1))
            let text = String(buffer: try await resp.body.collect(upTo: 1 << 20))
            addRates.append(Double(size) / 1e6 / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            guard text.contains(expected.description) else { throw ValidationError("add over HTTP gave \(text), the importer \(expected)") }
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try FileImporter.importBytes(data, settings: ImportSettings(), parallelFor: DispatchParallel.allCores)
            importerRates.append(Double(size) / 1e6 / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
        }

        let put = median(putRates), files = median(fileRates), add = median(addRates), imp = median(importerRates)
        BenchReport.print(
            scenario: "ipfs",
            fields: [
                ("bytes", Double(size)), ("block_bytes", Double(blockSize)),
                ("block_put_mb_s", put), ("file_write_mb_s", files), ("ratio_block_put_vs_files", put / files),
                ("add_mb_s", add), ("importer_mb_s", imp), ("ratio_add_vs_importer", add / imp),
                ("pins", Double(pins)), ("pin_ls_1m_s", lsSeconds * 1_000_000 / Double(max(pins, 1))),
                ("pin_ls_s", lsSeconds), ("pin_ls_rss_before_mb", rssBefore), ("pin_ls_peak_rss_mb", rssAfter),
            ], json: json)
    }

    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(Data("… \(s)\n".utf8)) }
    }

    /// The baseline: the same blocks as one file each (create, write, close), then one
    /// `syncfs`, as the node does before it answers.
    static func writeFiles(_ blocks: [Block], into dir: String) throws -> Double {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let start = DispatchTime.now().uptimeNanoseconds
        var total = 0
        for (i, b) in blocks.enumerated() {
            let fd = open("\(dir)/\(i).data", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw ValidationError("cannot write \(dir)") }
            _ = b.bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            total += b.bytes.count
        }
        let dfd = open(dir, O_RDONLY)
        _ = benchSyncfs(dfd)
        close(dfd)
        let rate = Double(total) / 1e6 / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        try? FileManager.default.removeItem(atPath: dir)
        return rate
    }

    static func multipart(_ data: [UInt8], boundary: String) -> ByteBuffer {
        var b = ByteBuffer()
        b.reserveCapacity(data.count + 512)
        b.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        b.writeBytes(data)
        b.writeString("\r\n--\(boundary)--\r\n")
        return b
    }
}

@_silgen_name("syncfs")
private func benchSyncfs(_ fd: Int32) -> Int32

struct BlockSequence: AsyncSequence, Sendable {
    typealias Element = Block
    let blocks: [Block]
    init(_ b: [Block]) { blocks = b }
    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<Block>
        mutating func next() async -> Block? { rest.popFirst() }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: blocks[...]) }
}

/// The node of `pinmesh-bench ipfs`, in a process of its own (not for direct use).
struct IPFSNodeProcess: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ipfs-node", shouldDisplay: false)

    @Option var repo: String

    func run() async throws {
        let r = try IPFSRepo(root: repo)
        var logger = Logger(label: "bench.ipfs")
        logger.logLevel = .error
        let app = KuboRPCServer(repo: r, logger: logger).application(host: "127.0.0.1", port: 0) { port in
            FileHandle.standardOutput.write(Data("PORT \(port)\n".utf8))
        }
        try await app.runService()
    }
}
