import EmbeddedIPFS
import Foundation
import Multiformats
import Testing
import UnixFS

/// `ls`, `get`, `dag/*` and the kubo commands that are not built, over real HTTP.
@Suite struct LsGetDagTests {
    static let treeParts: [LiveNode.Part] = [
        .init(name: "d", type: "application/x-directory"),
        .init(name: "d/a.txt", bytes: Array("alpha".utf8)),
        .init(name: "d/sub", type: "application/x-directory"),
        .init(name: "d/sub/b.txt", bytes: Array("beta".utf8)),
        .init(name: "d/link", type: "application/symlink", bytes: Array("a.txt".utf8)),
    ]

    static func addTree(_ node: LiveNode) async throws -> (root: String, hashes: [String: String]) {
        let r = try await node.call("add", "", parts: treeParts)
        var hashes: [String: String] = [:]
        for l in r.lines { hashes[l["Name"].string!] = l["Hash"].string! }
        return (hashes["d"]!, hashes)
    }

    @Test func lsListsADirectoryAsKubo() async throws {
        let node = try await LiveNode.start()
        let (root, h) = try await Self.addTree(node)
        let r = try await node.call("ls", "arg=\(root)")
        #expect(r.status == 200)
        // kubo 0.38: Name, Hash, Size (a file's size; 0 for a directory), Type (UnixFS type:
        // 1 directory, 2 file, 4 symlink), Target, Mode, ModTime; sorted by name.
        let a = h["d/a.txt"]!, sub = h["d/sub"]!, link = h["d/link"]!
        #expect(
            r.text
                == "{\"Objects\":[{\"Hash\":\"\(root)\",\"Links\":["
                + "{\"Name\":\"a.txt\",\"Hash\":\"\(a)\",\"Size\":5,\"Type\":2,\"Target\":\"\",\"Mode\":0,\"ModTime\":\"0001-01-01T00:00:00Z\"},"
                + "{\"Name\":\"link\",\"Hash\":\"\(link)\",\"Size\":5,\"Type\":4,\"Target\":\"a.txt\",\"Mode\":0,\"ModTime\":\"0001-01-01T00:00:00Z\"},"
                + "{\"Name\":\"sub\",\"Hash\":\"\(sub)\",\"Size\":0,\"Type\":1,\"Target\":\"\",\"Mode\":0,\"ModTime\":\"0001-01-01T00:00:00Z\"}"
                + "]}]}\n")
        // Unresolved: no type, no size (kubo's zero values); a path through the tree works.
        let bare = try await node.call("ls", "arg=/ipfs/\(root)/sub&resolve-type=false&size=false")
        #expect(bare.json["Objects"][0]["Hash"].string == "/ipfs/\(root)/sub")
        #expect(bare.json["Objects"][0]["Links"][0]["Type"].int == 0)
        #expect(bare.json["Objects"][0]["Links"][0]["Size"].int == 0)
        // Streamed: one object per link.
        let s = try await node.call("ls", "arg=\(root)&stream=true")
        #expect(s.lines.count == 3)
        #expect(s.lines.map { $0["Objects"][0]["Links"][0]["Name"].string } == ["a.txt", "link", "sub"])
        // cid-base upgrades CIDv0 hashes in the links.
        let b = try await node.call("ls", "arg=\(root)&cid-base=base32")
        #expect(b.json["Objects"][0]["Links"][0]["Hash"].string == (try CID(a)).v1.string(base: .base32))
        // A file's listing is its chunks; a small file has none.
        let f = try await node.call("ls", "arg=\(a)")
        #expect(f.text == "{\"Objects\":[{\"Hash\":\"\(a)\",\"Links\":[]}]}\n")
        let missing = try await node.call("ls", "arg=/ipfs/\(root)/nope")
        #expect(missing.status == 500)
        #expect(missing.json["Message"].string == "no link named \"nope\" under \(root)")
        let noArg = try await node.call("ls")
        #expect(noArg.status == 400 && noArg.json["Type"].string == "error")
    }

    @Test func lsOfAFileListsItsChunksWithRawSizes() async throws {
        let node = try await LiveNode.start()
        let big = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let r = try await node.call("add", "raw-leaves=true", parts: [.init(name: "big", bytes: big)])
        let root = r.lines.last!["Hash"].string!
        let ls = try await node.call("ls", "arg=\(root)")
        let links = ls.json["Objects"][0]["Links"]
        #expect(links[0]["Size"].int == 262_144 && links[0]["Type"].int == 2 && links[0]["Name"].string == "")
        #expect(links[2]["Size"].int == 600_000 - 2 * 262_144)
        #expect(!links[3].exists)
    }

    @Test func lsAndGetReadAHAMTShardedDirectory() async throws {
        let node = try await LiveNode.start()
        var blocks: [Block] = []
        var settings = ImportSettings(cidVersion: .v1)
        settings.hamtShardingThreshold = 1000
        settings.hamtFanout = 16
        var entries: [DirectoryEntry] = []
        for i in 0..<120 {
            let f = try FileImporter.importBytes(Array("file \(i)".utf8), settings: settings, keepBlocks: true)
            blocks += f.blocks
            entries.append(DirectoryEntry(name: "f\(i).txt", node: f.root))
        }
        let dir = try DirectoryEncoder(encoder: NodeEncoder(settings: settings, keepBlocks: true)).directory(entries, blocks: &blocks)
        for b in blocks { try node.repo.put(b) }
        #expect(try Exporter(blocks: node.repo).kind(dir.cid) == .hamtDirectory)
        let ls = try await node.call("ls", "arg=\(dir.cid)")
        let names = (0..<120).compactMap { ls.json["Objects"][0]["Links"][$0]["Name"].string }
        #expect(names == (0..<120).map { "f\($0).txt" }.sorted())
        #expect(ls.json["Objects"][0]["Links"][0]["Size"].int == "file 0".utf8.count)
        let tar = try await node.call("get", "arg=\(dir.cid)")
        let files = try TarReading.entries(tar.body)
        #expect(files.count == 121)
        #expect(files.first?.name == dir.cid.description && files.first?.type == UInt8(ascii: "5"))
        #expect(files.first { $0.name == "\(dir.cid)/f17.txt" }?.body == Array("file 17".utf8))
    }

    @Test func getStreamsKubosTarLayout() async throws {
        let node = try await LiveNode.start()
        let (root, h) = try await Self.addTree(node)
        let r = try await node.call("get", "arg=/ipfs/\(root)")
        #expect(r.status == 200)
        #expect(r.header("X-Stream-Output") == "1" && r.header("Content-Type") == "application/x-tar")
        let entries = try TarReading.entries(r.body)
        #expect(entries.map(\.name) == [root, "\(root)/a.txt", "\(root)/link", "\(root)/sub", "\(root)/sub/b.txt"])
        #expect(entries.map(\.type) == Array("5025" .utf8) + [UInt8(ascii: "0")])
        #expect(entries[1].body == Array("alpha".utf8) && entries[1].mode == 0o644)
        #expect(entries[0].mode == 0o755 && entries[2].mode == 0o777 && entries[2].linkname == "a.txt")
        // The transport form carries the current time with nanoseconds in PAX records.
        #expect(entries[0].pax["mtime"] != nil)
        // --archive: plain USTAR (whole seconds), same entries.
        let a = try await node.call("get", "arg=\(root)&archive=true")
        let ae = try TarReading.entries(a.body)
        #expect(ae.map(\.name) == entries.map(\.name) && ae.allSatisfy { $0.pax.isEmpty })
        #expect(a.body.suffix(1024).allSatisfy { $0 == 0 })
        // A path's last component names the top entry.
        let sub = try await node.call("get", "arg=/ipfs/\(root)/sub")
        #expect(try TarReading.entries(sub.body).map(\.name) == ["sub", "sub/b.txt"])
        // --compress without --archive: the file's bytes gzipped; a directory is refused.
        let gz = try await node.call("get", "arg=\(h["d/a.txt"]!)&compress=true&compression-level=9")
        #expect(Array(gz.body.prefix(2)) == [0x1f, 0x8b] && gz.header("Content-Type") == "application/gzip")
        #expect(try Gunzip.run(gz.body) == Array("alpha".utf8))
        let gzDir = try await node.call("get", "arg=\(root)&compress=true")
        #expect(gzDir.status == 500 && gzDir.json["Message"].string == "file is not regular")
        let gzTar = try await node.call("get", "arg=\(root)&archive=true&C=true")
        #expect(try TarReading.entries(try Gunzip.run(gzTar.body)).map(\.name) == entries.map(\.name))
        let badLevel = try await node.call("get", "arg=\(root)&compress=true&compression-level=10")
        #expect(badLevel.json["Message"].string == "compression level must be between 1 and 9")
    }

    @Test func getKeepsAForeignDirectorysLinkOrderAndLsSortsIt() async throws {
        let node = try await LiveNode.start()
        let b = Block(cid: CID.v1(codec: .raw, Multihash.sha256([1])), bytes: [1])
        let a = Block(cid: CID.v1(codec: .raw, Multihash.sha256([2, 2])), bytes: [2, 2])
        let dir = PBNode(
            links: [PBLink(hash: b.cid, name: "b", tsize: 1), PBLink(hash: a.cid, name: "a", tsize: 2)], data: UnixFSData(type: .directory).encoded())
        let root = Block(cid: try CID.v0(Multihash.sha256(dir.encoded())), bytes: dir.encoded())
        for blk in [a, b, root] { try node.repo.put(blk) }
        let tar = try await node.call("get", "arg=\(root.cid)&archive=true")
        #expect(try TarReading.entries(tar.body).map(\.name) == ["\(root.cid)", "\(root.cid)/b", "\(root.cid)/a"])
        #expect(try TarReading.entries(tar.body)[2].body == [2, 2])
        let ls = try await node.call("ls", "arg=\(root.cid)")
        #expect(ls.json["Objects"][0]["Links"][0]["Name"].string == "a" && ls.json["Objects"][0]["Links"][0]["Size"].int == 2)
    }

    @Test func recordedModeAndMtimeShowInLsAndGet() async throws {
        let node = try await LiveNode.start()
        // A file with mode 0o4755 (setuid) and an mtime with nanoseconds; a directory with 0o700.
        let fileData = UnixFSData(type: .file, data: Array("hi".utf8), fileSize: 2, mode: 0o4755, mtime: .init(seconds: 1_700_000_000, nanoseconds: 5_000))
        let file = PBNode(links: [], data: fileData.encoded())
        let fileBlock = Block(cid: try CID.v0(Multihash.sha256(file.encoded())), bytes: file.encoded())
        let dirData = UnixFSData(type: .directory, mode: 0o700, mtime: .init(seconds: 86_400))
        let dir = PBNode(links: [PBLink(hash: fileBlock.cid, name: "x", tsize: UInt64(fileBlock.bytes.count))], data: dirData.encoded())
        let dirBlock = Block(cid: try CID.v0(Multihash.sha256(dir.encoded())), bytes: dir.encoded())
        for blk in [fileBlock, dirBlock] { try node.repo.put(blk) }
        let ls = try await node.call("ls", "arg=\(dirBlock.cid)")
        let link = ls.json["Objects"][0]["Links"][0]
        // Go's os.FileMode: 0o755 | ModeSetuid (1 << 23); RFC 3339 in UTC with trimmed nanoseconds.
        #expect(link["Mode"].int == 0o755 | 1 << 23)
        #expect(link["ModTime"].string == "2023-11-14T22:13:20.000005Z")
        let tar = try await node.call("get", "arg=\(dirBlock.cid)&archive=true")
        let entries = try TarReading.entries(tar.body)
        #expect(entries.map(\.mode) == [0o700, 0o4755])
        #expect(entries[0].mtime == 86_400 && entries[1].mtime == 1_700_000_000)
    }

    @Test func lsGetDagAndRefsFetchWhatThisNodeLacksWithoutStoringIt() async throws {
        let node = try await LiveNode.start()
        // A tree only a peer has: a 600 kB file in a directory.
        var blocks: [Block] = []
        let settings = ImportSettings(cidVersion: .v1)
        let data = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 7) }
        let f = try FileImporter.importBytes(data, settings: settings, keepBlocks: true)
        blocks += f.blocks
        let dir = try DirectoryEncoder(encoder: NodeEncoder(settings: settings, keepBlocks: true))
            .directory([DirectoryEntry(name: "big.bin", node: f.root)], blocks: &blocks)
        node.repo.setFetcher(RepoTests.MapFetcher(blocks: Dictionary(blocks.map { ($0.cid, $0.bytes) }, uniquingKeysWith: { a, _ in a })))
        let ls = try await node.call("ls", "arg=\(dir.cid)")
        #expect(ls.json["Objects"][0]["Links"][0]["Size"].int == data.count)
        let tar = try await node.call("get", "arg=\(dir.cid)")
        #expect(try TarReading.entries(tar.body).last?.body == data)
        let dag = try await node.call("dag/get", "arg=\(dir.cid)/big.bin")
        #expect(dag.text.hasPrefix("{\"Data\":"))
        let refs = try await node.call("refs", "arg=\(dir.cid)&recursive=true")
        #expect(refs.lines.count == blocks.count - 1)
        #expect(node.repo.stat().numObjects == 0)
    }

    @Test func dagGetPrintsDagJSONAsKubo() async throws {
        let node = try await LiveNode.start()
        let (root, h) = try await Self.addTree(node)
        // The file "alpha" as dag-pb in dag-json: Data as bytes, Links always present.
        let a = h["d/a.txt"]!
        let f = try await node.call("dag/get", "arg=\(a)")
        #expect(f.text == "{\"Data\":{\"/\":{\"bytes\":\"CAISBWFscGhhGAU\"}},\"Links\":[]}")
        let d = try await node.call("dag/get", "arg=\(root)")
        #expect(d.text.hasPrefix("{\"Data\":{\"/\":{\"bytes\":\"CAE\"}},\"Links\":[{\"Hash\":{\"/\":\"\(a)\"},\"Name\":\"a.txt\",\"Tsize\":13},"))
        // A path into the data model, and through UnixFS names.
        // A directory's path segments are entry names (UnixFS), another node's its fields.
        let data = try await node.call("dag/get", "arg=\(a)/Data")
        #expect(data.text == "{\"/\":{\"bytes\":\"CAISBWFscGhhGAU\"}}")
        let notAName = try await node.call("dag/get", "arg=\(root)/Links")
        #expect(notAName.json["Message"].string == "no link named \"Links\" under \(root)")
        let viaName = try await node.call("dag/get", "arg=/ipfs/\(root)/sub")
        #expect(viaName.text.contains("\"Name\":\"b.txt\""))
        // dag-cbor output of a dag-pb node re-encodes the same data model.
        let cbor = try await node.call("dag/get", "arg=\(a)&output-codec=dag-cbor")
        #expect(try DagCBOR(decoding: cbor.body) == .map(["Data": .bytes(Array(try PBNode(decoding: node.repo.block(CID(a))).data!)), "Links": .list([])]))
        let pb = try await node.call("dag/get", "arg=\(a)&output-codec=dag-pb")
        #expect(pb.body == (try node.repo.block(CID(a))))
        let res = try await node.call("dag/resolve", "arg=/ipfs/\(root)/sub/b.txt")
        #expect(res.text == "{\"Cid\":{\"/\":\"\(h["d/sub/b.txt"]!)\"},\"RemPath\":\"\"}\n")
        let rem = try await node.call("dag/resolve", "arg=\(a)/Links")
        #expect(rem.text == "{\"Cid\":{\"/\":\"\(a)\"},\"RemPath\":\"Links\"}\n")
    }

    @Test func dagPutStoresAndPinsAsKubo() async throws {
        let node = try await LiveNode.start()
        let obj = "{\"hello\":\"world\",\"n\":[1,2.5,-3],\"raw\":{\"/\":{\"bytes\":\"AQID\"}}}"
        let r = try await node.call("dag/put", "pin=true", parts: [.init(name: "o", bytes: Array(obj.utf8))])
        #expect(r.status == 200)
        let cidText = try #require(r.lines.first?["Cid"]["/"].string)
        let cid = try CID(cidText)
        #expect(cid.codec == .dagCBOR && cid.version == .v1)
        let expected: DagCBOR = .map(["hello": .string("world"), "n": .list([.int(1), .float(2.5), .int(-3)]), "raw": .bytes([1, 2, 3])])
        #expect(cid == CID.v1(codec: .dagCBOR, Multihash.sha256(expected.encoded())))
        let back = try await node.call("dag/get", "arg=\(cid)")
        #expect(back.text == "{\"hello\":\"world\",\"n\":[1,2.5,-3],\"raw\":{\"/\":{\"bytes\":\"AQID\"}}}")
        let pinned = try await node.call("pin/ls", "arg=\(cid)")
        #expect(pinned.json["Keys"][cidText]["Type"].string == "recursive")
        // A link inside: dag/get follows it through the path; dag/stat counts both blocks.
        let withLink = "{\"child\":{\"/\":\"\(cid)\"}}"
        let r2 = try await node.call("dag/put", "store-codec=dag-json", parts: [.init(name: "o", bytes: Array(withLink.utf8))])
        let parent = try #require(r2.lines.first?["Cid"]["/"].string)
        #expect(try CID(parent).codec == .dagJSON)
        let through = try await node.call("dag/get", "arg=\(parent)/child/hello")
        #expect(through.text == "\"world\"")
        let stat = try await node.call("dag/stat", "arg=\(parent)&progress=false")
        let total = withLink.utf8.count + expected.encoded().count
        #expect(stat.lines.last?["TotalSize"].int == total)
        #expect(stat.lines.last?["UniqueBlocks"].int == 2)
        #expect(stat.lines.last?["DagStats"][0]["NumBlocks"].int == 2)
        #expect(stat.lines.last?["Ratio"].int == 1)
        let progressive = try await node.call("dag/stat", "arg=\(parent)")
        #expect(progressive.lines.count == 3)
        let bad = try await node.call("dag/put", "", parts: [.init(name: "o", bytes: Array("{\"a\":".utf8))])
        #expect(bad.trailer("X-Stream-Error")?.contains("dag-json") == true)
        let badCodec = try await node.call("dag/put", "store-codec=nope", parts: [.init(name: "o", bytes: Array("{}".utf8))])
        #expect(badCodec.status == 500)
    }

    @Test func kuboCommandsNotBuiltSayWhyAndUnknownNamesAre404() async throws {
        let node = try await LiveNode.start()
        for name in ["name/publish", "p2p/ls", "files/ls", "pubsub/pub", "routing/findpeer", "dht/query", "filestore/ls", "key/gen"] {
            let r = try await node.call(name, "arg=x")
            #expect(r.status == 500, "\(name)")
            #expect(r.json["Code"].int == 0 && r.json["Type"].string == "error")
            #expect(r.json["Message"].string?.hasPrefix("\(name) is not supported by PinMesh's embedded node: use kubo for ") == true)
        }
        let group = try await node.call("dag")
        #expect(group.status == 400 && group.json["Message"].string == "This command can't be called directly. Try one of its subcommands.")
        let unknown = try await node.call("no/such/command")
        #expect(unknown.status == 404 && unknown.text == "404 page not found\n")
    }
}

