import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import NIOCore
import Node
import Testing
import UnixFS

/// `add` through the proxy: kubo's NDJSON, the content pinned cluster-wide.
@Suite(.serialized) struct ProxyAddTests {
    @Test("an add answers kubo's one line per file and pins the root on every peer")
    func addPinsClusterWide() async throws {
        try await ProxyFixture.with { f in
            let data = seededBytes(1_300_000, seed: 1)
            let (root, _) = try FileImporter.importBytes(data, settings: ImportSettings(), keepBlocks: false)
            let a = try await f.add([.file("big.bin", data)])
            #expect(a.status == 200)
            #expect(a.headers["Content-Type"].first == "application/json" && a.headers["X-Chunked-Output"].first == "1")
            #expect(a.headers["Trailer"].first == "X-Stream-Error" && a.trailers?["X-Stream-Error"].first == nil)
            // Exactly kubo's line: Name, Hash, Size as a string.
            #expect(a.text == "{\"Name\":\"big.bin\",\"Hash\":\"\(root.cid)\",\"Size\":\"\(root.cumulativeSize)\"}\n")
            for m in f.cluster.members {
                let pinned = await LocalCluster.eventually { (try? await m.peer.pinned(root.cid)) != nil }
                #expect(pinned, "peer \(m.index) has the pin in its pinset")
            }
            // The file reads back through the proxy (a forwarded cat).
            let cat = try await f.call("cat", "arg=\(root.cid)")
            #expect(cat.body == data)
        }
    }

    @Test("progress reports the bytes read before the file's line, as kubo does")
    func addWithProgress() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let data = seededBytes(2_500_000, seed: 2)
            let (root, _) = try FileImporter.importBytes(data, settings: ImportSettings(), keepBlocks: false)
            let lines = try await f.add([.file("p.bin", data)], "progress=true").lines
            let progress = lines.dropLast().compactMap { $0["Bytes"] as? Int }
            #expect(progress.count == lines.count - 1 && progress.count >= 2)
            #expect(progress == progress.sorted() && progress.last == data.count)
            #expect(lines.dropLast().allSatisfy { $0["Name"] as? String == "p.bin" && $0["Hash"] == nil })
            #expect(lines.last?["Hash"] as? String == root.cid.description && lines.last?["Size"] as? String == "\(root.cumulativeSize)")
        }
    }

    @Test("a directory is listed file by file then the directory, and wrapping adds a nameless root")
    func addDirectoryWrapped() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let parts: [Multipart.Part] = [.directory("d"), .file("d/a.txt", Array("alpha".utf8)), .file("d/b.txt", Array("beta".utf8))]
            let plain = try await f.add(parts, "cid-version=1").lines
            #expect(plain.map { $0["Name"] as? String } == ["d/a.txt", "d/b.txt", "d"])
            let dir = try #require(plain.last?["Hash"] as? String)
            #expect(dir.hasPrefix("bafy"))
            let wrapped = try await f.add(parts, "wrap-with-directory=true&cid-version=1").lines
            #expect(wrapped.map { $0["Name"] as? String } == ["d/a.txt", "d/b.txt", "d", ""])
            let top = try CID(try #require(wrapped.last?["Hash"] as? String))
            let pin = try #require(try await f.cluster[0].peer.pinned(top))
            #expect(pin.cid == top)
            // The first add pinned the directory itself.
            #expect(try await f.cluster[0].peer.pinned(try CID(dir)) != nil)  // from the first add
        }
    }

    @Test("pin=false stores the blocks without a cluster pin; quieter answers the root alone; pin-name names the pin")
    func addOptions() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let data = seededBytes(10_000, seed: 3)
            let (root, _) = try FileImporter.importBytes(data, settings: ImportSettings(), keepBlocks: false)
            let unpinned = try await f.add([.file("x", data)], "pin=false")
            #expect(unpinned.lines.last?["Hash"] as? String == root.cid.description)
            #expect(try await f.cluster[0].peer.pinned(root.cid) == nil)
            #expect(f.cluster[0].repo.blocks.has(root.cid))
            let quiet = try await f.add([.directory("q"), .file("q/1", [1]), .file("q/2", [2])], "quieter=true")
            #expect(quiet.lines.count == 1 && quiet.lines[0]["Name"] as? String == "q")
            let named = try await f.add([.file("y", data)], "pin-name=holiday")
            #expect(named.status == 200)
            #expect(try await f.cluster[0].peer.pinned(root.cid)?.name == "holiday")
        }
    }

    @Test("only-hash is passed to the daemon and stores nothing")
    func onlyHash() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let data = seededBytes(300_000, seed: 4)
            let (root, _) = try FileImporter.importBytes(data, settings: ImportSettings(), keepBlocks: false)
            let a = try await f.add([.file("h", data)], "only-hash=true")
            #expect(a.lines.last?["Hash"] as? String == root.cid.description)
            #expect(!f.cluster[0].repo.blocks.has(root.cid))
            #expect(try await f.cluster[0].peer.pinned(root.cid) == nil)
        }
    }

    @Test("an add with a bad option or body is refused in kubo's error shape")
    func addErrors() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let bad = try await f.add([.file("a", [1])], "cid-version=7")
            #expect(bad.status == 400 && bad.message == "unknown CID version: 7" && bad.object["Type"] as? String == "error")
            let nocopy = try await f.add([.file("a", [1])], "nocopy=true")
            #expect(nocopy.status == 400 && nocopy.message.contains("nocopy is not supported"))
            let notMultipart = try await f.call("add", body: .bytes(ByteBuffer(string: "x")), contentType: "text/plain")
            #expect(notMultipart.status == 400 && notMultipart.message.contains("multipart/form-data"))
            // A body cut short, found before any line was due, is the answer's error; nothing is pinned.
            let m = Multipart([.file("cut", seededBytes(5000, seed: 5))])
            let cut = try await f.call("add", body: .bytes(ByteBuffer(bytes: m.body.dropLast(40))), contentType: m.contentType)
            #expect(cut.status == 400 && cut.message == "multipart body ended inside a part (the upload was cut short)")
            // Found after lines went out (a nested file was reported), it is the trailer's.
            let d = Multipart([.directory("d"), .file("d/one", [1, 2, 3]), .file("d/two", seededBytes(5000, seed: 6))])
            let late = try await f.call("add", body: .bytes(ByteBuffer(bytes: d.body.dropLast(40))), contentType: d.contentType)
            #expect(late.status == 200 && late.lines.first?["Name"] as? String == "d/one")
            #expect(late.trailers?["X-Stream-Error"].first == "multipart body ended inside a part (the upload was cut short)")
            #expect(try await f.cluster[0].peer.database.pins(after: nil, limit: 10).isEmpty)
        }
    }
}
