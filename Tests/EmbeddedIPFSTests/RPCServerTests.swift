import AsyncHTTPClient
import Datastore
import EmbeddedIPFS
import Foundation
import Multiformats
import Testing
import UnixFS

/// The RPC API over real HTTP on loopback, checked against kubo's documented shapes.
@Suite struct RPCServerTests {
    @Test func addGivesKubosCIDsAndOutputShape() async throws {
        let node = try await LiveNode.start()
        let r = try await node.call("add", parts: [.init(name: "hello.txt", bytes: Array("hello world\n".utf8))])
        #expect(r.status == 200)
        #expect(r.header("X-Chunked-Output") == "1")
        #expect(r.header("Content-Type") == "application/json")
        #expect(r.header("Trailer") == "X-Stream-Error")
        // `echo "hello world" | ipfs add` in kubo; Size is a string in kubo's output.
        #expect(r.text == "{\"Name\":\"hello.txt\",\"Hash\":\"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\",\"Size\":\"20\"}\n")
        let pins = try await node.call("pin/ls", "type=recursive")
        #expect(pins.json["Keys"]["QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"].exists)
        // The same bytes through the in-memory importer.
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        let expected = try FileImporter.importBytes(big, settings: ImportSettings(cidVersion: .v1))
        let r2 = try await node.call("add", "cid-version=1&progress=true", parts: [.init(name: "big.bin", bytes: big)])
        let last = r2.lines.last!
        #expect(last["Hash"].string == expected.root.cid.description)
        #expect(r2.lines.contains { ($0["Bytes"].int) == big.count })
        let cat = try await node.call("cat", "arg=\(expected.root.cid)&offset=1000000&length=5")
        #expect(cat.body == Array(big[1_000_000..<1_000_005]))
        let whole = try await node.call("cat", "arg=/ipfs/\(expected.root.cid)")
        #expect(whole.body == big)
    }

    @Test func addDirectoriesNestedAndWrapped() async throws {
        let node = try await LiveNode.start()
        let parts: [LiveNode.Part] = [
            .init(name: "d", type: "application/x-directory"),
            .init(name: "d/a.txt", bytes: Array("alpha".utf8)),
            .init(name: "d/sub", type: "application/x-directory"),
            .init(name: "d/sub/b.txt", bytes: Array("beta".utf8)),
            .init(name: "d/link", type: "application/symlink", bytes: Array("a.txt".utf8)),
        ]
        let r = try await node.call("add", "wrap-with-directory=true&cid-version=1", parts: parts)
        let names = r.lines.compactMap { $0["Name"].string }
        #expect(names.prefix(3) == ["d/a.txt", "d/sub/b.txt", "d/link"])
        #expect(names.suffix(3).first == "d/sub")
        #expect(names.suffix(2).first == "d")
        let root = r.lines.last!["Hash"].string!
        // Paths resolve through the directories; cat reads through them.
        let cat = try await node.call("cat", "arg=/ipfs/\(root)/d/sub/b.txt")
        #expect(cat.text == "beta")
        let res = try await node.call("resolve", "arg=/ipfs/\(root)/d/a.txt")
        let aHash = r.lines.first { $0["Name"].string == "d/a.txt" }!["Hash"].string!
        #expect(res.json["Path"].string == "/ipfs/\(aHash)")
        // Only the wrapper is pinned (recursively); its files are indirect.
        let ls = try await node.call("pin/ls", "type=recursive&stream=true")
        #expect(ls.lines.map { $0["Cid"].string } == [root])
        let ind = try await node.call("pin/ls", "arg=\(aHash)")
        #expect(ind.json["Keys"][aHash]["Type"].string == "indirect through \(root)")
        // A directory cannot be cat'ed.
        let bad = try await node.call("cat", "arg=\(root)")
        #expect(bad.status == 500)
        #expect(bad.json["Message"].string == "this dag node is a directory")
        // The older Content-Disposition form some clients send.
        let old = try await node.call("add", "", parts: [.init(name: "x.txt", bytes: Array("x".utf8), disposition: "file")])
        #expect(old.lines.first?["Name"].string == "x.txt")
    }

