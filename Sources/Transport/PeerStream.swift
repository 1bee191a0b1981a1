import NIOConcurrencyHelpers
public import Multiformats
import NIOCore

/// One multiplexed byte stream over a peer connection, opened by either side.
///
/// Writes wait for the receiver's window (per-stream flow control: a stream whose reader is
/// slow holds back only its own writer, never the other streams of the connection). Reads
/// return the bytes in order, `nil` once the peer half-closed. ``finish()`` half-closes this
/// side; ``reset(_:)`` aborts both directions. Cancelling a task blocked in ``read()`` or
/// ``write(_:)`` resets the stream.
public final class PeerStream: Sendable {
    public let peer: PeerID
    public let id: UInt64
    /// The method the stream was opened for.
    public let method: String
    let channel: any Channel
    let window: Int
    private let inbound = NIOLockedValueBox(Inbound())

    struct Inbound {
        var chunks = CircularBuffer<[UInt8]>()
        var ended = false
        var failure: TransportError?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        /// Bytes read by the application and not yet granted back to the sender.
        var consumed = 0
    }

    init(peer: PeerID, id: UInt64, method: String, channel: any Channel, window: Int) {
        self.peer = peer
        self.id = id
        self.method = method
        self.channel = channel
        self.window = window
    }

    /// The next bytes in order, or `nil` after the peer half-closed. Throws `reset` when the
    /// stream was reset (by either side), `timeout` past its deadline, and `connectionClosed`
    /// when the connection went away. One task reads at a time.
    public func read() async throws -> [UInt8]? {
        let result: [UInt8]? = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                let ready: Result<[UInt8]?, any Error>? = inbound.withLockedValue { state in
                    if let chunk = state.chunks.popFirst() { return .success(chunk) }
                    if let failure = state.failure { return .failure(failure) }
                    if state.ended { return .success(nil) }
                    guard state.waiter == nil else {
                        return .failure(TransportError(.malformed, "another read is already waiting on the \(method) stream: read from one task at a time"))
                    }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            reset("the reader was cancelled")
        }
        if let result { consumed(result.count) }
        return result
    }

    /// Reads until the peer half-closes; throws `tooLarge` past `limit` bytes.
    public func readAll(limit: Int) async throws -> [UInt8] {
        var out: [UInt8] = []
        while let chunk = try await read() {
            guard out.count + chunk.count <= limit else {
                reset("more than \(limit) bytes")
                throw TransportError(.tooLarge, "stream \(method) sent more than \(limit) bytes")
            }
            out += chunk
        }
        return out
    }

    /// Sends `bytes`, returning once they are all written to the connection (that is, once the
    /// receiver's window had room for them). Throws after ``finish()`` or a reset.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(RPCOutbound.streamWrite(id: id, bytes: bytes), promise: promise)
        try await withTaskCancellationHandler {
            do {
                try await promise.futureResult.get()
            } catch {
                throw TransportError.closed(peer, error)
            }
        } onCancel: {
            reset("the writer was cancelled")
        }
    }

    /// Half-closes: the peer reads `nil` after the bytes already written. Reading goes on.
    public func finish() {
        channel.writeAndFlush(RPCOutbound.streamFinish(id: id), promise: nil)
    }

    /// Aborts the stream both ways; the peer's reads and writes fail with `reason`.
    public func reset(_ reason: String) {
        channel.writeAndFlush(RPCOutbound.streamReset(id: id, reason: reason), promise: nil)
    }

    // MARK: called on the connection's event loop

    func deliver(_ chunk: [UInt8]) {
        let waiter = inbound.withLockedValue { state -> CheckedContinuation<[UInt8]?, any Error>? in
            if let w = state.waiter {
                state.waiter = nil
                return w
            }
            state.chunks.append(chunk)
            return nil
        }
        waiter?.resume(returning: chunk)
    }

    func end() {
        let waiter = inbound.withLockedValue { state -> CheckedContinuation<[UInt8]?, any Error>? in
            state.ended = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    func fail(_ error: TransportError) {
        let waiter = inbound.withLockedValue { state -> CheckedContinuation<[UInt8]?, any Error>? in
            if state.failure == nil && !state.ended { state.failure = error }
            state.chunks.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: error)
    }

    /// Counts bytes the application took; grants them back once a quarter of a window gathered.
    private func consumed(_ n: Int) {
        let grant = inbound.withLockedValue { state -> Int in
            state.consumed += n
            guard state.consumed >= window / 4 else { return 0 }
            defer { state.consumed = 0 }
            return state.consumed
        }
        if grant > 0 { channel.writeAndFlush(RPCOutbound.streamGrant(id: id, bytes: grant), promise: nil) }
    }
}
