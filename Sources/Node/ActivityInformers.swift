import Foundation
import Metrics
import Synchronization

/// Bytes the IPFS node beside the peer received and sent (the embedded node: bitswap block
/// bytes), read at every publication of the `bandwidth` metric.
public typealias IPFSTrafficReader = @Sendable () async -> (received: UInt64, sent: UInt64)

/// The `bandwidth` metric's value (`Specs/monitoring.md`): totals since the daemon started.
public struct BandwidthValue: Codable, Sendable, Equatable {
    /// Cluster transport bytes (TCP and UDP, sealed, as on the wire).
    public var clusterIn: UInt64
    public var clusterOut: UInt64
    /// The IPFS node's bytes; nil (left out) when the peer cannot count them (kubo).
    public var ipfsIn: UInt64?
    public var ipfsOut: UInt64?

    public init(clusterIn: UInt64, clusterOut: UInt64, ipfsIn: UInt64? = nil, ipfsOut: UInt64? = nil) {
        (self.clusterIn, self.clusterOut, self.ipfsIn, self.ipfsOut) = (clusterIn, clusterOut, ipfsIn, ipfsOut)
    }

    enum CodingKeys: String, CodingKey {
        case clusterIn = "cluster_in", clusterOut = "cluster_out", ipfsIn = "ipfs_in", ipfsOut = "ipfs_out"
    }

    /// Compact JSON, keys sorted.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension ClusterPeer {
    /// Adds the informers of what moves through the peer (`Specs/monitoring.md`): `pinned_total`
    /// (pin operations of this peer's tracker that ended pinned, for every replication factor)
    /// and `bandwidth` (``BandwidthValue``; `ipfs` nil leaves the IPFS node's bytes out). Both
    /// are counters since the daemon started, so every peer's rates can be plotted from them;
    /// each is counted for Prometheus too (`pinmesh_pins_pinned_total`,
    /// `pinmesh_transport_bytes_total{direction}`, `pinmesh_ipfs_block_bytes_total{direction}`).
    public func addActivityInformers(ipfs: IPFSTrafficReader?) async {
        let tracker = self.tracker
        let transport = self.transport
        let counters = ActivityCounters()
        await monitor.addInformer {
            let n = await tracker.pinsPinned
            counters.advance(pinned: UInt64(n))
            return ("pinned_total", String(n), 0)
        }
        await monitor.addInformer {
            let t = transport.trafficTotals
            var value = BandwidthValue(clusterIn: t.tcpIn &+ t.udpIn, clusterOut: t.tcpOut &+ t.udpOut)
            if let ipfs {
                let (received, sent) = await ipfs()
                (value.ipfsIn, value.ipfsOut) = (received, sent)
            }
            counters.advance(bandwidth: value)
            return ("bandwidth", value.json, 0)
        }
    }
}

/// Prometheus counters driven by totals read at each publication (each adds what its total
/// grew by since the last reading).
final class ActivityCounters: Sendable {
    private let pinned = Counter(label: "pinmesh_pins_pinned_total")
    private let clusterIn = Counter(label: "pinmesh_transport_bytes_total", dimensions: [("direction", "in")])
    private let clusterOut = Counter(label: "pinmesh_transport_bytes_total", dimensions: [("direction", "out")])
    private let ipfsIn = Counter(label: "pinmesh_ipfs_block_bytes_total", dimensions: [("direction", "in")])
    private let ipfsOut = Counter(label: "pinmesh_ipfs_block_bytes_total", dimensions: [("direction", "out")])
    private let last = Mutex<(pinned: UInt64, bandwidth: BandwidthValue)>((0, BandwidthValue(clusterIn: 0, clusterOut: 0, ipfsIn: 0, ipfsOut: 0)))

    func advance(pinned n: UInt64) {
        let grown = last.withLock { l in
            defer { l.pinned = max(l.pinned, n) }
            return n > l.pinned ? n - l.pinned : 0
        }
        if grown > 0 { pinned.increment(by: Int64(clamping: grown)) }
    }

    func advance(bandwidth v: BandwidthValue) {
        let old = last.withLock { l in
            defer { l.bandwidth = v }
            return l.bandwidth
        }
        func add(_ counter: Counter, _ new: UInt64?, _ before: UInt64?) {
            guard let new, new > before ?? 0 else { return }
            counter.increment(by: Int64(clamping: new - (before ?? 0)))
        }
        add(clusterIn, v.clusterIn, old.clusterIn)
        add(clusterOut, v.clusterOut, old.clusterOut)
        add(ipfsIn, v.ipfsIn, old.ipfsIn)
        add(ipfsOut, v.ipfsOut, old.ipfsOut)
    }
}