/// A small tar reader for the tests (USTAR fields and PAX records).
enum TarReading {
    struct Entry {
        var name: String
        var type: UInt8
        var mode: Int
        var linkname: String
        var mtime: Int
        var body: [UInt8]
        var pax: [String: String]
    }

    struct Bad: Error { let why: String }

    static func field(_ b: ArraySlice<UInt8>) -> String { String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }
    static func octal(_ b: ArraySlice<UInt8>) -> Int { Int(field(b).trimmingCharacters(in: .whitespaces), radix: 8) ?? -1 }

    static func entries(_ tar: [UInt8]) throws -> [Entry] {
        var out: [Entry] = []
        var i = 0
        var pax: [String: String] = [:]
        while i + 512 <= tar.count {
            let h = tar[i..<i + 512]
            if h.allSatisfy({ $0 == 0 }) { break }
            var sum = 0
            for (j, c) in h.enumerated() { sum += (148..<156).contains(j) ? 32 : Int(c) }
            guard sum == octal(h[(i + 148)..<(i + 154)]) else { throw Bad(why: "checksum at \(i)") }
            let size = octal(h[(i + 124)..<(i + 136)])
            guard size >= 0, i + 512 + size <= tar.count else { throw Bad(why: "size at \(i)") }
            let body = Array(tar[(i + 512)..<(i + 512 + size)])
            let type = h[i + 156]
            i += 512 + (size + 511) / 512 * 512
            if type == UInt8(ascii: "x") {
                for rec in String(decoding: body, as: UTF8.self).split(separator: "\n") {
                    let kv = rec.split(separator: " ", maxSplits: 1)[1].split(separator: "=", maxSplits: 1)
                    pax[String(kv[0])] = String(kv[1])
                }
                continue
            }
            var name = field(h[h.startIndex..<(h.startIndex + 100)])
            let prefix = field(h[(h.startIndex + 345)..<(h.startIndex + 500)])
            if !prefix.isEmpty { name = prefix + "/" + name }
            if let p = pax["path"] { name = p }
            out.append(
                Entry(
                    name: name, type: type, mode: octal(h[(h.startIndex + 100)..<(h.startIndex + 108)]),
                    linkname: pax["linkpath"] ?? field(h[(h.startIndex + 157)..<(h.startIndex + 257)]),
                    mtime: octal(h[(h.startIndex + 136)..<(h.startIndex + 148)]), body: body, pax: pax))
            pax = [:]
        }
        return out
    }
}

/// gzip -d through the system's gzip (an implementation independent of the one under test).
enum Gunzip {
    struct Failed: Error {}

    static func run(_ data: [UInt8]) throws -> [UInt8] {
        let dir = TempDir("gz")
        let path = dir.path + "/in.gz"
        _ = FileManager.default.createFile(atPath: path, contents: Data(data))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-dc", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failed() }
        return Array(out)
    }
}
