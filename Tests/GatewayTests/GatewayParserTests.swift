import Gateway
import Multiformats
import Testing

@Suite("Gateway parsers: paths, Range, entity-bytes, formats, content types")
struct GatewayParserTests {
    static let cid = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"

    /// The code of the GatewayError `body` throws, nil when it throws nothing.
    static func code(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? GatewayError)?.code.name ?? "not a GatewayError: \(error)"
        }
    }

    @Test("A path decodes its names, keeps the trailing slash, skips empty segments and accepts CIDv0")
    func paths() throws {
        let p = try GatewayPath.parse("/ipfs/\(Self.cid)/a%20b//c/")
        #expect(p.cid.description == Self.cid)
        #expect(p.names == ["a b", "c"])
        #expect(p.trailingSlash)
        #expect(p.contentPath == "/ipfs/\(Self.cid)/a%20b/c")
        let v0 = try GatewayPath.parse("/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")
        #expect(v0.cid.version == .v0 && v0.names.isEmpty && !v0.trailingSlash)
    }

    @Test("Refused paths: '.', '..', NUL, escaped '/', bad escapes, bad UTF-8, bad CIDs, /ipns/, other namespaces")
    func refusedPaths() {
        let c = Self.cid
        for (path, expected) in [
            ("/ipfs/\(c)/..", "badRequest"), ("/ipfs/\(c)/.", "badRequest"), ("/ipfs/\(c)/%2E%2E", "badRequest"),
            ("/ipfs/\(c)/a%00", "badRequest"), ("/ipfs/\(c)/a%2fb", "badRequest"), ("/ipfs/\(c)/a%zz", "badRequest"),
            ("/ipfs/\(c)/a%4", "badRequest"), ("/ipfs/\(c)/%FF%FE", "badRequest"), ("/ipfs/notacid", "badRequest"),
            ("/ipfs/", "badRequest"), ("/ipns/k51qzi5uqu5d", "notImplemented"), ("/", "notFound"), ("/api/v0/cat", "notFound"),
        ] {
            #expect(Self.code { _ = try GatewayPath.parse(path) } == expected, "\(path)")
        }
    }

    @Test("Path limits hold at the limit and refuse one over: name bytes, names, path bytes")
    func pathLimits() throws {
        let c = Self.cid
        _ = try GatewayPath.parse("/ipfs/\(c)/" + String(repeating: "n", count: GatewayPath.maxNameBytes))
        #expect(Self.code { _ = try GatewayPath.parse("/ipfs/\(c)/" + String(repeating: "n", count: GatewayPath.maxNameBytes + 1)) } == "badRequest")
        // An escaped name counts its decoded bytes.
        _ = try GatewayPath.parse("/ipfs/\(c)/" + String(repeating: "%41", count: GatewayPath.maxNameBytes))
        let names = { (n: Int) in "/ipfs/\(c)" + String(repeating: "/x", count: n) }
        #expect(try GatewayPath.parse(names(GatewayPath.maxSegments)).names.count == GatewayPath.maxSegments)
        #expect(Self.code { _ = try GatewayPath.parse(names(GatewayPath.maxSegments + 1)) } == "badRequest")
        let prefix = "/ipfs/\(c)/"
        let fill = { (n: Int) in prefix + (0..<(n - prefix.utf8.count)).map { $0 % 100 == 99 ? "/" : "a" }.joined() }
        _ = try GatewayPath.parse(fill(GatewayPath.maxPathBytes))
        #expect(Self.code { _ = try GatewayPath.parse(fill(GatewayPath.maxPathBytes + 1)) } == "badRequest")
    }

    @Test("Every prefix of a valid path parses or is refused, never traps")
    func pathPrefixes() {
        let full = "/ipfs/\(Self.cid)/dir%20x/file.txt/"
        for n in 0...full.utf8.count {
            let prefix = String(decoding: full.utf8.prefix(n), as: UTF8.self)
            _ = try? GatewayPath.parse(prefix)
        }
    }

    @Test("Range: single, open and suffix ranges; unsatisfiable; several, malformed and other units served whole")
    func ranges() {
        #expect(GatewayRange.resolve(nil, size: 10) == .whole)
        #expect(GatewayRange.resolve("bytes=0-0", size: 10) == .partial(first: 0, last: 0))
        #expect(GatewayRange.resolve("bytes=2-100", size: 10) == .partial(first: 2, last: 9))
        #expect(GatewayRange.resolve("bytes=7-", size: 10) == .partial(first: 7, last: 9))
        #expect(GatewayRange.resolve("bytes=-3", size: 10) == .partial(first: 7, last: 9))
        #expect(GatewayRange.resolve("bytes=-30", size: 10) == .partial(first: 0, last: 9))
        #expect(GatewayRange.resolve(" bytes=1-2 ", size: 10) == .partial(first: 1, last: 2))
        #expect(GatewayRange.resolve("bytes=10-", size: 10) == .unsatisfiable)
        #expect(GatewayRange.resolve("bytes=-0", size: 10) == .unsatisfiable)
        #expect(GatewayRange.resolve("bytes=0-", size: 0) == .unsatisfiable)
        #expect(GatewayRange.resolve("bytes=0-1,3-4", size: 10) == .whole)
        #expect(GatewayRange.resolve("bytes=20-30,3-4", size: 10) == .whole)
        #expect(GatewayRange.resolve("bytes=20-30,40-50", size: 10) == .unsatisfiable)
        for bad in ["bytes=5-2", "bytes=a-b", "bytes=", "bytes=-", "bytes=1-2-3", "items=0-1", "bytes=99999999999999999999-"] {
            #expect(GatewayRange.resolve(bad, size: 10) == .whole, "\(bad)")
        }
    }

    @Test("Range limits: 32 parts and 1024 header bytes are read, one more is ignored")
    func rangeLimits() {
        let parts = { (n: Int) in "bytes=" + (0..<n).map { "\($0 + 100)-\($0 + 100)" }.joined(separator: ",") }
        #expect(GatewayRange.resolve(parts(GatewayRange.maxRanges), size: 10) == .unsatisfiable)
        #expect(GatewayRange.resolve(parts(GatewayRange.maxRanges + 1), size: 10) == .whole)
        let long = { (n: Int) in "bytes=0-1" + String(repeating: " ", count: n - 9) }
        #expect(GatewayRange.resolve(long(GatewayRange.maxHeaderBytes), size: 10) == .partial(first: 0, last: 1))
        #expect(GatewayRange.resolve(long(GatewayRange.maxHeaderBytes + 1), size: 10) == .whole)
    }

    @Test("entity-bytes: offsets, * and negatives resolve against the size; malformed values are 400")
    func entityBytes() throws {
        #expect(try GatewayEntityBytes.parse("0:*").resolve(size: 100) == 0..<100)
        #expect(try GatewayEntityBytes.parse("10:19").resolve(size: 100) == 10..<20)
        #expect(try GatewayEntityBytes.parse("-10:*").resolve(size: 100) == 90..<100)
        #expect(try GatewayEntityBytes.parse("499:-1000").resolve(size: 2000) == 499..<1001)
        #expect(try GatewayEntityBytes.parse("90:500").resolve(size: 100) == 90..<100)
        #expect(try GatewayEntityBytes.parse("-10:-20").resolve(size: 100) == nil)
        #expect(try GatewayEntityBytes.parse("200:*").resolve(size: 100) == nil)
        #expect(try GatewayEntityBytes.parse("0:*").resolve(size: 0) == nil)
        for bad in ["", "1", "a:b", "1:2:3", "5:2", "1:x", "--1:*", ":5", String(repeating: "1", count: 19) + ":*"] {
            #expect(Self.code { _ = try GatewayEntityBytes.parse(bad) } == "badRequest", "\(bad)")
        }
        _ = try GatewayEntityBytes.parse(String(repeating: "9", count: 18) + ":*")
    }

    @Test("format takes precedence over Accept; CAR parameters are checked; unknown formats are 400")
    func formats() throws {
        #expect(try GatewayFormat.negotiate(format: nil, accept: nil) == (.unixfs, false))
        #expect(try GatewayFormat.negotiate(format: "raw", accept: "application/vnd.ipld.car") == (.raw, false))
        #expect(try GatewayFormat.negotiate(format: nil, accept: "text/html, application/vnd.ipld.raw;q=0.9") == (.raw, true))
        #expect(try GatewayFormat.negotiate(format: nil, accept: "application/vnd.ipld.car;version=1;order=dfs;dups=y") == (.car(dups: true), true))
        #expect(try GatewayFormat.negotiate(format: "car", accept: nil, carDups: "y") == (.car(dups: true), false))
        #expect(try GatewayFormat.negotiate(format: "car", accept: "application/vnd.ipld.car; order=unk") == (.car(dups: false), false))
        #expect(Self.code { _ = try GatewayFormat.negotiate(format: "car", accept: nil, carVersion: "2") } == "badRequest")
        #expect(Self.code { _ = try GatewayFormat.negotiate(format: nil, accept: "application/vnd.ipld.car; order=weird") } == "badRequest")
        #expect(Self.code { _ = try GatewayFormat.negotiate(format: "car", accept: nil, carDups: "maybe") } == "badRequest")
        #expect(Self.code { _ = try GatewayFormat.negotiate(format: "dag-json", accept: nil) } == "badRequest")
        #expect(try GatewayDAGScope.parse(nil) == .all)
        #expect(Self.code { _ = try GatewayDAGScope.parse("most") } == "badRequest")
    }

    @Test("Content types come from the extension first, then from the bytes as Go's DetectContentType")
    func contentTypes() {
        #expect(GatewayContentType.of(name: "a.SVG", head: []) == "image/svg+xml")
        #expect(GatewayContentType.of(name: "noext", head: Array("<!DOCTYPE html><p>".utf8)) == "text/html; charset=utf-8")
        #expect(GatewayContentType.sniff(Array("  <html>".utf8)) == "text/html; charset=utf-8")
        #expect(GatewayContentType.sniff(Array("<?xml version=\"1.0\"?><svg xmlns=\"x\"/>".utf8)) == "image/svg+xml")
        #expect(GatewayContentType.sniff(Array("<?xml version=\"1.0\"?><a/>".utf8)) == "text/xml; charset=utf-8")
        #expect(GatewayContentType.sniff(Array("%PDF-1.7".utf8)) == "application/pdf")
        #expect(GatewayContentType.sniff([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == "image/png")
        #expect(GatewayContentType.sniff([0xFF, 0xD8, 0xFF, 0xE0]) == "image/jpeg")
        #expect(GatewayContentType.sniff(Array("GIF89a".utf8)) == "image/gif")
        #expect(GatewayContentType.sniff(Array("RIFF\0\0\0\0WEBPVP8 ".utf8)) == "image/webp")
        #expect(GatewayContentType.sniff([0, 0, 0, 0x18] + Array("ftypmp42".utf8)) == "video/mp4")
        #expect(GatewayContentType.sniff([0x1F, 0x8B, 0x08, 0]) == "application/x-gzip")
        #expect(GatewayContentType.sniff(Array("PK\u{3}\u{4}".utf8)) == "application/zip")
        #expect(GatewayContentType.sniff([0, 0x61, 0x73, 0x6D, 1, 0, 0, 0]) == "application/wasm")
        #expect(GatewayContentType.sniff(Array("plain words\n".utf8)) == "text/plain; charset=utf-8")
        #expect(GatewayContentType.sniff([0xEF, 0xBB, 0xBF, 0x41]) == "text/plain; charset=utf-8")
        #expect(GatewayContentType.sniff([1, 2, 3]) == "application/octet-stream")
        #expect(GatewayContentType.sniff([]) == "text/plain; charset=utf-8")
        // Only the first 512 bytes count.
        #expect(GatewayContentType.sniff(Array(repeating: 0x41, count: 512) + [0]) == "text/plain; charset=utf-8")
    }

    @Test("Listings escape HTML in names")
    func listingEscape() {
        #expect(GatewayListing.escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;")
    }
}
