public import EmbeddedIPFS
public import Multiformats
import NIOConcurrencyHelpers

/// The embedded node as the source of its gateway's Routing V1 answers, in this order:
/// itself when its store has the block (with its announced or listen addresses and
/// `transport-bitswap`); the injected ``EmbeddedNode/setExtraProviders(_:)`` source (the
/// cluster's allocations, when a cluster peer sets one); the DHT: the records other peers gave
/// it and a lookup for the rest (DHT providers are bitswap providers: kubo announces for
/// bitswap). Each peer once, at most `limit`; the stream ends when every source is done or at
/// `timeout`, whichever is first.
extension EmbeddedNode: RoutingProviderSource {
    public func providers(of cid: CID, limit: Int, timeout: Duration) -> AsyncStream<RoutingProvider> {
        let (stream, continuation) = AsyncStream<RoutingProvider>.makeStream()
        let out = Yielder(continuation: continuation, limit: limit)
        let own = repo.blocks.has(.v1(codec: .raw, cid.multihash)) ? ownRecord() : nil
        let extra = extraProviderSource()
        let dht = self.dht
        let task = Task {
            if let own { out.yield(own) }
            var sources: [@Sendable () async -> [RoutingProvider]] = []
            if let extra { sources.append { await extra(cid) } }
            if let dht { sources.append { await dht.findProviders(cid, enough: limit).map { RoutingProvider(id: $0.id, multiaddrs: $0.addresses) } } }
            await withTaskGroup(of: Bool.self) { g in
                g.addTask {
                    try? await Task.sleep(for: timeout)
                    return true
                }
                for source in sources where !out.full {
                    g.addTask {
                        for p in await source() { out.yield(p) }
                        return false
                    }
                }
                var remaining = sources.count
                while remaining > 0, !out.full, let timer = await g.next(), !timer { remaining -= 1 }
                g.cancelAll()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// This node as a provider: its announced (or listen) addresses and bitswap.
    public func ownRecord() -> RoutingProvider {
        let own = plan.announce.isEmpty ? host.listenAddresses.flatMap(Self.expand) : plan.announce
        return RoutingProvider(id: host.peerID, multiaddrs: own, protocols: [RoutingV1.bitswap])
    }
}

/// Yields each peer once, up to a limit, from any task.
final class Yielder: Sendable {
    let continuation: AsyncStream<RoutingProvider>.Continuation
    let limit: Int
    let sent = NIOLockedValueBox<Set<PeerID>>([])

    init(continuation: AsyncStream<RoutingProvider>.Continuation, limit: Int) {
        self.continuation = continuation
        self.limit = limit
    }

    var full: Bool { sent.withLockedValue { $0.count >= limit } }

    func yield(_ p: RoutingProvider) {
        let take = sent.withLockedValue { s in s.count < limit && s.insert(p.id).inserted }
        if take { continuation.yield(p) }
    }
}
