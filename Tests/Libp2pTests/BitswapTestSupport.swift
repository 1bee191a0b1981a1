import Bitswap
import ClusterTestKit
import Logging
import Multiformats
import NIOConcurrencyHelpers
import Testing
@testable import Libp2p

/// Hosts with a bitswap service, a block store for them, and a small dag-pb DAG.
enum BitswapTestSupport {
    typealias S = Libp2pTestSupport

    /// Blocks by CID, shared between a test and its service's lookup.
    final class Store: Sendable {
        let blocks = NIOLockedValueBox<[CID: [UInt8]]>([:])
        func put(_ cid: CID, _ data: [UInt8]) { blocks.withLockedValue { $0[cid] = data } }
        func get(_ cid: CID) -> [UInt8]? { blocks.withLockedValue { $0[cid] } }
        var count: Int { blocks.withLockedValue { $0.count } }
    }

    /// A started host on 127.0.0.1 (OS-assigned port) whose bitswap service serves `store`.
    static func node(_ store: Store, settings: BitswapServiceSettings = BitswapServiceSettings()) async throws -> (Libp2pHost, BitswapService) {
        let hostSettings = Libp2pSettings(listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], agentVersion: "pinmesh-test/0.1")
        let host = Libp2pHost(identity: .generate(), settings: hostSettings, group: S.group, logger: Logger(label: "libp2p-test"))
        let service = try BitswapService(host: host, settings: settings) { store.get($0) }
        await service.start()
        try await host.start()
        return (host, service)
    }

    /// A dag-pb node linking `links` (no data), as go-merkledag writes one: links, then data.
    static func dagPBNode(links: [(CID, Int)]) -> [UInt8] {
        var w = ProtobufWriter()
        for (cid, size) in links {
            w.message(2) { l in
                l.bytes(1, cid.bytes)
                l.string(2, "")
                l.varint(3, UInt64(size))
            }
        }
        w.message(1) { $0.varint(1, 2) }
        return w.bytes
    }

    /// The CIDs a dag-pb node links to (empty for other codecs).
    static func links(of cid: CID, _ data: [UInt8]) throws -> [CID] {
        guard cid.codec == .dagPB else { return [] }
        var r = ProtobufReader(data, what: "dag-pb node")
        var out: [CID] = []
        while let (field, value) = try r.next() {
            guard field == 2 else { continue }
            var l = ProtobufReader(data, range: try r.range(value, field: "link"), what: "dag-pb link")
            while let (f, v) = try l.next() {
                if f == 1 { out.append(try CID(bytes: r.bytes(v, field: "hash", limit: 256))) }
            }
        }
        return out
    }

    /// A root over `fanout` internal nodes of `leaves` raw leaves each (1–8 KiB); returns the root.
    static func makeDAG(in store: Store, fanout: Int, leaves: Int, seed: Int = 1) -> CID {
        var children: [(CID, Int)] = []
        for i in 0..<fanout {
            var leafLinks: [(CID, Int)] = []
            for j in 0..<leaves {
                let n = seed &* 100_003 &+ i &* 1_000 &+ j
                let data = (0..<(1024 + (n % 7) * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ n &* 17 &+ $0 >> 5) }
                let cid = CID.v1(codec: .raw, Multihash.sha256(data))
                store.put(cid, data)
                leafLinks.append((cid, data.count))
            }
            let node = dagPBNode(links: leafLinks)
            let cid = CID.v1(codec: .dagPB, Multihash.sha256(node))
            store.put(cid, node)
            children.append((cid, node.count))
        }
        let root = dagPBNode(links: children)
        let rootCID = try! CID.v0(Multihash.sha256(root))
        store.put(rootCID, root)
        return rootCID
    }

    /// Walks the DAG under `root` through one session of `service`, storing what arrives (each
    /// distinct CID wanted once: a session yields one result a CID). Returns how many blocks
    /// arrived and how many were not found.
    static func fetchDAG(_ root: CID, with service: BitswapService, into store: Store) async throws -> (fetched: Int, missing: Int) {
        let session = await service.session()
        await session.want([root])
        var seen: Set<CID> = [root]
        var outstanding = 1
        var fetched = 0
        var missing = 0
        for await result in session.results {
            outstanding -= 1
            switch result {
            case .block(let cid, let data):
                store.put(cid, data)
                fetched += 1
                let next = try links(of: cid, data).filter { seen.insert($0).inserted }
                outstanding += next.count
                if !next.isEmpty { await session.want(next) }
            case .notFound: missing += 1
            }
            if outstanding == 0 { break }
        }
        await session.close()
        return (fetched, missing)
    }

    /// Waits (yielding) until `condition` holds; false when `limit` passes first.
    /// Re-checks `condition` every 20 ms on an event-loop timer until it holds or `limit`
    /// passes (it used to spin on `Task.yield()`, which took the 2 cores from the very peers
    /// it waited for when many tests ran at once).
    static func eventually(within limit: Duration, _ condition: @escaping @Sendable () async -> Bool) async throws -> Bool {
        await LocalCluster.eventually(timeout: limit) { await condition() }
    }
}
