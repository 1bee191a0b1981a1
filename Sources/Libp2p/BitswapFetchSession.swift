import Bitswap
public import Multiformats

/// One fetch session of a ``BitswapService``: CIDs in, verified blocks (or not-found) out.
public struct BitswapFetchSession: Sendable {
    let id: BitswapSessionID
    let service: BitswapService
    /// Results in arrival order; ends when the session is closed or the service stops.
    public let results: AsyncStream<BitswapFetchResult>

    /// Adds CIDs to fetch, after those already added. A CID already in flight in this session
    /// yields one result, however often it is added.
    public func want(_ cids: [CID]) async { await service.want(cids, session: id) }

    /// Ends the session: its outstanding wants are cancelled with the peers asked.
    public func close() async { await service.closeSession(id) }
}

/// What a fetch session yields, in arrival order.
public enum BitswapFetchResult: Sendable, Equatable {
    /// A block, verified against its CID.
    case block(CID, [UInt8])
    /// No peer had the block within the client's give-up time.
    case notFound(CID)
}
