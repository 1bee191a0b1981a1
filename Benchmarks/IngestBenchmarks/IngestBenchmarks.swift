import Benchmark
import Crypto
import Multiformats
import UnixFS

/// Micro-benchmarks of the ingest hot path: chunk + hash + encode, against plain SHA-256 of the
/// same bytes (the baseline every ingest figure is a ratio to).
let benchmarks: @Sendable () -> Void = {
    let size = 16 << 20
    let data = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 31 &+ 7) % 251) }
    let config = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .throughput], scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 50)

    Benchmark("SHA-256 baseline, 16 MiB in 256 KiB pieces", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            data.withUnsafeBytes { buf in
                var off = 0
                while off < buf.count {
                    blackHole(SHA256.hash(data: UnsafeRawBufferPointer(rebasing: buf[off..<min(off + 262_144, buf.count)])))
                    off += 262_144
                }
            }
        }
    }

    for (name, settings) in [
        ("CIDv1 raw leaves", ImportSettings(cidVersion: .v1)),
        ("CIDv0 dag-pb leaves", ImportSettings()),
        ("CIDv0 trickle", ImportSettings(layout: .trickle)),
        ("unixfs-v1-2025", ImportSettings.unixfsV1_2025),
    ] {
        Benchmark("import 16 MiB, \(name)", configuration: config) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try FileImporter.importBytes(data, settings: settings).root)
            }
        }
    }

    Benchmark("buzhash chunk boundaries, 16 MiB", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            var cutter = try ChunkCutter(.buzhash)
            data.withUnsafeBytes { buf in
                var off = 0
                while let n = cutter.next(UnsafeRawBufferPointer(rebasing: buf[off...]), atEnd: true) {
                    off += n
                    if n == 0 { break }
                }
                blackHole(off)
            }
        }
    }

    // The sharded add's planner over a DAG's blocks (the bytes already hashed by the importer):
    // 16 MiB in 1 KiB raw leaves, 16,384 leaves and their internal nodes, 1 MiB shards.
    let small = try! FileImporter.importBytes(data, settings: ImportSettings(cidVersion: .v1, chunker: .size(1024)), keepBlocks: true).blocks
    Benchmark("shard planner, 16 MiB in 1 KiB leaves, 1 MiB shards", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            var planner = try ShardPlanner(shardSize: 1 << 20)
            for b in small { blackHole(try planner.place(b)) }
            blackHole(planner.finish())
            blackHole(try planner.clusterDAG(root: small.last!.cid))
        }
    }

    let children = (0..<174).map { i in
        ImportedNode(cid: CID.v1(codec: .raw, Multihash.sha256([UInt8(i)])), fileSize: 262_144, cumulativeSize: 262_144)
    }
    let encoder = NodeEncoder(settings: ImportSettings(), keepBlocks: true)
    Benchmark("encode a 174-link file node", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(encoder.fileNode(children)) }
    }
}
