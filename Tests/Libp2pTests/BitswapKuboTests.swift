import Bitswap
import ClusterTestKit
import Foundation
import Multiformats
import Testing
@testable import Libp2p

/// Our bitswap against a real kubo 0.22 (Tests/Compat/kubo_peer.py); skipped when python3 or
/// the kubo library (`bash .ci/kubo`, or PINMESH_KUBO_PATH) is missing.
@Suite("Bitswap against a real kubo", .disabled(if: KuboPeer.availability() != nil, Comment(rawValue: KuboPeer.availability() ?? "")))
struct BitswapKuboTests {
    typealias B = BitswapTestSupport
    typealias S = Libp2pTestSupport

    /// A file's bytes from its UnixFS DAG in `store`: leaves' data in link order.
    func fileBytes(_ cid: CID, _ store: B.Store) throws -> [UInt8] {
        let block = try #require(store.get(cid))
        if cid.codec == .raw { return block }
        let children = try B.links(of: cid, block)
        if !children.isEmpty { return try children.flatMap { try fileBytes($0, store) } }
        var node = ProtobufReader(block, what: "dag-pb node")
        while let (field, value) = try node.next() {
            guard field == 1 else { continue }
            var unixfs = ProtobufReader(block, range: try node.range(value, field: "Data"), what: "UnixFS")
            while let (f, v) = try unixfs.next() {
                if f == 2 { return try unixfs.bytes(v, field: "Data", limit: 1 << 21) }
            }
        }
        return []
    }

    func scratch(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-bitswap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name)
    }

    @Test("our service fetches, through one session, every block of a 1.3 MB file kubo added, and the file reads back")
    func weFetchFromKubo() async throws {
        let kubo = try await KuboPeer.start()
        let file = try scratch("input.bin")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let content = (0..<1_300_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        try Data(content).write(to: file)
        let root = try await kubo.add(path: file.path)
        let store = B.Store()
        let (host, service) = try await B.node(store)
        try await host.connect(kubo.dialAddress)
        let result = try await S.within(.seconds(60)) { try await B.fetchDAG(root, with: service, into: store) }
        #expect(result?.missing == 0)
        #expect(result?.fetched == 6, "kubo's 256 KiB chunks: 5 leaves and a root")
        #expect(try fileBytes(root, store) == content)
        let counters = await service.clientCounters
        #expect(counters.blocksUnverifiable == 0)
        #expect(await service.bitswapPeers == [kubo.id])
        await service.stop()
        await host.shutdown()
        _ = await kubo.stop()
    }

    @Test("kubo downloads from us a raw block and a file of four raw leaves under a dag-pb root, each verified by its CID")
    func kuboFetchesFromUs() async throws {
        let kubo = try await KuboPeer.start()
        let store = B.Store()
        let single = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 13 + 5) }
        let singleCID = CID.v1(codec: .raw, Multihash.sha256(single))
        store.put(singleCID, single)
        var leaves: [(CID, Int)] = []
        var whole: [UInt8] = []
        for i in 0..<4 {
            let leaf = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* (i + 3) &+ i) }
            let cid = CID.v1(codec: .raw, Multihash.sha256(leaf))
            store.put(cid, leaf)
            leaves.append((cid, leaf.count))
            whole += leaf
        }
        let fileRoot = Self.unixfsFile(leaves)
        let fileCID = CID.v1(codec: .dagPB, Multihash.sha256(fileRoot))
        store.put(fileCID, fileRoot)
        let (host, service) = try await B.node(store)
        try await host.connect(kubo.dialAddress)
        let out = try scratch("single.bin")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        #expect(try await kubo.download(cid: singleCID, to: out.path) == single.count)
        #expect(try Array(Data(contentsOf: out)) == single)
        let fileOut = out.deletingLastPathComponent().appendingPathComponent("file.bin")
        #expect(try await kubo.download(cid: fileCID, to: fileOut.path) == whole.count)
        #expect(try Array(Data(contentsOf: fileOut)) == whole)
        let served = await service.serverCounters
        #expect(served.blocksSent >= 6)
        await service.stop()
        await host.shutdown()
        _ = await kubo.stop()
    }

    /// A UnixFS file node over raw leaves: links (name "", Tsize), then Data {Type: File, filesize, blocksizes}.
    static func unixfsFile(_ leaves: [(CID, Int)]) -> [UInt8] {
        var w = ProtobufWriter()
        for (cid, size) in leaves {
            w.message(2) { l in
                l.bytes(1, cid.bytes)
                l.string(2, "")
                l.varint(3, UInt64(size))
            }
        }
        w.message(1) { d in
            d.varint(1, 2)
            d.varint(3, UInt64(leaves.reduce(0) { $0 + $1.1 }))
            for (_, size) in leaves { d.varint(4, UInt64(size)) }
        }
        return w.bytes
    }
}
