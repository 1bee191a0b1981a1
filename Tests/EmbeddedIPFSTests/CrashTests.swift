import AsyncHTTPClient
import ClusterTestKit
import Datastore
import EmbeddedIPFS
import Foundation
import Multiformats
import NIOCore
import Testing
import UnixFS

/// `kill -9` of a real `pinmesh ipfs daemon` during `add` and during `pin/add`, then a
/// restart: no acknowledged pin lost, no corrupt block, GC still correct.
@Suite(.serialized) struct CrashTests {
    static let binary: URL = {
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            Vectors.repositoryRoot.appendingPathComponent(".build/debug"),
        ]
        return (candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("pinmesh").path) } ?? candidates[2])
            .appendingPathComponent("pinmesh")
    }()

    /// Starts the daemon on a free port and returns it with its API base URL.
    static func daemon(_ repo: String) async throws -> (Process, String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = ["ipfs", "daemon", "--repo", repo, "--api", "/ip4/127.0.0.1/tcp/0"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // The daemon prints its port once it listens (read with a bound, never a fixed wait).
        var text = ""
        let handle = out.fileHandleForReading
        while !text.contains("peer identity") {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let line = text.split(separator: "\n").first { $0.hasPrefix("RPC API server listening on") } ?? ""
        guard let port = line.split(separator: "/").last.map(String.init), Int(port) != nil else {
            p.terminate()
            throw CancellationError()
        }
        return (p, "http://127.0.0.1:\(port)/api/v0/")
    }

    static func countBlocks(_ repo: String) -> Int {
        let fm = FileManager.default
        let shards = (try? fm.contentsOfDirectory(atPath: repo + "/blocks")) ?? []
        return shards.reduce(0) { $0 + ((try? fm.contentsOfDirectory(atPath: repo + "/blocks/" + $1).filter { $0.hasSuffix(".data") }.count) ?? 0) }
    }

    static func post(_ url: String, parts: [LiveNode.Part]? = nil) async throws -> (Int, String) {
        var r = HTTPClientRequest(url: url)
        r.method = .POST
        if let parts {
            r.body = .bytes(ByteBuffer(bytes: LiveNode.multipart(parts)))
            r.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=pinmesh-test-boundary")
        }
        let resp = try await HTTPClient.shared.execute(r, timeout: .seconds(60))
        return (Int(resp.status.code), String(buffer: try await resp.body.collect(upTo: 64 << 20)))
    }

    @Test func killDuringAddAndPinLosesNothingAcknowledged() async throws {
        let dir = TempDir("crash")
        var acknowledged: [String] = []
        var cutShort = 0
        for round in 0..<3 {
            let (proc, api) = try await Self.daemon(dir.path)
            // Acknowledged adds: their pins must survive every crash.
            for i in 0..<3 {
                let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* (round * 3 + i + 1) &+ $0 >> 10) }
                let (status, text) = try await Self.post(api + "add?cid-version=1", parts: [.init(name: "f\(round)-\(i)", bytes: data)])
                #expect(status == 200)
                let hash = try #require(text.split(separator: "\n").last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["Hash"] as? String)
                acknowledged.append(hash)
            }
            // An add and a pin in flight when the process dies.
            // 16 MiB whose 256 KiB chunks all differ (each starts with its round and index).
            var big = [UInt8](repeating: 0x5a, count: 16 << 20)
            for k in 0..<64 {
                big[k << 18] = UInt8(round)
                big[(k << 18) + 1] = UInt8(k)
            }
            let inflightAdd = Task { try? await Self.post(api + "add?progress=true", parts: [.init(name: "big", bytes: big)]) }
            let missing = CID.v1(codec: .raw, .sha256([UInt8(round), 1, 2, 3]))
            let inflightPin = Task { try? await Self.post(api + "pin/add?arg=\(missing)") }
            // Kill once the big add has written a few of its 64 leaves.
            let before = Self.countBlocks(dir.path)
            let root = dir.path
            #expect(await eventually(timeout: .seconds(60)) { Self.countBlocks(root) > before + 3 })
            kill(proc.processIdentifier, SIGKILL)
            proc.waitUntilExit()
            // The add was cut short when its answer never got its last line (the root).
            if let (_, text) = await inflightAdd.value, text.contains("\"Hash\"") {} else { cutShort += 1 }
            _ = await inflightPin.value
        }
        #expect(cutShort > 0, "every big add finished before the kill: the crash hit no add in flight")
        // Restart: every acknowledged pin is there, every block verifies, GC keeps pinned data.
        let repo = try IPFSRepo(root: dir.path)
        for h in acknowledged { #expect(try repo.pins.get(try CID(h)) != nil, "pin \(h) was lost") }
        var blocks = 0
        for s in repo.blocks.shards() {
            for (mh, _) in repo.blocks.blocks(inShard: s) {
                blocks += 1
                #expect(throws: Never.self) { _ = try repo.blocks.get(.v1(codec: .raw, mh)) }
            }
        }
        #expect(blocks > 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/blocks/.temp"))
        try backdate(repo)
        _ = try await repo.collectGarbage(removed: { _ in })
        for h in acknowledged {
            let data = try Exporter(blocks: repo).cat(try CID(h))
            #expect(data.count == 300_000)
        }
    }
}
