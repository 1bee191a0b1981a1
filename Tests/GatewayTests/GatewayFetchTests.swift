import AsyncHTTPClient
import ClusterTestKit
import Foundation
import Gateway
import Multiformats
import NIOCore
import Testing
import UnixFS

@Suite("Gateway: blocks from elsewhere, bounds and streaming")
struct GatewayFetchTests {
    @Test("Blocks missing locally are read through the repository's fetcher and not stored")
    func fromFetcher() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(800_000)
        let f = try Fixture.file(data)
        let fetcher = MemoryFetcher(f.blocks)
        gw.repo.setFetcher(fetcher)
        let r = try await gw.get("/ipfs/\(f.root.cid)")
        #expect(r.status == 200 && r.body == data)
        #expect(fetcher.fetches >= f.blocks.count)
        #expect(!gw.repo.blocks.has(f.root.cid))
        await gw.stop()
    }

    @Test("A block nobody has is 404 saying so; only-if-cached for a block not stored here is 412")
    func nobody() async throws {
        let gw = try await LiveGateway.start()
        gw.repo.setFetcher(MemoryFetcher())
        let cid = CID.v1(codec: .raw, Multihash.sha256(Array("absent".utf8)))
        let r = try await gw.get("/ipfs/\(cid)")
        #expect(r.status == 404)
        #expect(r.text.contains("no cluster peer"))
        let raw = try await gw.get("/ipfs/\(cid)?format=raw")
        #expect(raw.status == 404)
        let car = try await gw.get("/ipfs/\(cid)?format=car")
        #expect(car.status == 404)
        let cached = try await gw.get("/ipfs/\(cid)", method: .HEAD, headers: [("Cache-Control", "only-if-cached")])
        #expect(cached.status == 412)
        await gw.stop()
    }

    @Test("A block whose fetch does not answer within the bound is 504 with Retry-After, not a hang")
    func timeout() async throws {
        let gw = try await LiveGateway.start(settings: GatewayServer.Settings(blockTimeout: .milliseconds(300)))
        gw.repo.setFetcher(MemoryFetcher(hang: true))
        let cid = CID.v1(codec: .raw, Multihash.sha256(Array("slow".utf8)))
        let start = ContinuousClock.now
        let r = try await gw.get("/ipfs/\(cid)")
        #expect(r.status == 504)
        #expect(r.header("Retry-After") == "30")
        #expect(r.text.contains("not obtained within"))
        #expect(ContinuousClock.now - start < .seconds(20))
        await gw.stop()
    }

    @Test("A 48 MiB file streams block by block: when the client has read its first bytes and stops, the gateway has fetched a fraction of the blocks")
    func streaming() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(48 << 20)
        let f = try Fixture.file(data)
        let fetcher = MemoryFetcher(f.blocks)
        gw.repo.setFetcher(fetcher)
        let res = try await LiveGateway.http.execute(HTTPClientRequest(url: gw.base + "/ipfs/\(f.root.cid)"), timeout: .seconds(60))
        #expect(res.status == .ok)
        var it = res.body.makeAsyncIterator()
        var received = 0
        var matches = true
        while received < 1 << 20, let part = try await it.next() {
            matches = matches && Array(buffer: part) == Array(data[received..<received + part.readableBytes])
            received += part.readableBytes
        }
        // Give the server every chance to run ahead (an event-loop timer, not a sleep in the server).
        _ = await LocalCluster.eventually(timeout: .milliseconds(500)) { false }
        let fetchedWhilePaused = fetcher.fetches
        #expect(fetchedWhilePaused < f.blocks.count / 2, "fetched \(fetchedWhilePaused) of \(f.blocks.count) blocks with 1 MiB read")
        while let part = try await it.next() {
            matches = matches && Array(buffer: part) == Array(data[received..<received + part.readableBytes])
            received += part.readableBytes
        }
        #expect(received == data.count)
        #expect(matches)
        await gw.stop()
    }

    @Test("In a 3-peer cluster, a file stored and pinned only on peer 3 is read through peer 1's gateway")
    func clusterPeer() async throws {
        let cluster = try await LocalCluster(peers: 3, tweak: LocalCluster.testSettings)
        let data = Fixture.bytes(900_000, seed: 3)
        let f = try Fixture.file(data)
        for b in f.blocks { try cluster[2].repo.put(b) }
        try await cluster[2].repo.pin([f.root.cid], mode: .recursive(maxDepth: nil), offline: true)
        #expect(!cluster[0].repo.blocks.has(f.root.cid) && !cluster[1].repo.blocks.has(f.root.cid))
        let connected = await LocalCluster.eventually { cluster[0].peer.transport.connectedPeers.contains(cluster[2].id) }
        #expect(connected)
        let gw = try await LiveGateway.start(repo: cluster[0].repo)
        let r = try await gw.get("/ipfs/\(f.root.cid)")
        #expect(r.status == 200)
        #expect(r.body == data)
        let car = try Fixture.readCAR(try await gw.get("/ipfs/\(f.root.cid)?format=car").body)
        #expect(try Exporter(blocks: MemoryBlocks(car.blocks)).cat(f.root.cid) == data)
        await gw.stop()
        await cluster.shutdown()
    }
}
