import ClusterTestKit
import Foundation
import Multiformats
import NIOCore
import Node
import Testing

/// `repo/stat` and `repo/gc` over the cluster, `block/put` and `dag/put` with `pin=true`, and
/// the browser rules.
@Suite(.serialized) struct ProxyRepoAndPutTests {
    @Test("repo/stat sums every peer's repository")
    func repoStatSums() async throws {
        try await ProxyFixture.with { f in
            _ = try await f.cluster.addFile(seededBytes(40_000, seed: 30), to: 0)
            _ = try await f.cluster.addFile(seededBytes(70_000, seed: 31), to: 1)
            var size: UInt64 = 0
            var max: UInt64 = 0
            var objects = 0
            for m in f.cluster.members {
                let s = try await m.connector.repoStat()
                size += s.repoSize
                max += s.storageMax
                objects += s.numObjects
            }
            let a = try await f.call("repo/stat")
            #expect(a.status == 200)
            #expect(a.text == "{\"RepoSize\":\(size),\"StorageMax\":\(max),\"NumObjects\":\(objects),\"RepoPath\":\"\",\"Version\":\"\"}\n")
            let sizeOnly = try await f.call("repo/stat", "size-only=true")
            #expect(sizeOnly.object["NumObjects"] as? Int == 0 && sizeOnly.object["RepoSize"] as? UInt64 == size)
        }
    }

    /// Dates every block file of `directory` an hour back: a collection never sweeps blocks
    /// written in its last second (they may belong to an add still running).
    static func age(_ directory: String) throws {
        let fm = FileManager.default
        let old = Date().addingTimeInterval(-3600)
        for case let path as String in fm.enumerator(atPath: directory)! where path.hasSuffix(".data") {
            try fm.setAttributes([.modificationDate: old], ofItemAtPath: directory + "/" + path)
        }
    }

    @Test("repo/gc collects on every peer and lists each removed block as kubo does")
    func repoGCEverywhere() async throws {
        try await ProxyFixture.with { f in
            let a = try await f.cluster.addFile(seededBytes(5_000, seed: 32), to: 0)
            let b = try await f.cluster.addFile(seededBytes(6_000, seed: 33), to: 1)
            for m in f.cluster.members { try Self.age(m.repo.blocks.directory) }
            let gc = try await f.call("repo/gc")
            #expect(gc.status == 200 && gc.trailers?["X-Stream-Error"].first == nil)
            // kubo lists removed blocks as raw CIDv1s of their multihashes.
            let keys = Set(try gc.lines.compactMap { ($0["Key"] as? [String: String])?["/"] }.map { try CID($0).multihash })
            #expect(keys.contains(a.multihash))
            #expect(keys.contains(b.multihash))
            #expect(!f.cluster[0].repo.blocks.has(a))
            #expect(!f.cluster[1].repo.blocks.has(b))
            let quiet = try await f.call("repo/gc", "quiet=true")
            #expect(quiet.status == 200 && quiet.text.isEmpty)
        }
    }

    @Test("block/put with pin=true stores through the daemon and pins in the cluster; without it, it is only forwarded")
    func blockPutPins() async throws {
        try await ProxyFixture.with { f in
            let bytes = Array("a block for the cluster".utf8)
            let cid = CID.v1(codec: .raw, Multihash.digest(bytes, code: .sha2_256)!)
            let m = Multipart([.file("", bytes)])
            let a = try await f.call("block/put", "pin=true", body: .bytes(ByteBuffer(bytes: m.body)), contentType: m.contentType)
            #expect(a.status == 200 && a.text == "{\"Key\":\"\(cid)\",\"Size\":\(bytes.count)}\n")
            for member in f.cluster.members {
                #expect(await LocalCluster.eventually { (try? await member.peer.pinned(cid)) != nil }, "peer \(member.index) has the pin")
            }
            let other = Array("not pinned".utf8)
            let otherCID = CID.v1(codec: .raw, Multihash.digest(other, code: .sha2_256)!)
            let m2 = Multipart([.file("", other)])
            let b = try await f.call("block/put", "", body: .bytes(ByteBuffer(bytes: m2.body)), contentType: m2.contentType)
            #expect(b.status == 200 && f.cluster[0].repo.blocks.has(otherCID))
            #expect(try await f.cluster[0].peer.pinned(otherCID) == nil)
        }
    }

