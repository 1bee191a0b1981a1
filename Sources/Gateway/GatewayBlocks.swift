public import EmbeddedIPFS
public import Multiformats

/// Where the gateway gets blocks: the embedded node's store first, then the repository's
/// fetcher (cluster peers holding the content, then bitswap), each fetch bounded by `timeout`.
///
/// A fetched block is verified (``IPFSRepo/fetchForRead(_:)``) and not stored: serving content
/// does not pin it. Nobody has it: `notFound` (404); no answer within the bound: `timeout` (504).
public struct GatewayBlocks: Sendable {
    public let repo: IPFSRepo
    public let timeout: Duration

    public init(repo: IPFSRepo, timeout: Duration) {
        self.repo = repo
        self.timeout = timeout
    }

    /// Whether the block is in the local store (identity CIDs always are).
    public func isLocal(_ cid: CID) -> Bool { repo.blocks.has(cid) }

    /// The verified bytes of `cid`.
    public func get(_ cid: CID) async throws(GatewayError) -> [UInt8] {
        if let b = repo.localBlock(cid) { return b }
        let repo = self.repo
        let bound = timeout
        let outcome: Outcome = await withTaskGroup(of: Outcome.self) { g in
            g.addTask {
                do {
                    return try await repo.fetchForRead(cid).map(Outcome.bytes) ?? .nobody
                } catch is CancellationError {
                    return .cancelled
                } catch {
                    return .failed("\(error)")
                }
            }
            g.addTask {
                do {
                    try await Task.sleep(for: bound)
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await g.next() ?? .cancelled
            g.cancelAll()
            return first
        }
        switch outcome {
        case .bytes(let b): return b
        case .nobody:
            throw GatewayError(.notFound, "block \(cid) is not stored here and no cluster peer or connected IPFS node has it")
        case .timedOut:
            throw GatewayError(
                .timeout, "block \(cid) was not obtained within \(bound) (it is not stored here and no peer sent it); retry later")
        case .cancelled: throw GatewayError(.timeout, "the request was cancelled while block \(cid) was being fetched")
        case .failed(let why): throw GatewayError(.internal, "block \(cid) could not be fetched: \(why)")
        }
    }

    enum Outcome: Sendable {
        case bytes([UInt8]), nobody, timedOut, cancelled, failed(String)
    }
}
