import AsyncHTTPClient
import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import Ingest
import Multiformats
import NIOConcurrencyHelpers
import NIOCore
import Node
import Testing
import UnixFS

/// `POST /add` on a three-peer LocalCluster: the upload is imported as it streams in, the
/// blocks go to the allocated peers' stores, and the root is pinned with those allocations.
@Suite(.serialized) struct AddTests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        for i in stride(from: 0, to: count, by: 8) {
            let v = rng.next()
            for j in 0..<min(8, count - i) { out[i + j] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(j))) }
        }
        return out
    }

    static func tempDirectory() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-addtest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// Runs `body` with a three-peer cluster serving the API (every peer seeing the others) and a
    /// temporary directory, then removes both.
    static func withThreePeers(_ body: (RESTAPITests.Served, LocalCluster, URL) async throws -> Void) async throws {
        let s = try await RESTAPITests.serve(peers: 3)
        defer { Task { await RESTAPITests.stop(s) } }
        #expect(await LocalCluster.eventually { await s.cluster[0].peer.monitor.peers().count == 3 })
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await body(s, s.cluster, dir)
    }

    static func add(_ s: RESTAPITests.Served, _ entries: [UploadEntry], _ query: [(String, String)]) async throws -> [AddedLine] {
        let lines = NIOLockedValueBox<[AddedLine]>([])
        try await s.client.add(MultipartUpload(entries: entries, chunkBytes: 100_000), query: query) { raw in
            let l = try JSONDecoder().decode(AddedLine.self, from: Data(raw))
            lines.withLockedValue { $0.append(l) }
        }
        return lines.withLockedValue { $0 }
    }

    struct AddedLine: Decodable, Equatable {
        var name: String
        var cid: String?
        var bytes: UInt64?
        var size: UInt64?
        var allocations: [String]?
    }

    @Test func aFileGoesToTheAllocatedPeersAndItsRootIsPinnedThere() async throws {
        try await Self.withThreePeers { s, c, dir in
            let data = Self.bytes(3 << 20 + 12_345, seed: 1)
            let file = dir.appendingPathComponent("big.bin")
            try Data(data).write(to: file)
            let (root, blocks) = try FileImporter.importBytes(data, settings: ImportSettings(), keepBlocks: true)

            let lines = try await Self.add(
                s, try UploadEntry.walk([file.path], recursive: false, hidden: false),
                [("replication-min", "2"), ("replication-max", "2"), ("name", "upload"), ("meta-kind", "test")])
            // One line: the root (a file at the top), with the size `ipfs add` reports and the allocations.
            let last = try #require(lines.last)
            #expect(lines.count == 1)
            #expect(last.cid == root.cid.description && last.name == "big.bin" && last.size == root.cumulativeSize)
            let allocated = Set(try #require(last.allocations))
            #expect(allocated.count == 2)
            let pin = try #require(try await c[0].peer.pinned(root.cid))
            #expect(Set(pin.allocations.map(\.description)) == allocated && pin.name == "upload" && pin.options.metadata == ["kind": "test"])
            // The allocated peers hold every block already (pushed during the upload, not fetched
            // later); the third holds none.
            for i in 0..<3 {
                let repo = c[i].repo
                let held = blocks.filter { repo.blocks.has($0.cid) }.count
                #expect(held == (allocated.contains(c[i].id.description) ? blocks.count : 0), "peer\(i) holds \(held) of \(blocks.count)")
            }
            #expect(try await LocalCluster.eventually {
                let g = try await s.client.decode(GlobalPinInfo.self, .GET, "/pins/\(root.cid)")
                return g.peerMap.values.filter { $0.status == .pinned }.count == 2
            })
        }
    }

    @Test func directoriesWrapCARAndEverywhere() async throws {
        try await Self.withThreePeers { s, c, dir in
            let tree = dir.appendingPathComponent("tree")
            try FileManager.default.createDirectory(at: tree.appendingPathComponent("sub"), withIntermediateDirectories: true)
            try Data("hello\n".utf8).write(to: tree.appendingPathComponent("hello"))
            try Data(Self.bytes(300_000, seed: 2)).write(to: tree.appendingPathComponent("sub/data"))
            try Data("secret".utf8).write(to: tree.appendingPathComponent(".hidden"))

            // What `ipfs add -r -w --cid-version 1` prints, computed here by the same importer `pinmeshctl --only-hash` uses.
            var options = AddOptions(settings: ImportSettings(cidVersion: .v1))
            options.recursive = true
            options.wrapWithDirectory = true
            var adder = try PathAdder(options: options)
            var expected: [(String, String)] = []
            _ = try adder.add([tree.path]) { e in expected.append((e.path, e.cid.description)) }

            let lines = try await Self.add(
                s, try UploadEntry.walk([tree.path], recursive: true, hidden: false),
                [("replication", "-1"), ("cid-version", "1"), ("wrap-with-directory", "true")])
            #expect(lines.map { "\($0.name) \($0.cid ?? "")" } == expected.map { "\($0.0) \($0.1)" })
            let rootCID = try CID(try #require(lines.last?.cid))
            // Everywhere: every peer got the blocks; the pin has no allocations.
            #expect(lines.last?.allocations == nil)
            #expect(try await c[0].peer.pinned(rootCID)?.allocations == [])
            for i in 0..<3 { #expect(c[i].repo.blocks.has(rootCID)) }

            // format=car: the CAR's blocks go out and its root is pinned.
            let (file, blocks) = try FileImporter.importBytes(Self.bytes(100_000, seed: 3), settings: ImportSettings(), keepBlocks: true)
            var car = CAR.header(roots: [file.cid])
            for b in blocks { car += CAR.section(b) }
            let carFile = dir.appendingPathComponent("x.car")
            try Data(car).write(to: carFile)
            let carLines = try await Self.add(s, [UploadEntry(name: "x.car", kind: .file(path: carFile.path))], [("format", "car"), ("replication", "1")])
            #expect(carLines.map(\.cid) == [file.cid.description] && carLines[0].allocations?.count == 1)
            #expect(try await c[0].peer.pinned(file.cid) != nil)

            // Repeated content (the same 256 KiB leaf four times) is sent once per peer and pins.
            let zeros = dir.appendingPathComponent("zeros")
            try Data(count: 1 << 20).write(to: zeros)
            let zeroLines = try await Self.add(s, try UploadEntry.walk([zeros.path], recursive: false, hidden: false), [("replication", "2")])
            let zeroCID = try CID(try #require(zeroLines.last?.cid))
            #expect(zeroLines.last?.allocations?.count == 2)
            #expect(try await c[0].peer.pinned(zeroCID) != nil)

            // stream-channels=false (ipfs-cluster's): the same lines, as one JSON array at the end.
            let part = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\nhello\n\r\n--b--\r\n"
            let array = try await s.client.call(
                .POST, "/add", query: [("stream-channels", "false"), ("replication", "1")], body: .bytes(ByteBuffer(string: part)),
                contentType: "multipart/form-data; boundary=b")
            let collected = try JSONDecoder().decode([AddedLine].self, from: Data(array))
            #expect(collected.map(\.name) == ["hello"] && collected[0].cid == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN")
            #expect(collected[0].allocations?.count == 1)
            do {
                _ = try await s.client.call(
                    .POST, "/add", query: [("stream-channels", "false"), ("chunker", "size-0")], body: .bytes(ByteBuffer(string: part)),
                    contentType: "multipart/form-data; boundary=b")
                Issue.record("a bad chunker was accepted")
            } catch let e as ClusterClient.ClientError {
                #expect(e.status == 400)
            }

            // no-pin: the blocks are sent, nothing is pinned.
            let loose = dir.appendingPathComponent("loose")
            try Data(Self.bytes(5_000, seed: 4)).write(to: loose)
            let looseLines = try await Self.add(s, try UploadEntry.walk([loose.path], recursive: false, hidden: false), [("no-pin", "true"), ("replication", "1")])
            let looseCID = try CID(try #require(looseLines.last?.cid))
            #expect(try await c[0].peer.pinned(looseCID) == nil)
        }
    }

    @Test func badAddsAreRefusedAndPinNothing() async throws {
        try await Self.withThreePeers { s, c, dir in
            let f = dir.appendingPathComponent("f")
            try Data("content".utf8).write(to: f)
            let entries = try UploadEntry.walk([f.path], recursive: false, hidden: false)
            let cases: [([(String, String)], Int, String)] = [
                ([("shard", "true"), ("format", "car")], 400, "format=car"),
                ([("format", "zip")], 400, "unixfs or car"),
                ([("layout", "spiral")], 400, "balanced or trickle"),
                ([("chunker", "size-0")], 400, "chunker"),
                ([("cid-version", "2")], 400, "0 or 1"),
                ([("hash", "md5")], 400, "hash"),
                ([("nocopy", "true")], 400, "nocopy"),
                ([("local", "perhaps")], 400, "not a boolean"),
                ([("replication-min", "4"), ("replication-max", "4")], 503, "not enough peers"),
                ([("name", String(repeating: "n", count: 1_025))], 400, "the pin's name is 1025 bytes long"),
                ([("shard", "true"), ("meta-k", String(repeating: "v", count: 1_025))], 400, "meta-k is 1025 bytes"),
            ]
            for (query, code, words) in cases {
                do {
                    _ = try await Self.add(s, entries, query)
                    Issue.record("\(query) was accepted")
                } catch let e as ClusterClient.ClientError {
                    #expect(e.status == code && e.message.contains(words), "\(query): \(e)")
                }
            }
            // Not multipart, and multipart without parts.
            for (body, type, words) in [("plain", "text/plain", "multipart"), ("--b--\r\n", "multipart/form-data; boundary=b", "no files")] {
                do {
                    _ = try await s.client.call(.POST, "/add", body: .bytes(ByteBuffer(string: body)), contentType: type)
                    Issue.record("\(type) was accepted")
                } catch let e as ClusterClient.ClientError {
                    #expect(e.status == 400 && e.message.contains(words), "\(type): \(e)")
                }
            }
            // A CAR that is not one.
            do {
                _ = try await Self.add(s, entries, [("format", "car")])
                Issue.record("a text file was taken as a CAR")
            } catch let e as ClusterClient.ClientError {
                #expect(e.message.contains("CAR"), "\(e)")
            }
            var count = 0
            try await c[0].peer.forEachPin { _ in count += 1 }
            #expect(count == 0)
        }
    }

    /// A body the test feeds by hand, so a peer can die halfway through the upload.
    struct HandFedUpload {
        let boundary = "handfed"
        let stream: AsyncStream<ByteBuffer>
        let feed: AsyncStream<ByteBuffer>.Continuation
        init() { (stream, feed) = AsyncStream<ByteBuffer>.makeStream() }
        var head: ByteBuffer {
            ByteBuffer(string: "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        }
        var tail: ByteBuffer { ByteBuffer(string: "\r\n--\(boundary)--\r\n") }
    }

    /// Uploads 4 MiB in two halves with peer 2 killed in between; returns the lines or the error.
    static func addLosingAPeer(_ s: RESTAPITests.Served, min: Int, seed: UInt64) async throws -> (CID, Result<[AddedLine], any Error>) {
        let c = s.cluster
        let data = bytes(4 << 20, seed: seed)
        let root = try FileImporter.importBytes(data, settings: ImportSettings(), keepBlocks: false).0.cid
        let upload = HandFedUpload()
        let lines = NIOLockedValueBox<[AddedLine]>([])
        let task = Task {
            try await s.client.lines(
                .POST, "/add", query: [("replication-min", String(min)), ("replication-max", "3"), ("progress", "true")],
                upload: .stream(upload.stream, length: .unknown), contentType: "multipart/form-data; boundary=\(upload.boundary)"
            ) { raw in
                let l = try JSONDecoder().decode(AddedLine.self, from: Data(raw))
                lines.withLockedValue { $0.append(l) }
            }
        }
        upload.feed.yield(upload.head)
        upload.feed.yield(ByteBuffer(bytes: data[..<(2 << 20)]))
        // The server has read the first half once it reports progress past 1 MiB.
        #expect(await LocalCluster.eventually { lines.withLockedValue { $0.contains { ($0.bytes ?? 0) >= 1 << 20 } } })
        await c.kill(2)
        upload.feed.yield(ByteBuffer(bytes: data[(2 << 20)...]))
        upload.feed.yield(upload.tail)
        upload.feed.finish()
        do {
            try await task.value
            return (root, .success(lines.withLockedValue { $0 }.filter { $0.cid != nil }))
        } catch {
            return (root, .failure(error))
        }
    }

    @Test func aPeerLostMidAddIsDroppedWhileTheMinimumHoldsElseNothingIsPinned() async throws {
        try await Self.withThreePeers { s, c, dir in
            let (kept, result) = try await Self.addLosingAPeer(s, min: 2, seed: 5)
            let lines = try result.get()
            #expect(lines.last?.cid == kept.description)
            #expect(Set(lines.last?.allocations ?? []) == [c[0].id.description, c[1].id.description])
            #expect(try await c[0].peer.pinned(kept)?.allocations.count == 2)

            try await c.restart(2)
            #expect(await LocalCluster.eventually {
                await c[0].peer.monitor.peers().count == 3 && c[0].peer.transport.connectedPeers.contains(c[2].id)
            })
            let (lost, failed) = try await Self.addLosingAPeer(s, min: 3, seed: 6)
            guard case .failure(let error) = failed else {
                Issue.record("the add with replication-min 3 succeeded with a peer gone")
                return
            }
            #expect("\(error)".contains("lost too many peers"), "\(error)")
            #expect(try await c[0].peer.pinned(lost) == nil)
        }
    }
}
