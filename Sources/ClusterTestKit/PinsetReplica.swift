public import ClusterModel
public import Multiformats
public import Pinset
public import Sodium

/// One peer's copy of the pinset for tests and the simulator: its key, the rules and a store.
public struct PinsetReplica<Store: PinsetStore> {
    public let key: Ed25519.PrivateKey
    public let id: PeerID
    public var rules: PinsetInstance
    public var store: Store

    public init(seed: UInt64, trust: TrustPolicy = .everyone, store: Store) {
        var rng = SplitMix64(seed: seed)
        key = try! Ed25519.PrivateKey(seed: rng.bytes(32))
        id = try! PeerID(ed25519PublicKey: key.publicKey.bytes)
        rules = PinsetInstance(trust: trust)
        self.store = store
    }

    /// Commits `operations` locally as one or more deltas; returns their encoded bytes in order.
    @discardableResult
    public mutating func commit(_ operations: [PinsetOperation]) throws -> [[UInt8]] {
        var rest = operations[...]
        var out: [[UInt8]] = []
        while let d = try rules.makeDelta(&rest, author: key, authorID: id, in: store) {
            _ = try rules.apply(d.node, cid: d.cid, bytes: d.bytes, to: &store)
            out.append(d.bytes)
        }
        return out
    }

    /// Applies nodes a peer sent, parents first; returns how many were new.
    @discardableResult
    public mutating func receive(_ nodes: [[UInt8]]) throws -> Int {
        var n = 0
        for b in nodes where try rules.apply(b, to: &store) != nil { n += 1 }
        return n
    }

    /// The nodes `other` lacks, parents first (what a fetch from this replica returns).
    public func missing(for other: [CID], want: [CID]? = nil) throws -> [[UInt8]] {
        let store = self.store
        let heads = try want ?? store.heads()
        return try SyncWalk.missing(want: heads, have: other) { try store.links(of: $0) }.map { try store.nodeBytes($0)! }
    }
}

/// Test values.
public enum PinsetFixtures {
    /// A raw-leaf CID numbered `n`.
    public static func cid(_ n: Int) -> CID { .v1(codec: .raw, .sha256(Array("content \(n)".utf8))) }

    /// A peer ID numbered `n` (the first 64 are computed once).
    public static func peer(_ n: Int) -> PeerID {
        n >= 0 && n < firstPeers.count ? firstPeers[n] : makePeer(n)
    }

    private static let firstPeers = (0..<64).map(makePeer)

    private static func makePeer(_ n: Int) -> PeerID {
        var rng = SplitMix64(seed: 0xFEED + UInt64(n))
        return try! PeerID(ed25519PublicKey: Ed25519.PrivateKey(seed: rng.bytes(32)).publicKey.bytes)
    }

    /// A pin as the cluster would write it: three allocations, a timestamp, replication 2–3.
    public static func pin(_ n: Int, name: String = "", allocations: [PeerID]? = nil) -> Pin {
        var o = PinOptions()
        o.name = name
        o.replicationFactorMin = 2
        o.replicationFactorMax = 3
        return Pin(
            cid: cid(n), allocations: allocations ?? [peer(n % 7), peer((n + 1) % 7), peer((n + 2) % 7)],
            timestamp: Timestamp(unixMillis: 1_790_000_000_000 + Int64(n)), options: o)
    }
}
