import AsyncHTTPClient
import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import IPFSConnector
import Multiformats
import NIOConcurrencyHelpers
import Node
import Testing
import UnixFS

/// Sharded adds (`Specs/sharding.md`) on a four-peer LocalCluster whose IPFS nodes are each too
/// small for the file: ten shards of 256 KiB, two copies each.
@Suite(.serialized) struct ShardingTests {
    static let shardSize = 262_144
    /// 2.5 MiB of leaves (40 chunks of 64 KiB, 4 per shard): more than any one node may store.
    static let fileSize = 40 * 65_536
    static let storageMax: UInt64 = 2_600_000
    static let settings = ImportSettings(cidVersion: .v1, chunker: .size(65_536))
    static let query = [
        ("shard", "true"), ("shard-size", String(shardSize)), ("replication-min", "2"), ("replication-max", "2"), ("cid-version", "1"),
        ("chunker", "size-65536"), ("name", "big"),
    ]

    static func withFourSmallPeers(_ body: (RESTAPITests.Served, LocalCluster, URL) async throws -> Void) async throws {
        let s = try await RESTAPITests.serve(peers: 4, storageMax: storageMax)
        defer { Task { await RESTAPITests.stop(s) } }
        #expect(await LocalCluster.eventually { await s.cluster[0].peer.monitor.peers().count == 4 })
        // Every peer's free space is known before the add allocates by it.
        #expect(await LocalCluster.eventually {
            var known = 0
            for i in 0..<4 where await s.cluster[0].peer.monitor.values(of: s.cluster[i].id)["freespace"] != nil { known += 1 }
            return known == 4
        })
        let dir = try AddTests.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await body(s, s.cluster, dir)
    }

    /// Every pin of the sharded add, from peer 0's state.
    static func pins(_ c: LocalCluster) async throws -> [Pin] {
        var out: [Pin] = []
        try await c[0].peer.forEachPin { out.append($0) }
        return out
    }

    @Test func aFileLargerThanAnyPeerIsShardedPinnedReadBackAndUnpinned() async throws {
        try await Self.withFourSmallPeers { s, c, dir in
            let data = AddTests.bytes(Self.fileSize, seed: 9)
            let file = dir.appendingPathComponent("big.bin")
            try Data(data).write(to: file)
            let (root, _) = try FileImporter.importBytes(data, settings: Self.settings, keepBlocks: false)

            let lines = try await AddTests.add(s, try UploadEntry.walk([file.path], recursive: false, hidden: false), Self.query)
            // The root is the one an unsharded add (and `ipfs add`) gives.
            #expect(lines.last?.cid == root.cid.description, "\(lines)")

            let all = try await Self.pins(c)
            let meta = try #require(all.first { $0.cid == root.cid })
            #expect(meta.type == .meta && meta.allocations.isEmpty && meta.name == "big" && meta.options.shardSize == UInt64(Self.shardSize))
            let dagPin = try #require(all.first { $0.type == .clusterDAG })
            #expect(dagPin.cid == meta.reference && dagPin.reference == root.cid && dagPin.maxDepth == 0 && dagPin.name == "big-clusterDAG")
            let shards = all.filter { $0.type == .shard }
            #expect(shards.count == 10)
            let dag = try await c[0].peer.clusterDAG(of: meta)
            #expect(dag.root == root.cid && dag.shards.count == shards.count && Set(dag.shards.map(\.cid)) == Set(shards.map(\.cid)))
            #expect(dag.shards.allSatisfy { $0.leaves == 4 && $0.bytes == UInt64(Self.shardSize) }, "\(dag.shards)")
            // Shards chain to the previous one; each is on two peers; the cluster DAG on every holder.
            let byCID = Dictionary(uniqueKeysWithValues: shards.map { ($0.cid, $0) })
            for (i, entry) in dag.shards.enumerated() {
                let p = try #require(byCID[entry.cid])
                #expect(p.allocations.count == 2 && p.name == "big-shard-\(i)")
                #expect(p.reference == (i == 0 ? nil : dag.shards[i - 1].cid))
            }
            let holders = Set(shards.flatMap(\.allocations))
            #expect(Set(dagPin.allocations) == holders)
            // Shards spread over every peer (none holds the file; the allocator accounts for what
            // the add placed).
            #expect(holders.count == 4)

            // Every holder pins its shards, the cluster DAG and the internal nodes: `sharded`.
            #expect(try await LocalCluster.eventually(timeout: .seconds(60)) {
                let g = try await s.client.decode(GlobalPinInfo.self, .GET, "/pins/\(root.cid)")
                return g.peerMap.count == 4 && g.peerMap.values.allSatisfy { $0.status == .sharded }
            })
            for i in 0..<4 {
                let stat = try await c[i].connector.repoStat()
                #expect(stat.repoSize <= Self.storageMax, "peer\(i) stores \(stat.repoSize)")
                // Only recursive and direct pins: what stock kubo offers.
                let kinds = NIOLockedValueBox<Set<String>>([])
                try await c[i].connector.forEachPin(recursiveOnly: false) { p in
                    switch p.type {
                    case .direct: kinds.withLockedValue { _ = $0.insert("direct") }
                    case .recursive(let depth): kinds.withLockedValue { _ = $0.insert(depth == nil ? "recursive" : "depth-limited") }
                    case .indirect: break
                    }
                }
                let seen = kinds.withLockedValue { $0 }
                #expect(seen.isSubset(of: ["direct", "recursive"]), "peer\(i): \(seen)")
            }
            // Per-shard status for pinmeshctl.
            var shardStatuses: [GlobalPinInfo] = []
            try await s.client.each(GlobalPinInfo.self, .GET, "/pins/\(root.cid)/shards") { shardStatuses.append($0) }
            #expect(shardStatuses.count == 11 && shardStatuses.allSatisfy { g in g.peerMap.values.contains { $0.status == .pinned } })

            // The whole file reads back through each peer's IPFS (the others' leaves fetched).
            for i in 0..<4 {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(c[i].ipfsPort)/api/v0/cat?arg=\(root.cid)")
                request.method = .POST
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                let body = try await response.body.collect(upTo: 8 << 20)
                #expect(response.status == .ok && Array(buffer: body) == data, "peer\(i): \(response.status) \(body.readableBytes) bytes")
            }

            // Shards and the cluster DAG are not unpinned alone; the root is not re-pinned whole.
            let refused = await RESTAPITests.status(s, .DELETE, "/pins/\(shards[0].cid)")
            #expect(refused.0 == 400 && refused.1.contains("unpin the add's root"), "\(refused)")
            let repin = await RESTAPITests.status(s, .POST, "/pins/\(root.cid)")
            #expect(repin.0 == 400 && repin.1.contains("orphan its shards"), "\(repin)")

            // Unpinning the root frees everything, on every peer.
            _ = try await s.client.call(.DELETE, "/pins/\(root.cid)")
            #expect(try await Self.pins(c).isEmpty)
            #expect(try await LocalCluster.eventually(timeout: .seconds(60)) {
                for i in 0..<4 {
                    let count = NIOLockedValueBox(0)
                    try await c[i].connector.forEachPin(recursiveOnly: false) { p in
                        if case .indirect = p.type {} else { count.withLockedValue { $0 += 1 } }
                    }
                    if count.withLockedValue({ $0 }) > 0 { return false }
                }
                return true
            })
        }
    }

    @Test func aDeadHoldersShardsMoveToTheOthers() async throws {
        try await Self.withFourSmallPeers { s, c, dir in
            let data = AddTests.bytes(Self.fileSize / 2, seed: 10)
            let file = dir.appendingPathComponent("half.bin")
            try Data(data).write(to: file)
            let lines = try await AddTests.add(s, try UploadEntry.walk([file.path], recursive: false, hidden: false), Self.query)
            let root = try CID(try #require(lines.last?.cid))
            #expect(try await LocalCluster.eventually(timeout: .seconds(60)) {
                let g = try await s.client.decode(GlobalPinInfo.self, .GET, "/pins/\(root)")
                return g.peerMap.values.filter { $0.status == .sharded }.count >= 2
            })
            // Peer 3 dies; every shard it held is re-allocated to live peers and pinned there
            // from the surviving copies.
            let dead = c[3].id
            let held = try await Self.pins(c).filter { $0.type == .shard && $0.allocations.contains(dead) }
            #expect(!held.isEmpty)
            await c.kill(3)
            #expect(try await LocalCluster.eventually(timeout: .seconds(60)) {
                let shards = try await Self.pins(c).filter { $0.type == .shard }
                return shards.allSatisfy { !$0.allocations.contains(dead) && $0.allocations.count == 2 }
            })
            #expect(try await LocalCluster.eventually(timeout: .seconds(60)) {
                for p in held {
                    let g = try await s.client.decode(GlobalPinInfo.self, .GET, "/pins/\(p.cid)")
                    guard g.peerMap.values.filter({ $0.status == .pinned }).count == 2 else { return false }
                }
                return true
            })
        }
    }

    @Test func badShardedAddsAreRefused() async throws {
        try await Self.withFourSmallPeers { s, _, dir in
            let file = dir.appendingPathComponent("a.bin")
            try Data(AddTests.bytes(1000, seed: 1)).write(to: file)
            let entries = try UploadEntry.walk([file.path], recursive: false, hidden: false)
            for (extra, words) in [
                (("shard-size", "1000"), "shard-size"), (("format", "car"), "format=car"), (("local", "true"), "local=true"),
                (("shard-size", "lots"), "shard-size"),
            ] {
                do {
                    _ = try await AddTests.add(s, entries, [("shard", "true"), extra])
                    Issue.record("\(extra) was accepted")
                } catch let e as ClusterClient.ClientError {
                    #expect(e.status == 400 && e.message.contains(words), "\(e)")
                }
            }
            #expect(try await Self.pins(s.cluster).isEmpty)
        }
    }
}