    @Test func directoriesAreReportedInKubosPostOrder() async throws {
        let node = try await LiveNode.start()
        let parts: [LiveNode.Part] = [
            .init(name: "d", type: "application/x-directory"),
            .init(name: "d/b", type: "application/x-directory"),
            .init(name: "d/b/deep", type: "application/x-directory"),
            .init(name: "d/b/deep/g", bytes: [1]),
            .init(name: "d/a", type: "application/x-directory"),
            .init(name: "d/a/f", bytes: [2]),
        ]
        let r = try await node.call("add", parts: parts)
        #expect(r.lines.compactMap { $0["Name"].string } == ["d/b/deep/g", "d/a/f", "d/a", "d/b/deep", "d/b", "d"])
    }

    @Test func addOptions() async throws {
        let node = try await LiveNode.start()
        let data = Array("only a hash".utf8)
        let r = try await node.call("add", "only-hash=true", parts: [.init(name: "f", bytes: data)])
        #expect(r.status == 200)
        #expect(node.repo.stat().numObjects == 0)
        let q = try await node.call("add", "quieter=true&pin=false", parts: [.init(name: "a", bytes: [1]), .init(name: "b", bytes: [2])])
        #expect(q.lines.count == 1)
        #expect(try node.repo.pins.count() == 0)
        let unsupported = try await node.call("add", "nocopy=true", parts: [.init(name: "f", bytes: data)])
        #expect(unsupported.status == 400)
        let badChunker = try await node.call("add", "chunker=size-0", parts: [.init(name: "f", bytes: data)])
        #expect(badChunker.status == 400)
        let notMultipart = try await node.call("add", rawBody: data, contentType: "application/octet-stream")
        #expect(notMultipart.status == 400)
        #expect(notMultipart.json["Type"].string == "error")
        #expect(notMultipart.json["Code"].int == 1)
    }

    /// kubo 0.40's option rules through the RPC API (Specs/unixfs.md; the goldens are kubo's
    /// sharness outputs for the same bytes).
    @Test func addFollowsKubosHashAndInlineRules() async throws {
        let node = try await LiveNode.start()
        let mars = Array("Hello Mars!\n".utf8)
        let b2 = try await node.call("add", "hash=blake2b-256", parts: [.init(name: "mars.txt", bytes: mars)])
        #expect(b2.status == 200 && b2.lines.last?["Hash"].string == "bafk2bzaceaqcxw46uzkyd2jmczoogof6pnkqt4dpiv3pwkunsv4g5rkkmecie")
        let sha3 = try await node.call("add", "hash=sha3-256&raw-leaves=false", parts: [.init(name: "mars.txt", bytes: mars)])
        let sha3CID = try CID(sha3.lines.last?["Hash"].string ?? "")
        #expect(sha3CID.version == .v1 && sha3CID.codec == .dagPB && sha3CID.multihash.code == .sha3_256)
        let v0 = try await node.call("add", "hash=sha2-512&cid-version=0", parts: [.init(name: "mars.txt", bytes: mars)])
        #expect(v0.status == 400 && v0.json["Message"].string == "CIDv0 only supports sha2-256")
        let inline = try await node.call("add", "inline=true", parts: [.init(name: "mars.txt", bytes: mars)])
        let inlineCID = try CID(inline.lines.last?["Hash"].string ?? "")
        #expect(inlineCID.multihash.code == .identity)
        // The identity block reads back like any other.
        let cat = try await node.call("cat", "arg=\(inlineCID)")
        #expect(cat.status == 200 && cat.body == mars)
        let over = try await node.call("add", "inline=true&inline-limit=129", parts: [.init(name: "f", bytes: mars)])
        #expect(over.status == 400 && over.json["Message"].string == "inline-limit 129 exceeds maximum allowed size of 128 bytes")
    }

