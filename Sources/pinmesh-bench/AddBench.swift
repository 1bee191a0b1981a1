import ArgumentParser
import AsyncHTTPClient
import ClusterClient
import ClusterModel
import ClusterTestKit
import EmbeddedIPFS
import Dispatch
import Foundation
import Ingest
import Multiformats
import Node
import RESTAPI
import UnixFS

/// `pinmesh-bench add`: `pinmeshctl add` (a process of its own, as users run it) uploading
/// one file to a loopback cluster's REST API, which imports it, sends every block to the
/// allocated peers and pins the root. Baselines, in the same run: the importer alone on the
/// same bytes in memory (every core, no I/O), and a plain `ipfs add` of the same file to
/// peer 0's embedded IPFS node (`/api/v0/add`, same upload code as pinmeshctl, no pin), which
/// is what the cluster add costs on top of.
struct AddBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "pinmeshctl add into a loopback cluster, against the in-memory importer.")

    @Option(help: "Peers.") var peers = 3
    @Option(help: "Bytes in the file added.") var size = 256 << 20
    @Option(help: "Replication factor (min and max; of each shard with --shard).") var replication = 3
    @Flag(help: "A sharded add (Specs/sharding.md): the leaves cut into shards over the peers.") var shard = false
    @Option(name: .customLong("shard-size"), help: "Bytes per shard with --shard.") var shardSize = Int(ShardPlanner.defaultShardSize)
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard peers >= 1, size >= 1, replication >= 1, replication <= peers else {
            throw ValidationError("need --peers >= 1, --size >= 1 and 1 <= --replication <= --peers")
        }
        if shard && !(Int(ShardPlanner.minShardSize)...Int(ShardPlanner.maxShardSize)).contains(shardSize) {
            throw ValidationError("--shard-size: \(ShardPlanner.minShardSize) to \(ShardPlanner.maxShardSize) bytes")
        }
    }

    /// The file's bytes, made in 1 MiB pieces from a fixed seed (never all in memory).
    static func chunks(size: Int, _ body: ([UInt8]) throws -> Void) rethrows {
        var rng = SplitMix64(seed: 42)
        var left = size
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while left > 0 {
            let n = min(left, chunk.count)
            chunk.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for i in 0..<(n + 7) / 8 where i < words.count { words[i] = rng.next() }
            }
            try body(Array(chunk[..<n]))
            left -= n
        }
    }

    func run() async throws {
        let ctl = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinmeshctl").path
        guard FileManager.default.isExecutableFile(atPath: ctl) else {
            throw ValidationError("\(ctl) is missing: build it beside pinmesh-bench (swift build -c release --product pinmeshctl)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-addbench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("data.bin")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        try Self.chunks(size: size) { try handle.write(contentsOf: $0) }
        try handle.close()

        // Baseline: the importer alone, same bytes, from memory.
        progress("importer baseline")
        var importSeconds = Double.infinity
        var expected = ""
        for _ in 0..<2 {
            var importer = try FileImporter(settings: ImportSettings(), keepBlocks: false, parallelFor: DispatchParallel.allCores)
            let t = DispatchTime.now().uptimeNanoseconds
            Self.chunks(size: size) { importer.write($0) }
            expected = importer.finish().cid.description
            importSeconds = min(importSeconds, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }

        progress("starting \(peers) peers")
        let cluster = try await startCluster(peers: peers)
        defer { Task { await cluster.shutdown() } }
        let server = try await serveREST(cluster[0].peer)
        defer { Task { await server.stop() } }
        let port = server.port
        let idleRSS = peakRSSMegabytes()

        // Baseline: `ipfs add` of the same file to an embedded node of its own (a fresh
        // repository: every block written once, as the cluster's peers write theirs).
        progress("ipfs add baseline")
        let baseRoot = dir.appendingPathComponent("ipfs-baseline").path
        _ = try IPFSRepo.initialize(at: baseRoot)
        let baseRepo = try IPFSRepo(root: baseRoot)
        let baseServer = try await RunningApp.start { running in KuboRPCServer(repo: baseRepo).application(host: "127.0.0.1", port: 0, onRunning: running) }
        let basePort = baseServer.port
        let upload = MultipartUpload(entries: try UploadEntry.walk([file.path], recursive: false, hidden: false))
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(basePort)/api/v0/add?pin=false&quieter=true")
        request.method = .POST
        request.body = upload.body
        request.headers.add(name: "Content-Type", value: upload.contentType)
        var t0 = DispatchTime.now().uptimeNanoseconds
        let response = try await HTTPClient.shared.execute(request, timeout: .hours(1))
        let answer = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let ipfsAddSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        await baseServer.stop()
        baseRepo.releaseLock()
        try? FileManager.default.removeItem(atPath: baseRoot)
        guard answer.contains(expected) else { throw ValidationError("the embedded node's add answered \(answer.prefix(200)), not \(expected)") }

        progress("pinmeshctl add of \(size) bytes, replication \(replication)\(shard ? ", shards of \(shardSize) bytes" : "")")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ctl)
        process.arguments = ["--host", "http://127.0.0.1:\(port)", "add", "-Q", "--replication", String(replication), "--timeout", "3600", file.path]
            + (shard ? ["--shard", "--shard-size", String(shardSize)] : [])
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        t0 = DispatchTime.now().uptimeNanoseconds
        try process.run()
        let outData = await Task.detached { out.fileHandleForReading.readDataToEndOfFile() }.value
        let errData = await Task.detached { err.fileHandleForReading.readDataToEndOfFile() }.value
        process.waitUntilExit()
        let addSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let got = String(decoding: outData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, got == expected else {
            throw ValidationError("pinmeshctl add failed (status \(process.terminationStatus), CID \(got.debugDescription), expected \(expected)): \(String(decoding: errData, as: UTF8.self))")
        }
        let root = try CID(got)
        let pin = try await cluster[0].peer.pinned(root)
        var shards = 0
        if shard {
            guard let pin, pin.type == .meta else { throw ValidationError("the root is not a meta-pin") }
            let dag = try await cluster[0].peer.clusterDAG(of: pin)
            shards = dag.shards.count
            for entry in dag.shards {
                guard let p = try await cluster[0].peer.pinned(entry.cid), p.allocations.count == replication else {
                    throw ValidationError("shard \(entry.cid) is not pinned with \(replication) allocations")
                }
                for m in cluster.members where p.allocations.contains(m.id) {
                    guard m.repo.blocks.has(entry.cid) else { throw ValidationError("\(m.id) was allocated shard \(entry.cid) but does not hold it") }
                }
            }
        } else {
            guard let pin, pin.allocations.count == replication else { throw ValidationError("the root is not pinned with \(replication) allocations") }
            for m in cluster.members where pin.allocations.contains(m.id) {
                guard m.repo.blocks.has(root) else { throw ValidationError("\(m.id) was allocated the root but does not hold it") }
            }
        }
        let mb = Double(size) / 1e6
        BenchReport.print(
            scenario: "add",
            fields: [
                ("peers", Double(peers)), ("size_bytes", Double(size)), ("replication", Double(replication)),
                ("add_mb_s", mb / addSeconds), ("importer_mb_s", mb / importSeconds), ("ratio_vs_importer", importSeconds / addSeconds),
                ("ipfs_add_mb_s", mb / ipfsAddSeconds), ("ratio_vs_ipfs_add", ipfsAddSeconds / addSeconds),
                ("node_idle_rss_mb", idleRSS), ("node_peak_rss_mb", peakRSSMegabytes()),
            ] + (shard ? [("shards", Double(shards)), ("shard_size_bytes", Double(shardSize))] : []), json: json)
    }

    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(Data("… \(s)\n".utf8)) }
    }
}
