import ArgumentParser
import ClusterModel
import Crypto
import Foundation
import Ingest
import Multiformats
import UnixFS

/// `pinmesh-bench ingest`: the UnixFS importer on an in-memory buffer against plain SHA-256 of
/// the same bytes, measured in the same run.
struct IngestBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Import an in-memory buffer as UnixFS and compare with raw SHA-256 on the same bytes.")

    @Option(help: "Bytes to import.")
    var size: Int = 256 << 20

    @Option(help: "CID version: 0 (dag-pb leaves) or 1 (raw leaves).")
    var cidVersion: Int = 1

    @Option(help: "Worker threads for the parallel run.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Repetitions; the median is reported.")
    var repeats: Int = 3

    @Option(help: "Also time this ipfs_cid binary on the same bytes (CIDv0 only); 'none' to skip.")
    var ipfsCid: String = "/usr/bin/ipfs_cid"

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard size > 0 else { throw ValidationError("--size must be positive") }
        guard cidVersion == 0 || cidVersion == 1 else { throw ValidationError("--cid-version must be 0 or 1") }
        guard threads >= 1, repeats >= 1 else { throw ValidationError("--threads and --repeats must be at least 1") }
    }

    func run() throws {
        let data = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 31 &+ 7) % 251) }
        let settings = ImportSettings(cidVersion: cidVersion == 0 ? .v0 : .v1)
        progress("hashing \(size) bytes with SHA-256")
        let sha = BenchClock.rate(bytes: size, repeats: repeats) {
            data.withUnsafeBytes { buf in
                var off = 0
                while off < buf.count {
                    let end = min(off + 262_144, buf.count)
                    _ = SHA256.hash(data: UnsafeRawBufferPointer(rebasing: buf[off..<end]))
                    off = end
                }
            }
        }
        var root: ImportedNode?
        progress("importing on one core")
        let single = BenchClock.rate(bytes: size, repeats: repeats) {
            root = try! FileImporter.importBytes(data, settings: settings).root
        }
        progress("importing on \(threads) threads")
        let parallelFor = DispatchParallel.workers(threads)
        var parallelRoot: ImportedNode?
        let parallel = BenchClock.rate(bytes: size, repeats: repeats) {
            parallelRoot = try! FileImporter.importBytes(data, settings: settings, parallelFor: parallelFor).root
        }
        precondition(root == parallelRoot, "parallel import produced a different root")

        var fields: [(String, Double)] = [
            ("bytes", Double(size)), ("cid_version", Double(cidVersion)), ("threads", Double(threads)),
            ("sha256_mb_s", sha), ("importer_mb_s", single), ("ratio_vs_sha256", single / sha),
            ("importer_parallel_mb_s", parallel), ("ratio_parallel_vs_sha256", parallel / sha),
        ]
        if ipfsCid != "none", cidVersion == 0, FileManager.default.isExecutableFile(atPath: ipfsCid) {
            progress("timing \(ipfsCid)")
            if let (rate, cid) = try timeIpfsCid(data) {
                fields += [("ipfs_cid_mb_s", rate), ("ratio_vs_ipfs_cid", single / rate)]
                precondition(cid == root!.cid.description, "ipfs_cid gave \(cid), we gave \(root!.cid)")
            }
        }
        BenchReport.print(scenario: "ingest", fields: fields, json: json, text: ["root_cid": root!.cid.description])
    }

    /// Runs ipfs_cid on a temporary file holding `data`; returns its median rate and its CIDv0.
    private func timeIpfsCid(_ data: [UInt8]) throws -> (Double, String)? {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-ingest-\(getpid()).bin")
        try Data(data).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        var output = ""
        let rate = BenchClock.rate(bytes: data.count, repeats: repeats) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ipfsCid)
            p.arguments = [file.path]
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            try? p.run()
            output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
        }
        guard let range = output.range(of: #""CIDv0":"([^"]+)""#, options: .regularExpression) else { return nil }
        let cid = output[range].dropFirst(9).dropLast()
        return (rate, String(cid))
    }

    private func progress(_ s: String) {
        FileHandle.standardError.write(Data("ingest: \(s)...\n".utf8))
    }
}
