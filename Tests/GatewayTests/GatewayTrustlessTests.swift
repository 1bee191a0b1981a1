import Foundation
import Gateway
import Multiformats
import Testing
import UnixFS

@Suite("Trustless gateway: raw blocks and CAR")
struct GatewayTrustlessTests {
    @Test("format=raw answers the one block, which hashes to the CID, with the raw type, nosniff and an attachment named <cid>.bin")
    func raw() async throws {
        let gw = try await LiveGateway.start()
        let f = try Fixture.file(Fixture.bytes(600_000))
        try gw.put(f.blocks)
        let r = try await gw.get("/ipfs/\(f.root.cid)?format=raw")
        #expect(r.status == 200)
        #expect(f.root.cid.multihash.verifies(r.body) == true)
        #expect(r.header("Content-Type") == "application/vnd.ipld.raw")
        #expect(r.header("X-Content-Type-Options") == "nosniff")
        #expect(r.header("Content-Disposition") == "attachment; filename=\"\(f.root.cid).bin\"")
        #expect(r.header("Etag") == "\"\(f.root.cid).raw\"")
        #expect(r.header("Cache-Control") == "public, max-age=29030400, immutable")
        #expect(r.header("Content-Location") == nil)
        let byAccept = try await gw.get("/ipfs/\(f.root.cid)", headers: [("Accept", "application/vnd.ipld.raw")])
        #expect(byAccept.body == r.body)
        #expect(byAccept.header("Content-Location") == "/ipfs/\(f.root.cid)?format=raw")
        let withPath = try await gw.get("/ipfs/\(f.root.cid)/x?format=raw")
        #expect(withPath.status == 400)
        await gw.stop()
    }

