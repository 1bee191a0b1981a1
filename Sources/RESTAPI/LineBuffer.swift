import NIOConcurrencyHelpers

/// The lines of one streamed answer between the task producing them and the one writing them
/// to the connection. Appending does not suspend until `limit` bytes wait (backpressure to
/// the producer); the writer takes everything waiting at once. An idle stream so hands each
/// line over as it comes, and a busy one writes them in batches: one wake-up and one socket
/// write for many lines instead of a task switch and a write per line.
final class LineBuffer: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var finished = false
        var failure: (any Error)?
        var reader: CheckedContinuation<Void, Never>?
        var writer: CheckedContinuation<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())
    let limit: Int
    /// The most one take returns: the connection's writer buffers a few writes whatever their
    /// size, so big writes would multiply what a slow client makes the server hold.
    static let maxChunk = 4 << 10

    init(limit: Int = 16 << 10) { self.limit = limit }

    /// Adds a line; waits while `limit` bytes are already waiting. Throws `CancellationError`
    /// once the stream is finished (the client went away): the producer stops there.
    func append(_ line: [UInt8]) async throws {
        while true {
            let (wake, mustWait): (CheckedContinuation<Void, Never>?, Bool) = try state.withLockedValue { s in
                if s.finished { throw CancellationError() }
                if s.bytes.count >= limit { return (nil, true) }
                s.bytes += line
                defer { s.reader = nil }
                return (s.reader, false)
            }
            wake?.resume()
            guard mustWait else { return }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { s -> Bool in
                    if s.bytes.count < limit || s.finished { return true }
                    s.writer = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }

    /// Ends the stream (with `error`, reported after the lines already waiting).
    func finish(_ error: (any Error)? = nil) {
        let (r, w) = state.withLockedValue { s in
            s.finished = true
            s.failure = s.failure ?? error
            defer { (s.reader, s.writer) = (nil, nil) }
            return (s.reader, s.writer)
        }
        r?.resume()
        w?.resume()
    }

    /// Everything waiting (at least one line), or nil at the end; throws the stream's error
    /// once the lines before it are taken.
    func take() async throws -> [UInt8]? {
        while true {
            let (chunk, done, failure, wake): ([UInt8], Bool, (any Error)?, CheckedContinuation<Void, Never>?) = state.withLockedValue { s in
                if !s.bytes.isEmpty {
                    let b: [UInt8]
                    if s.bytes.count <= Self.maxChunk {
                        b = s.bytes
                        s.bytes = []
                        s.bytes.reserveCapacity(min(b.count, limit))
                    } else {
                        b = Array(s.bytes[..<Self.maxChunk])
                        s.bytes.removeFirst(Self.maxChunk)
                    }
                    defer { s.writer = nil }
                    return (b, false, nil, s.writer)
                }
                return ([], s.finished, s.failure, nil)
            }
            wake?.resume()
            if !chunk.isEmpty { return chunk }
            if done {
                if let failure { throw failure }
                return nil
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { s -> Bool in
                    if !s.bytes.isEmpty || s.finished { return true }
                    s.reader = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }
}
