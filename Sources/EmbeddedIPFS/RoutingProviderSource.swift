public import Multiformats

/// Where a Routing V1 server finds the providers of a CID (the embedded node: its own store,
/// the DHT's records and a DHT lookup; optionally the cluster's allocations).
///
/// Contract: the stream yields each provider once, at most `limit`, and finishes by
/// `timeout` after the call (sooner when every source is done); cancelling the consumer stops
/// the search.
public protocol RoutingProviderSource: Sendable {
    func providers(of cid: CID, limit: Int, timeout: Duration) -> AsyncStream<RoutingProvider>
}