    @Test("format=car is a CARv1 of the whole DAG, depth-first without duplicates, that decodes back to the file")
    func carAll() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(1_500_000)
        let f = try Fixture.file(data)
        try gw.put(f.blocks)
        let r = try await gw.get("/ipfs/\(f.root.cid)?format=car")
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "application/vnd.ipld.car; version=1; order=dfs; dups=n")
        #expect(r.header("Content-Disposition") == "attachment; filename=\"\(f.root.cid).car\"")
        #expect(r.header("X-Content-Type-Options") == "nosniff")
        #expect(r.header("Accept-Ranges") == "none")
        let car = try Fixture.readCAR(r.body)
        #expect(car.roots == [f.root.cid])
        #expect(car.blocks.first?.cid == f.root.cid)
        #expect(Set(car.blocks.map(\.cid)).count == car.blocks.count)
        #expect(Set(car.blocks.map(\.cid)) == Set(f.blocks.map(\.cid)))
        let back = try Exporter(blocks: MemoryBlocks(car.blocks)).cat(f.root.cid)
        #expect(back == data)
        let byAccept = try await gw.get("/ipfs/\(f.root.cid)", headers: [("Accept", "application/vnd.ipld.car; version=1; order=dfs; dups=y")])
        #expect(byAccept.header("Content-Type") == "application/vnd.ipld.car; version=1; order=dfs; dups=y")
        #expect(byAccept.header("Content-Location") == "/ipfs/\(f.root.cid)?format=car")
        let v2 = try await gw.get("/ipfs/\(f.root.cid)?format=car&car-version=2")
        #expect(v2.status == 400)
        await gw.stop()
    }

    @Test("A CAR with a path holds the directory blocks that verify it first; dag-scope=block then has only the terminal block")
    func carPathAndScopes() async throws {
        let gw = try await LiveGateway.start()
        var blocks: [Block] = []
        let file = try Fixture.file(Fixture.bytes(600_000))
        blocks += file.blocks
        let other = try Fixture.file(Fixture.bytes(10, seed: 9))
        blocks += other.blocks
        let sub = try Fixture.directory([("big.bin", file.root), ("small", other.root)], blocks: &blocks)
        let top = try Fixture.directory([("sub", sub)], blocks: &blocks)
        try gw.put(blocks)
        let block = try Fixture.readCAR(try await gw.get("/ipfs/\(top.cid)/sub/big.bin?format=car&dag-scope=block").body)
        #expect(block.roots == [top.cid])
        #expect(block.blocks.map(\.cid) == [top.cid, sub.cid, file.root.cid])
        let entityDir = try Fixture.readCAR(try await gw.get("/ipfs/\(top.cid)/sub?format=car&dag-scope=entity").body)
        #expect(entityDir.blocks.map(\.cid) == [top.cid, sub.cid])
        let allDir = try Fixture.readCAR(try await gw.get("/ipfs/\(top.cid)/sub?format=car").body)
        #expect(Set(allDir.blocks.map(\.cid)) == Set([top.cid, sub.cid] + file.blocks.map(\.cid) + other.blocks.map(\.cid)))
        let entityFile = try Fixture.readCAR(try await gw.get("/ipfs/\(top.cid)/sub/big.bin?format=car&dag-scope=entity").body)
        #expect(Set(entityFile.blocks.map(\.cid)) == Set([top.cid, sub.cid] + file.blocks.map(\.cid)))
        let missing = try await gw.get("/ipfs/\(top.cid)/nope?format=car")
        #expect(missing.status == 404)
        await gw.stop()
    }

    @Test("entity-bytes sends only the blocks its byte range needs, and the range read from them is right")
    func entityBytes() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(1_048_576)
        let f = try Fixture.file(data)
        try gw.put(f.blocks)
        #expect(f.blocks.count == 5)  // four 256 KiB leaves and the root
        let r = try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=300000:300010")
        let car = try Fixture.readCAR(r.body)
        #expect(car.blocks.count == 2)  // the root and the second leaf
        let part = try Exporter(blocks: MemoryBlocks(car.blocks)).cat(f.root.cid, offset: 300_000, length: 11)
        #expect(part == Array(data[300_000...300_010]))
        let tail = try Fixture.readCAR(try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=-1024:*").body)
        #expect(tail.blocks.count == 2)
        let whole = try Fixture.readCAR(try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=0:*").body)
        #expect(whole.blocks.count == 5)
        let empty = try Fixture.readCAR(try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=-10:-20").body)
        #expect(empty.blocks.map(\.cid) == [f.root.cid])
        let outside = try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=2000000:*")
        #expect(outside.status == 400)
        let bad = try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=abc")
        #expect(bad.status == 400)
        let etagA = try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=0:10", method: .HEAD)
        let etagB = try await gw.get("/ipfs/\(f.root.cid)?format=car&entity-bytes=0:11", method: .HEAD)
        #expect(etagA.header("Etag") != etagB.header("Etag"))
        await gw.stop()
    }

    @Test("The probe CID bafkqaaa answers an empty raw block and a CAR naming it as root")
    func probe() async throws {
        let gw = try await LiveGateway.start()
        let raw = try await gw.get("/ipfs/bafkqaaa?format=raw")
        #expect(raw.status == 200 && raw.body.isEmpty)
        let car = try await gw.get("/ipfs/bafkqaaa?format=car")
        #expect(car.status == 200)
        let decoded = try Fixture.readCAR(car.body)
        #expect(decoded.roots.map(\.description) == ["bafkqaaa"])
        #expect(decoded.blocks.isEmpty)  // identity blocks are never written
        let head = try await gw.get("/ipfs/bafkqaaa?format=raw", method: .HEAD)
        #expect(head.status == 200)
        await gw.stop()
    }

    @Test("An unknown format is 400 naming what is served; a dag-cbor block is served as its block")
    func formats() async throws {
        let gw = try await LiveGateway.start()
        let tar = try await gw.get("/ipfs/bafkqaaa?format=tar")
        #expect(tar.status == 400)
        #expect(tar.text.contains("format=raw"))
        let cbor = DagCBOR.map(["a": .int(1)]).encoded()
        let cid = CID.v1(codec: .dagCBOR, Multihash.sha256(cbor))
        try gw.put([Block(cid: cid, bytes: cbor)])
        let r = try await gw.get("/ipfs/\(cid)")
        #expect(r.status == 200 && r.body == cbor)
        #expect(r.header("Content-Type") == "application/vnd.ipld.dag-cbor")
        let pathed = try await gw.get("/ipfs/\(cid)/a")
        #expect(pathed.status == 501)
        await gw.stop()
    }
}

@Suite("Trustless gateway: duplicates, HAMT scope, broken DAGs")
struct GatewayCAREdgeTests {
    @Test("dups=n writes a repeated leaf once, dups=y every time the walk meets it")
    func dups() async throws {
        let gw = try await LiveGateway.start()
        let chunk = Fixture.bytes(262_144)
        let f = try Fixture.file(chunk + chunk + Fixture.bytes(1000, seed: 5))
        try gw.put(f.blocks)
        let once = try Fixture.readCAR(try await gw.get("/ipfs/\(f.root.cid)?format=car").body)
        let every = try Fixture.readCAR(try await gw.get("/ipfs/\(f.root.cid)?format=car&car-dups=y").body)
        #expect(once.blocks.count == 3)
        #expect(every.blocks.count == 4)
        #expect(Set(every.blocks.map(\.cid)) == Set(once.blocks.map(\.cid)))
        await gw.stop()
    }

    @Test("dag-scope=entity of a HAMT directory is its shard nodes, none of its entries")
    func hamtEntity() async throws {
        let gw = try await LiveGateway.start()
        var blocks: [Block] = []
        var settings = ImportSettings(cidVersion: .v1)
        settings.hamtShardingThreshold = 500
        settings.hamtFanout = 8
        var entries: [(String, ImportedNode)] = []
        var fileCIDs = Set<CID>()
        for i in 0..<100 {
            let f = try Fixture.file(Array("entry \(i)".utf8))
            blocks += f.blocks
            fileCIDs.insert(f.root.cid)
            entries.append(("e\(i)", f.root))
        }
        let before = blocks.count
        let dir = try Fixture.directory(entries, blocks: &blocks, settings: settings)
        let shardCIDs = Set(blocks[before...].map(\.cid))
        #expect(shardCIDs.count > 1)
        try gw.put(blocks)
        let car = try Fixture.readCAR(try await gw.get("/ipfs/\(dir.cid)?format=car&dag-scope=entity").body)
        #expect(Set(car.blocks.map(\.cid)) == shardCIDs)
        #expect(car.blocks.first?.cid == dir.cid)
        let all = try Fixture.readCAR(try await gw.get("/ipfs/\(dir.cid)?format=car").body)
        #expect(Set(all.blocks.map(\.cid)) == shardCIDs.union(fileCIDs))
        await gw.stop()
    }

    @Test("A leaf nobody has, met after the answer started, ends the stream short (never a silently complete answer)")
    func missingLeaf() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(800_000)
        let f = try Fixture.file(data)
        let leaves = f.blocks.filter { $0.cid.codec == .raw }
        try gw.put(f.blocks.filter { $0.cid != leaves[2].cid })
        gw.repo.setFetcher(MemoryFetcher())
        var fileEnded = "complete"
        do {
            let r = try await gw.get("/ipfs/\(f.root.cid)")
            if r.body.count < data.count { fileEnded = "short" }
        } catch {
            fileEnded = "error"
        }
        #expect(fileEnded != "complete")
        var carBytes: [UInt8] = []
        do {
            carBytes = try await gw.get("/ipfs/\(f.root.cid)?format=car").body
        } catch {}
        let decoded = try? Fixture.readCAR(carBytes)
        #expect(decoded.map { Set($0.blocks.map(\.cid)) != Set(f.blocks.map(\.cid)) } ?? true)
        await gw.stop()
    }
}
