import Bitswap
import Multiformats
import NIOConcurrencyHelpers

/// Our outbound bitswap stream to one peer: opened once, then messages written in order,
/// each downgraded to the version the peer negotiated.
final class BitswapPeerSender: Sendable {
    let peer: PeerID
    private let maxQueued: Int
    private let queue: AsyncStream<BitswapMessage>
    private let continuation: AsyncStream<BitswapMessage>.Continuation
    private let state = NIOLockedValueBox<(version: BitswapProtocolVersion?, queued: Int, task: Task<Void, Never>?, stream: Libp2pStream?)>((nil, 0, nil, nil))

    init(peer: PeerID, maxQueued: Int) {
        self.peer = peer
        self.maxQueued = maxQueued
        (queue, continuation) = AsyncStream.makeStream(of: BitswapMessage.self)
    }

    /// The negotiated version, once the stream is open.
    var version: BitswapProtocolVersion? { state.withLockedValue { $0.version } }

    /// Opens the stream and writes queued messages until closed; `failed` ends it.
    func run(
        open: @escaping @Sendable () async throws -> Libp2pStream,
        opened: @escaping @Sendable (BitswapProtocolVersion) async -> Void,
        written: @escaping @Sendable (BitswapMessage) async -> Void,
        failed: @escaping @Sendable (any Error) async -> Void
    ) {
        let queue = self.queue
        let task = Task { [state] in
            let stream: Libp2pStream
            let version: BitswapProtocolVersion
            do {
                stream = try await open()
                guard let v = BitswapProtocolVersion(protocolID: stream.protocolID) else {
                    await stream.reset()
                    throw BitswapError(.malformed, "peer negotiated \(stream.protocolID), which is not bitswap")
                }
                version = v
            } catch {
                await failed(error)
                for await m in queue { await written(m) }
                return
            }
            state.withLockedValue { $0.version = version; $0.stream = stream }
            await opened(version)
            var failure: (any Error)?
            for await message in queue {
                state.withLockedValue { $0.queued -= 1 }
                if failure == nil {
                    do {
                        try await stream.writeMessage(message.downgraded(to: version).encoded())
                    } catch {
                        failure = error
                        await failed(error)
                    }
                }
                await written(message)
            }
            await stream.closeWrite()
        }
        state.withLockedValue { $0.task = task }
    }

    /// Queues `message`; false when the peer already has `maxQueued` messages waiting.
    func enqueue(_ message: BitswapMessage) -> Bool {
        let ok = state.withLockedValue { s -> Bool in
            guard s.queued < maxQueued else { return false }
            s.queued += 1
            return true
        }
        if ok { continuation.yield(message) }
        return ok
    }

    /// Ends the queue; what is queued is still written (or reported) before the stream closes.
    func close() { continuation.finish() }
}