    @Test func addPastStorageMaxFailsInTheTrailerAndPinsNothing() async throws {
        let node = try await LiveNode.start(storageMax: 64 * 1024)
        let big = [UInt8](repeating: 5, count: 1) + (0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 9) }
        let r = try await node.call("add", parts: [.init(name: "big", bytes: big)])
        #expect(r.status == 200)  // the headers were out before the disk filled
        #expect(r.trailer("X-Stream-Error")?.contains("StorageMax") == true)
        #expect(try node.repo.pins.count() == 0)
        #expect(node.repo.stat().repoSize <= 64 * 1024)
    }

    @Test func blockPutGetStatRm() async throws {
        let node = try await LiveNode.start()
        let parts: [LiveNode.Part] = [.init(name: "b1", bytes: Array("one".utf8)), .init(name: "b2", bytes: Array("two".utf8))]
        let r = try await node.call("block/put", "cid-codec=raw&mhtype=sha2-256", parts: parts)
        let keys = r.lines.compactMap { $0["Key"].string }
        #expect(keys == [CID.v1(codec: .raw, .sha256(Array("one".utf8))).description, CID.v1(codec: .raw, .sha256(Array("two".utf8))).description])
        #expect(r.lines.first?["Size"].int == 3)
        let get = try await node.call("block/get", "arg=\(keys[0])")
        #expect(get.text == "one")
        let stat = try await node.call("block/stat", "arg=\(keys[1])")
        #expect(stat.json["Size"].int == 3)
        #expect(stat.json["Key"].string == keys[1])
        // Big blocks need allow-big-block; past the hard limit never.
        let big = [UInt8](repeating: 1, count: (1 << 20) + 1)
        let refused = try await node.call("block/put", parts: [.init(name: "big", bytes: big)])
        #expect(refused.trailer("X-Stream-Error")?.contains("over 1MiB") == true || refused.status == 400)
        let allowed = try await node.call("block/put", "allow-big-block=true", parts: [.init(name: "big", bytes: big)])
        #expect(allowed.lines.count == 1)
        // dag-pb (CIDv0 via the deprecated format option).
        let pb = PBNode(links: [], data: [8, 1]).encoded()
        let v0 = try await node.call("block/put", "format=v0", parts: [.init(name: "pb", bytes: pb)])
        #expect((v0.lines.first?["Key"].string)?.hasPrefix("Qm") == true)
        // block/rm refuses a pinned block and removes an unpinned one.
        _ = try await node.call("pin/add", "arg=\(keys[0])")
        let rm = try await node.call("block/rm", "arg=\(keys[0])&arg=\(keys[1])")
        #expect(rm.lines.first?["Error"].string == "pinned: recursive")
        #expect(rm.lines.last?["Error"].exists == false)
        #expect(!node.repo.blocks.has(try CID(keys[1])))
        let missing = try await node.call("block/get", "arg=\(keys[1])")
        #expect(missing.status == 500)
    }

    @Test func pinAddRmLsUpdateVerifyAndErrors() async throws {
        let node = try await LiveNode.start()
        let dag = try sampleDAG(leaves: 30)
        for b in dag.blocks { try node.repo.put(b) }
        let add = try await node.call("pin/add", "arg=\(dag.root)&progress=true")
        #expect(add.lines.last?["Pins"].strings == [dag.root.description])
        #expect(add.lines.last?["Progress"].int == dag.blocks.count)
        let again = try await node.call("pin/add", "arg=\(dag.root)&recursive=True")  // Go's ParseBool
        #expect(again.json["Pins"].strings == [dag.root.description])
        let ls = try await node.call("pin/ls", "arg=\(dag.root)&type=recursive")
        #expect(ls.json["Keys"][dag.root.description]["Type"].string == "recursive")
        let notPinned = try await node.call("pin/ls", "arg=\(CID.v1(codec: .raw, .sha256([9])))")
        #expect(notPinned.status == 500)
        #expect((notPinned.json["Message"].string)?.hasSuffix("is not pinned") == true)
        let badType = try await node.call("pin/ls", "type=sideways")
        #expect(badType.status == 400)
        let verify = try await node.call("pin/verify", "verbose=true")
        #expect(verify.lines.first?["Ok"].bool == true)
        // A corrupt leaf is reported by pin/verify.
        let leaf = dag.blocks[0]
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: node.repo.blocks.path(leaf.cid.multihash)))
        let verify2 = try await node.call("pin/verify")
        #expect(verify2.lines.first?["Ok"].bool == false)
        #expect(verify2.lines.first?["BadNodes"][0]["Cid"].string == leaf.cid.description)
        // Update to another DAG.
        let other = try sampleDAG(seed: 9, leaves: 2)
        for b in other.blocks { try node.repo.put(b) }
        let upd = try await node.call("pin/update", "arg=\(dag.root)&arg=\(other.root)")
        #expect(upd.json["Pins"].strings == [dag.root.description, other.root.description])
        let rm = try await node.call("pin/rm", "arg=\(other.root)")
        #expect(rm.json["Pins"].strings == [other.root.description])
        let rm2 = try await node.call("pin/rm", "arg=\(other.root)")
        #expect(rm2.status == 500)
        #expect(rm2.text == "{\"Message\":\"not pinned or pinned indirectly\",\"Code\":0,\"Type\":\"error\"}\n")
        let depth = try await node.call("pin/add", "arg=\(other.root)&max-depth=0")
        #expect(depth.status == 200)
        let lsd = try await node.call("pin/ls", "arg=\(other.root)&stream=true")
        #expect(lsd.lines.first?["MaxDepth"].int == 0)
    }

    @Test func pinAddTimesOutWhileBlocksAreMissing() async throws {
        let node = try await LiveNode.start()
        let dag = try sampleDAG(leaves: 5)
        try node.repo.put(dag.blocks.last!)
        let r = try await node.call("pin/add", "arg=\(dag.root)&timeout=200ms")
        #expect(r.status == 500)
        #expect(r.json["Message"].string == "context deadline exceeded")
        #expect(try node.repo.pins.get(dag.root) == nil)
        let badTimeout = try await node.call("pin/add", "arg=\(dag.root)&timeout=soon")
        #expect(badTimeout.status == 400)
    }

    @Test func refsRepoGCAndStat() async throws {
        let node = try await LiveNode.start()
        let dag = try sampleDAG(leaves: 200)
        for b in dag.blocks { try node.repo.put(b) }
        let refs = try await node.call("refs", "arg=\(dag.root)")
        #expect(refs.lines.count == 2)  // 200 leaves under 2 internal nodes
        let all = try await node.call("refs", "arg=\(dag.root)&recursive=true&unique=true")
        #expect(all.lines.count == dag.blocks.count - 1)
        let local = try await node.call("refs/local")
        #expect(local.lines.count == dag.blocks.count)
        let stat = try await node.call("repo/stat")
        #expect(stat.json["NumObjects"].int == dag.blocks.count)
        #expect(stat.json["StorageMax"].int == 10_000_000_000)
        #expect(stat.json["Version"].string == "fs-repo@16")
        try backdate(node.repo)
        let gc = try await node.call("repo/gc")
        #expect(gc.lines.count == dag.blocks.count)
        #expect(gc.lines.first?["Key"]["/"].exists == true)
        #expect(node.repo.stat().numObjects == 0)
    }

    @Test func dagExportImportRoundTrip() async throws {
        let a = try await LiveNode.start()
        let b = try await LiveNode.start()
        let dag = try sampleDAG(leaves: 20)
        for x in dag.blocks { try a.repo.put(x) }
        let car = try await a.call("dag/export", "arg=\(dag.root)")
        #expect(car.header("Content-Type") == "application/vnd.ipld.car")
        var r = HTTPClientRequest(url: b.api + "dag/import?stats=true")
        r.method = .POST
        let boundary = "car-boundary"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.car\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        body += car.body + Array("\r\n--\(boundary)--\r\n".utf8)
        r.body = .bytes(.init(bytes: body))
        r.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        let resp = try await HTTPClient.shared.execute(r, timeout: .seconds(30))
        let text = String(buffer: try await resp.body.collect(upTo: 1 << 20))
        #expect(text.contains("\"PinErrorMsg\":\"\""))
        #expect(text.contains("\"BlockCount\":\(dag.blocks.count)"))
        #expect(try b.repo.pins.get(dag.root) != nil)
        // A truncated CAR is refused and pins nothing new.
        let c = try await LiveNode.start()
        let cut = Array(car.body.prefix(car.body.count - 10))
        let bad = try await c.call("dag/import", parts: [.init(name: "x.car", bytes: cut)])
        #expect(bad.trailer("X-Stream-Error") != nil || bad.status == 400)
        #expect(try c.repo.pins.count() == 0)
    }

    @Test func kuboConventions() async throws {
        let node = try await LiveNode.start()
        let get = try await node.call("id", method: .GET)
        #expect(get.status == 405)
        let unknown = try await node.call("frobnicate")
        #expect(unknown.status == 404)
        #expect(unknown.text == "404 page not found\n")
        let id = try await node.call("id")
        #expect(id.json["ID"].string == node.repo.peerID.description)
        let version = try await node.call("version")
        #expect(version.json["Version"].string != nil)
        let peers = try await node.call("swarm/peers")
        #expect(peers.status == 500 && peers.json["Message"].string?.contains("online mode") == true)
        let badCID = try await node.call("block/get", "arg=notacid")
        #expect(badCID.status == 400)
        #expect(badCID.json["Code"].int == 1)
        let missingArg = try await node.call("pin/add")
        #expect(missingArg.status == 400)
        let twice = try await node.call("pin/ls", "type=all&type=direct")
        #expect(twice.status == 400)
    }

    @Test func clientGoneMidUploadLeavesNothingPinnedOrHeld() async throws {
        let node = try await LiveNode.start()
        // Promise 10 MB, send 600 KB of one file, then vanish.
        let data = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ $0 >> 8 &+ $0 >> 16) }  // no two 256 KiB chunks alike
        let fd = try #require(openUpload(port: node.port, path: "/api/v0/add", promised: 10_000_000, file: data))
        #expect(await eventually { node.repo.stat().numObjects >= 2 })
        close(fd)
        // The import ends with the connection: nothing pinned, and GC may take its blocks.
        let repo = node.repo
        let emptied = try await eventually {
            try backdate(repo)
            _ = try await repo.collectGarbage(removed: { _ in })
            return repo.stat().numObjects == 0
        }
        #expect(emptied)
        #expect(try node.repo.pins.count() == 0)
        let after = try await node.call("version")
        #expect(after.status == 200)
    }

    @Test func malformedMultipartBodies() async throws {
        let node = try await LiveNode.start()
        // No boundary.
        let r1 = try await node.call("add", rawBody: Array("x".utf8), contentType: "multipart/form-data")
        #expect(r1.status == 400)
        // A body cut inside a part.
        let cut = Array("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nhalf a fi".utf8)
        let r2 = try await node.call("add", rawBody: cut, contentType: "multipart/form-data; boundary=b")
        #expect(r2.trailer("X-Stream-Error") != nil)
        #expect(try node.repo.pins.count() == 0)
        // A file before its directory.
        let r3 = try await node.call("add", parts: [.init(name: "nodir/f", bytes: [1])])
        #expect(r3.trailer("X-Stream-Error")?.contains("before its directory") == true)
        // '..' in a path.
        let r4 = try await node.call("add", parts: [.init(name: "d", type: "application/x-directory"), .init(name: "d/../x", bytes: [1])])
        #expect(r4.trailer("X-Stream-Error") != nil)
        // Garbage bytes.
        for seed in 0..<20 {
            var g = SystemRandomNumberGenerator()
            let junk = (0..<(seed * 37 + 1)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let r = try await node.call("add", rawBody: junk, contentType: "multipart/form-data; boundary=zz")
            #expect(r.status == 200 || r.status == 400)
            #expect(r.status == 400 || r.trailer("X-Stream-Error") != nil)
        }
        #expect(try node.repo.pins.count() == 0)
    }
}
