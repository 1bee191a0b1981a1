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
        // Its output goes to a file, never to a pipe nobody drains (a full pipe would block it).
        let log = repo + ".log-\(UInt32.random(in: 0...UInt32.max))"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = binary
        p.arguments = ["ipfs", "daemon", "--repo", repo, "--api", "/ip4/127.0.0.1/tcp/0"]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardError = FileHandle.nullDevice
        try p.run()
        // The daemon prints its port once it listens (awaited with a bound, never a fixed wait).
        @Sendable func listening() -> String? {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").first { $0.hasPrefix("RPC API server listening on") }?.split(separator: "/").last.map(String.init)
        }
        _ = await eventually(timeout: .seconds(60)) { listening() != nil }
        guard let port = listening(), Int(port) != nil else {
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
        do {
            let resp = try await HTTPClient.shared.execute(r, timeout: .seconds(60))
            return (Int(resp.status.code), String(buffer: try await resp.body.collect(upTo: 64 << 20)))
        } catch {
            throw CrashTestError(description: "POST \(url): \(error)")
        }
    }

    @Test func killDuringAddAndPinLosesNothingAcknowledged() async throws {
        let dir = TempDir("crash")
        var acknowledged: [String] = []
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
            // An add and a pin in flight when the process dies: the add's client sends 2 MiB of
            // a file it promised 100 MiB of and waits, so the add is mid-way whatever the load;
            // the pin waits for a block nobody has.
            let port = Int(api.split(separator: ":").last!.split(separator: "/").first!)!
            var big = [UInt8](repeating: 0x5a, count: 2 << 20)
            for k in 0..<8 {
                big[k << 18] = UInt8(round)
                big[(k << 18) + 1] = UInt8(k)
            }
            let before = Self.countBlocks(dir.path)
            let upload = try #require(openUpload(port: port, path: "/api/v0/add?progress=true", promised: 100 << 20, file: big))
            let missing = CID.v1(codec: .raw, .sha256([UInt8(round), 1, 2, 3]))
            let inflightPin = Task { try? await Self.post(api + "pin/add?arg=\(missing)") }
            let root = dir.path
            #expect(await eventually(timeout: .seconds(60)) { Self.countBlocks(root) >= before + 7 })  // the 8th chunk is not complete until more bytes come
            kill(proc.processIdentifier, SIGKILL)
            proc.waitUntilExit()
            close(upload)
            _ = await inflightPin.value
        }
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

struct CrashTestError: Error, CustomStringConvertible {
    let description: String
}