    @Test("dag/put with pin=true asks the daemon not to pin, then pins each answered CID in the cluster")
    func dagPutPins() async throws {
        try await ProxyForwardingTests.withDaemon { f, d in
            let m = Multipart([.file("", Array("{\"a\":1}".utf8))])
            let a = try await f.call("dag/put", "pin=true&store-codec=raw", body: .bytes(ByteBuffer(bytes: m.body)), contentType: m.contentType)
            let cid = try CID(try #require(((a.object["Cid"] as? [String: String])?["/"])))
            #expect(a.status == 200 && a.trailers?["X-Stream-Error"].first == nil)
            #expect(d.requests(to: "/api/v0/dag/put").last?.query == "store-codec=raw&pin=false")
            #expect(try await f.cluster[0].peer.pinned(cid) != nil)
            // Without pin, the call is the daemon's alone.
            _ = try await f.call("dag/put", "store-codec=raw", body: .bytes(ByteBuffer(bytes: m.body)), contentType: m.contentType)
            #expect(d.requests(to: "/api/v0/dag/put").last?.query == "store-codec=raw")
        }
    }

    @Test("a daemon answer that is not kubo's, or has a line over 1 MiB, is an error; the daemon's refusal is passed on")
    func putMalformedAnswers() async throws {
        try await ProxyForwardingTests.withDaemon { f, _ in
            let m = Multipart([.file("", Array("x".utf8))])
            func put(_ shape: String) async throws -> Answer {
                try await f.call("block/put", "pin=true&shape=\(shape)", body: .bytes(ByteBuffer(bytes: m.body)), contentType: m.contentType)
            }
            let garbage = try await put("garbage")
            #expect(garbage.status == 500 && garbage.message == "the IPFS daemon's answer is not what kubo sends: not json")
            let long = try await put("long")
            #expect(long.status == 500 && long.message == "the IPFS daemon's answer has a line over 1048576 bytes")
            let refused = try await put("refuse")
            #expect(refused.status == 400 && refused.message == "bad block")
            let fine = try await put("kubo")
            #expect(fine.status == 200 && (fine.lines.first?["Key"] as? String)?.hasPrefix("bafkrei") == true)
            #expect(try await f.cluster[0].peer.database.pins(after: nil, limit: 10).count == 1)
        }
    }

    @Test("browser requests follow the embedded API's rules: other origins and rebound host names are refused")
    func browserRules() async throws {
        try await ProxyFixture.with(peers: 1, daemonPort: nil, { $0.allowedOrigins = ["https://app.example"] }) { f in
            let host = "127.0.0.1:\(f.app.port)"
            let evil = try await f.call("pin/ls", headers: [("Origin", "https://evil.example")])
            #expect(evil.status == 403 && evil.text == "403 - Forbidden\n")
            let forwarded = try await f.call("version", headers: [("Origin", "https://evil.example")])
            #expect(forwarded.status == 403)
            let rebound = try await f.call("version", headers: [("Origin", "http://evil.example:\(f.app.port)"), ("Host", "evil.example:\(f.app.port)")])
            #expect(rebound.status == 403)
            let same = try await f.call("version", headers: [("Origin", "http://\(host)")])
            #expect(same.status == 200)
            let listed = try await f.call("pin/ls", headers: [("Origin", "https://app.example")])
            #expect(listed.status == 200)
            let tool = try await f.call("version", headers: [("Host", "anything.example")])
            #expect(tool.status == 200)
        }
    }

    @Test("intercepted calls are refused 503 once the peer began to stop")
    func stoppingPeer() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            f.cluster[0].peer.requests.close()
            let a = try await f.call("pin/ls")
            #expect(a.status == 503 && a.message.contains("shutting down"))
        }
    }
}
