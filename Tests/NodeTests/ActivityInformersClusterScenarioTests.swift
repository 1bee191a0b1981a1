import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import Node
import Testing

/// The `pinned_total` and `bandwidth` metrics (`Specs/monitoring.md`) as another peer receives
/// them: a pin on every peer counts once on each, a pin at replication 1 only on its peer, and
/// the bandwidth value carries the transport's bytes and what the IPFS reader said. (The name
/// ends in ClusterScenarioTests so `.ci/test` runs it with the other whole-cluster scenarios.)
@Suite(.tags(.cluster), .serialized) struct ActivityInformersClusterScenarioTests {
    @Test func theBandwidthValueIsCompactJSONWithSortedKeysAndNoIPFSKeysWithoutAReader() throws {
        #expect(BandwidthValue(clusterIn: 1, clusterOut: 2, ipfsIn: 3, ipfsOut: 4).json == #"{"cluster_in":1,"cluster_out":2,"ipfs_in":3,"ipfs_out":4}"#)
        #expect(BandwidthValue(clusterIn: 5, clusterOut: 6).json == #"{"cluster_in":5,"cluster_out":6}"#)
        let back = try JSONDecoder().decode(BandwidthValue.self, from: Data(#"{"cluster_in":5,"cluster_out":6}"#.utf8))
        #expect(back == BandwidthValue(clusterIn: 5, clusterOut: 6))
    }

    @Test func everyPeerCountsThePinsThatReachedPinnedThereAndPublishesItsBytes() async throws {
        let c = try await LocalCluster(peers: 2)
        defer { Task { await c.shutdown() } }
        #expect(await ClusterScenarioTests.formed(c, 2))
        for m in c.members {
            let n = UInt64(m.index)
            await m.peer.addActivityInformers(ipfs: { (100 + n, 200 + n) })
        }
        /// peer → the `pinned_total` value that peer 1 received from it.
        func counts() async -> [PeerID: Int] {
            Dictionary(await c[1].peer.monitor.metrics("pinned_total").map { ($0.peer, Int($0.value) ?? -1) }, uniquingKeysWith: { a, _ in a })
        }
        #expect(await LocalCluster.eventually { await counts() == [c[0].id: 0, c[1].id: 0] })

        let everywhere = try await c.addFile(ClusterScenarioTests.file(41), to: 0)
        var all = PinOptions()
        all.replicationFactorMin = -1
        all.replicationFactorMax = -1
        _ = try await c[0].peer.pin(everywhere, options: all)
        #expect(await LocalCluster.eventually { await counts() == [c[0].id: 1, c[1].id: 1] })

        let one = try await c.addFile(ClusterScenarioTests.file(42, size: 10_000), to: 0)
        var single = PinOptions()
        single.replicationFactorMin = 1
        single.replicationFactorMax = 1
        let pin = try await c[0].peer.pin(one, options: single)
        let holder = try #require(pin.allocations.first)
        let other = c.members.map(\.id).first { $0 != holder }!
        #expect(await LocalCluster.eventually { await counts() == [holder: 2, other: 1] })

        let bandwidth = await c[1].peer.monitor.metrics("bandwidth")
        for m in c.members {
            let metric = try #require(bandwidth.first { $0.peer == m.id })
            let value = try JSONDecoder().decode(BandwidthValue.self, from: Data(metric.value.utf8))
            #expect(value.clusterIn > 0 && value.clusterOut > 0, "\(metric.value)")
            #expect(value.ipfsIn == 100 + UInt64(m.index) && value.ipfsOut == 200 + UInt64(m.index), "\(metric.value)")
        }
    }
}
