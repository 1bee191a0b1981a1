import AsyncHTTPClient
import Foundation
import Gateway
import Multiformats
import NIOHTTP1
import Testing
import UnixFS

@Suite("Path gateway: files and directories")
struct GatewayFileTests {
    @Test("A UnixFS file is served whole with its CID as ETag, immutable caching, X-Ipfs-Path and X-Ipfs-Roots")
    func fileWhole() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(700_000)
        let f = try Fixture.file(data)
        try gw.put(f.blocks)
        let r = try await gw.get("/ipfs/\(f.root.cid)")
        #expect(r.status == 200)
        #expect(r.body == data)
        #expect(r.header("Etag") == "\"\(f.root.cid)\"")
        #expect(r.header("Cache-Control") == "public, max-age=29030400, immutable")
        #expect(r.header("X-Ipfs-Path") == "/ipfs/\(f.root.cid)")
        #expect(r.header("X-Ipfs-Roots") == "\(f.root.cid)")
        #expect(r.header("Content-Length") == "700000")
        #expect(r.header("Content-Type") == "application/octet-stream")
        #expect(r.header("Accept-Ranges") == "bytes")
        await gw.stop()
    }

    @Test("HEAD answers the GET headers with Content-Length and no body")
    func head() async throws {
        let gw = try await LiveGateway.start()
        let f = try Fixture.file(Array("hello gateway\n".utf8))
        try gw.put(f.blocks)
        let r = try await gw.get("/ipfs/\(f.root.cid)", method: .HEAD)
        #expect(r.status == 200)
        #expect(r.body.isEmpty)
        #expect(r.header("Content-Length") == "14")
        #expect(r.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(r.header("Etag") == "\"\(f.root.cid)\"")
        // The connection stays usable after a HEAD (no stray body bytes).
        let again = try await gw.get("/ipfs/\(f.root.cid)")
        #expect(again.text == "hello gateway\n")
        await gw.stop()
    }

    @Test("If-None-Match with the ETag (or a list holding it, or *) is 304 without a body")
    func notModified() async throws {
        let gw = try await LiveGateway.start()
        let f = try Fixture.file(Fixture.bytes(1000))
        try gw.put(f.blocks)
        for inm in ["\"\(f.root.cid)\"", "\"x\", \"\(f.root.cid)\"", "W/\"\(f.root.cid)\"", "*"] {
            let r = try await gw.get("/ipfs/\(f.root.cid)", headers: [("If-None-Match", inm)])
            #expect(r.status == 304, "\(inm)")
            #expect(r.body.isEmpty)
            #expect(r.header("Etag") == "\"\(f.root.cid)\"")
        }
        let other = try await gw.get("/ipfs/\(f.root.cid)", headers: [("If-None-Match", "\"bafyother\"")])
        #expect(other.status == 200)
        await gw.stop()
    }

    @Test("A single Range is 206 with Content-Range across block boundaries; unsatisfiable is 416; several ranges are 200 whole")
    func ranges() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(600_000)
        let f = try Fixture.file(data)
        try gw.put(f.blocks)
        let p = "/ipfs/\(f.root.cid)"
        let mid = try await gw.get(p, headers: [("Range", "bytes=262000-262999")])
        #expect(mid.status == 206)
        #expect(mid.body == Array(data[262_000...262_999]))
        #expect(mid.header("Content-Range") == "bytes 262000-262999/600000")
        #expect(mid.header("Content-Length") == "1000")
        let suffix = try await gw.get(p, headers: [("Range", "bytes=-10")])
        #expect(suffix.status == 206 && suffix.body == Array(data.suffix(10)))
        let open = try await gw.get(p, headers: [("Range", "bytes=599990-")])
        #expect(open.body == Array(data.suffix(10)))
        let past = try await gw.get(p, headers: [("Range", "bytes=600000-")])
        #expect(past.status == 416)
        #expect(past.header("Content-Range") == "bytes */600000")
        let multi = try await gw.get(p, headers: [("Range", "bytes=0-1,5-6")])
        #expect(multi.status == 200 && multi.body == data)
        let bad = try await gw.get(p, headers: [("Range", "items=0-1")])
        #expect(bad.status == 200)
        await gw.stop()
    }

    @Test("A directory without a trailing slash is a 301 to the slash; its listing escapes names and links them")
    func listing() async throws {
        let gw = try await LiveGateway.start()
        var blocks: [Block] = []
        let a = try Fixture.file(Array("a".utf8))
        let b = try Fixture.file(Array("b".utf8))
        blocks += a.blocks + b.blocks
        let dir = try Fixture.directory([("<script>x.txt", a.root), ("plain & simple", b.root)], blocks: &blocks)
        try gw.put(blocks)
        let redirect = try await gw.get("/ipfs/\(dir.cid)?x=1")
        #expect(redirect.status == 301)
        #expect(redirect.header("Location") == "/ipfs/\(dir.cid)/?x=1")
        let page = try await gw.get("/ipfs/\(dir.cid)/")
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.header("Etag")?.hasPrefix("\"DirIndex-") == true)
        #expect(page.header("Cache-Control") == "public, max-age=29030400, immutable")
        #expect(!page.text.contains("<script>x"))
        #expect(page.text.contains("&lt;script&gt;x.txt"))
        #expect(page.text.contains("plain &amp; simple"))
        #expect(page.text.contains("href=\"/ipfs/\(dir.cid)/plain%20&amp;%20simple\""))
        let file = try await gw.get("/ipfs/\(dir.cid)/plain%20&%20simple")
        #expect(file.text == "b")
        await gw.stop()
    }

    @Test("A directory with index.html is answered with that file as HTML")
    func indexHTML() async throws {
        let gw = try await LiveGateway.start()
        var blocks: [Block] = []
        let index = try Fixture.file(Array("<p>hi</p>".utf8))
        blocks += index.blocks
        let dir = try Fixture.directory([("index.html", index.root)], blocks: &blocks)
        try gw.put(blocks)
        let r = try await gw.get("/ipfs/\(dir.cid)/")
        #expect(r.status == 200)
        #expect(r.text == "<p>hi</p>")
        #expect(r.header("Content-Type") == "text/html; charset=utf-8")
        await gw.stop()
    }

    @Test("A path through nested directories serves the file, X-Ipfs-Roots lists one CID per segment, the type comes from the name")
    func nestedPath() async throws {
        let gw = try await LiveGateway.start()
        var blocks: [Block] = []
        let css = try Fixture.file(Array("body{}".utf8))
        blocks += css.blocks
        let inner = try Fixture.directory([("style.css", css.root)], blocks: &blocks)
        let outer = try Fixture.directory([("assets", inner)], blocks: &blocks)
        try gw.put(blocks)
        let r = try await gw.get("/ipfs/\(outer.cid)/assets/style.css")
        #expect(r.status == 200)
        #expect(r.text == "body{}")
        #expect(r.header("Content-Type") == "text/css; charset=utf-8")
        #expect(r.header("X-Ipfs-Roots") == "\(outer.cid),\(inner.cid),\(css.root.cid)")
        #expect(r.header("X-Ipfs-Path") == "/ipfs/\(outer.cid)/assets/style.css")
        let missing = try await gw.get("/ipfs/\(outer.cid)/assets/nope.css")
        #expect(missing.status == 404)
        #expect(missing.text.contains("nope.css"))
        let underFile = try await gw.get("/ipfs/\(outer.cid)/assets/style.css/more")
        #expect(underFile.status == 404)
        await gw.stop()
    }

    @Test("A HAMT-sharded directory is listed whole and each name in it is found by its hash")
    func hamt() async throws {
        let gw = try await LiveGateway.start()
        var blocks: [Block] = []
        var settings = ImportSettings(cidVersion: .v1)
        settings.hamtShardingThreshold = 1000
        settings.hamtFanout = 16
        var entries: [(String, ImportedNode)] = []
        for i in 0..<300 {
            let f = try Fixture.file(Array("file \(i)".utf8))
            blocks += f.blocks
            entries.append(("f\(i).txt", f.root))
        }
        let dir = try Fixture.directory(entries, blocks: &blocks, settings: settings)
        try gw.put(blocks)
        let rootBlock = try #require(blocks.last)
        #expect(rootBlock.cid == dir.cid)
        if case .hamt = try GatewayNode.decode(dir.cid, rootBlock.bytes) {} else { Issue.record("the fixture is not a HAMT directory") }
        for i in [0, 1, 17, 150, 299] {
            let r = try await gw.get("/ipfs/\(dir.cid)/f\(i).txt")
            #expect(r.status == 200 && r.text == "file \(i)", "f\(i).txt")
        }
        let none = try await gw.get("/ipfs/\(dir.cid)/f300.txt")
        #expect(none.status == 404)
        let page = try await gw.get("/ipfs/\(dir.cid)/")
        #expect(page.status == 200)
        for i in 0..<300 { #expect(page.text.contains(">f\(i).txt</a>")) }
        await gw.stop()
    }

    @Test("?filename sets an inline Content-Disposition (UTF-8 names in both forms) and the type; &download=true makes it an attachment")
    func filename() async throws {
        let gw = try await LiveGateway.start()
        let f = try Fixture.file(Fixture.bytes(100))
        try gw.put(f.blocks)
        let inline = try await gw.get("/ipfs/\(f.root.cid)?filename=report.pdf")
        #expect(inline.header("Content-Disposition") == "inline; filename=\"report.pdf\"")
        #expect(inline.header("Content-Type") == "application/pdf")
        let attach = try await gw.get("/ipfs/\(f.root.cid)?filename=report.pdf&download=true")
        #expect(attach.header("Content-Disposition") == "attachment; filename=\"report.pdf\"")
        let utf8 = try await gw.get("/ipfs/\(f.root.cid)?filename=test%D1%82%D0%B5%D1%81%D1%82.pdf")
        #expect(utf8.header("Content-Disposition") == "inline; filename=\"test____.pdf\"; filename*=UTF-8''test%D1%82%D0%B5%D1%81%D1%82.pdf")
        await gw.stop()
    }

    @Test("CIDv0 and CIDv1 of one file are both served, each named as asked in X-Ipfs-Path")
    func cidVersions() async throws {
        let gw = try await LiveGateway.start()
        let data = Fixture.bytes(300_000)
        let f = try Fixture.file(data, settings: ImportSettings())
        try gw.put(f.blocks)
        #expect(f.root.cid.version == .v0)
        let v0 = try await gw.get("/ipfs/\(f.root.cid)")
        #expect(v0.status == 200 && v0.body == data)
        let v1 = try await gw.get("/ipfs/\(f.root.cid.v1)")
        #expect(v1.status == 200 && v1.body == data)
        #expect(v1.header("X-Ipfs-Path") == "/ipfs/\(f.root.cid.v1)")
        await gw.stop()
    }

    @Test("Bad requests are refused with a reason: bad CID 400, /ipns/ 501, '..', NUL and over-long names 400, other methods 405")
    func refusals() async throws {
        let gw = try await LiveGateway.start()
        let f = try Fixture.file(Array("x".utf8))
        try gw.put(f.blocks)
        let bad = try await gw.get("/ipfs/notacid")
        #expect(bad.status == 400)
        #expect(bad.text.contains("invalid CID"))
        let ipns = try await gw.get("/ipns/example.com/index.html")
        #expect(ipns.status == 501)
        #expect(ipns.text.contains("/ipns/"))
        for p in ["/ipfs/\(f.root.cid)/../x", "/ipfs/\(f.root.cid)/%2e%2e/x", "/ipfs/\(f.root.cid)/a%00b", "/ipfs/\(f.root.cid)/" + String(repeating: "n", count: 256)] {
            let r = try await gw.get(p)
            #expect(r.status == 400, "\(p.prefix(80))")
        }
        let atLimit = try await gw.get("/ipfs/\(f.root.cid)/" + String(repeating: "n", count: 255))
        #expect(atLimit.status == 404)
        let root = try await gw.get("/")
        #expect(root.status == 404)
        let post = try await gw.get("/ipfs/\(f.root.cid)", method: .POST)
        #expect(post.status == 405)
        #expect(post.header("Allow") == "GET, HEAD")
        await gw.stop()
    }

    @Test("Service-Worker: script for a whole /ipfs/<cid> is 400; under /ipfs/<cid>/ it is served")
    func serviceWorker() async throws {
        let gw = try await LiveGateway.start()
        var blocks: [Block] = []
        let sw = try Fixture.file(Array("self.onfetch=null".utf8))
        blocks += sw.blocks
        let dir = try Fixture.directory([("sw.js", sw.root)], blocks: &blocks)
        try gw.put(blocks)
        let whole = try await gw.get("/ipfs/\(dir.cid)", headers: [("Service-Worker", "script")])
        #expect(whole.status == 400)
        let under = try await gw.get("/ipfs/\(dir.cid)/sw.js", headers: [("Service-Worker", "script")])
        #expect(under.status == 200)
        #expect(under.header("Content-Type") == "text/javascript; charset=utf-8")
        await gw.stop()
    }
}
