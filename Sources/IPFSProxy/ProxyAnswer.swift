import ClusterModel
import CodedError
import EmbeddedIPFS
import Hummingbird
import NIOCore
import Node

/// The shapes kubo answers in, for the calls the proxy answers itself: one JSON value ending in
/// a newline, an NDJSON stream (`X-Chunked-Output: 1`, an error after the head in the
/// `X-Stream-Error` trailer), and errors as `{"Message","Code","Type":"error"}`.
enum ProxyAnswer {
    typealias Field = HTTPFields.Element
    static let trailerName = Field.Name("Trailer")!
    static let streamErrorName = Field.Name("X-Stream-Error")!
    static let chunkedName = Field.Name("X-Chunked-Output")!
    static let serverName = Field.Name("Server")!
    static let server = "pinmesh/ipfsproxy/\(PinMeshVersion.string)"

    /// The headers of every answer of an intercepted call: `extra` (copied from the daemon),
    /// then JSON and the proxy's `Server`.
    static func headers(_ extra: HTTPFields = HTTPFields()) -> HTTPFields {
        var h = extra
        h[.contentType] = "application/json"
        h[serverName] = server
        return h
    }

    static func json(_ text: String, headers extra: HTTPFields = HTTPFields()) -> Response {
        Response(status: .ok, headers: headers(extra), body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    /// kubo's error; its status is kubo's for the code (400 for a wrong request, 500 for a
    /// failed command) unless `status` says otherwise.
    static func error(_ e: KuboError, status: HTTPResponse.Status? = nil, headers extra: HTTPFields = HTTPFields()) -> Response {
        Response(
            status: status ?? .init(code: e.status), headers: headers(extra), body: ResponseBody(byteBuffer: ByteBuffer(string: e.json + "\n")))
    }

    /// An error thrown by a command, in kubo's shape: kubo's own errors as they are, the
    /// cluster's by kind (a wrong request 400, the rest 500), anything else 500.
    static func kubo(_ error: any Error) -> KuboError {
        switch error {
        case let e as KuboError: return e
        case let e as ClusterError: return e.kind == .badRequest ? .client(e.message) : .normal(e.message)
        case let e as any CodedError: return .normal(e.message)
        case is CancellationError: return .normal("context canceled")
        default: return .normal("\(error)")
        }
    }

    /// Lines as `produce` makes them, in chunks of about 64 KiB (`flush` hands on what is held
    /// at once). `produce` runs in a task of its own from now on (an add reads its upload before
    /// any line is due, as the REST API's `/add` does); the answer is returned with its first
    /// chunk, so a failure before any output is an error answer with its status, and one after
    /// goes in the `X-Stream-Error` trailer. Each chunk waits for the client to take the one
    /// before: memory stays bounded. A client that goes away cancels the task.
    static func stream(
        headers extra: HTTPFields = HTTPFields(), chunked: Bool = true, _ produce: @escaping @Sendable (LineWriter) async throws -> Void
    ) async -> Response {
        let handoff = ChunkHandoff()
        let producer = Task {
            let out = LineWriter(handoff)
            do {
                try await produce(out)
                try await out.flush()
                await handoff.finish(nil, trailer: out.trailer)
            } catch {
                await handoff.finish(error, trailer: nil)
            }
        }
        let first: ByteBuffer?
        do {
            first = try await handoff.take()
        } catch {
            producer.cancel()
            return self.error(kubo(error), headers: extra)
        }
        var h = headers(extra)
        if chunked { h[chunkedName] = "1" }
        h[trailerName] = "X-Stream-Error"
        return Response(
            status: .ok, headers: h,
            body: ResponseBody { writer in
                defer {
                    producer.cancel()
                    Task { await handoff.close() }
                }
                var trailer: HTTPFields?
                if let first { try await writer.write(first) }
                while true {
                    let chunk: ByteBuffer?
                    do {
                        chunk = try await handoff.take()
                    } catch {
                        trailer = streamError(kubo(error).message)
                        break
                    }
                    guard let chunk else {
                        if let t = await handoff.trailer { trailer = streamError(t) }
                        break
                    }
                    try await writer.write(chunk)
                }
                try await writer.finish(trailer)
            })
    }

    static func streamError(_ message: String) -> HTTPFields {
        var t = HTTPFields()
        t[streamErrorName] = message.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        return t
    }
}

/// The line sink of ``ProxyAnswer/stream(headers:chunked:_:)``; `trailer` set by a producer
/// that finished but has errors to report (kubo's `repo/gc` without `stream-errors`).
final class LineWriter: @unchecked Sendable {
    let handoff: ChunkHandoff
    var trailer: String?
    private var buffer = ByteBuffer()

    init(_ handoff: ChunkHandoff) { self.handoff = handoff }

    func line(_ text: String) async throws {
        buffer.writeString(text)
        buffer.writeInteger(UInt8(ascii: "\n"))
        if buffer.readableBytes >= 64 << 10 { try await flush() }
    }

    /// Text without a newline (a JSON object written in pieces).
    func text(_ text: String) async throws {
        buffer.writeString(text)
        if buffer.readableBytes >= 64 << 10 { try await flush() }
    }

    func flush() async throws {
        guard buffer.readableBytes > 0 else { return }
        let out = buffer
        buffer = ByteBuffer()
        try await handoff.put(out)
    }
}

/// One chunk at a time from a producer task to the response writer: `put` waits until the
/// previous chunk was taken, `take` until a chunk or the end is there.
actor ChunkHandoff {
    /// Thrown to a producer whose client went away.
    struct ClientGone: Error {}

    private var slot: ByteBuffer?
    private var done = false
    private var failure: (any Error)?
    private var closed = false
    private(set) var trailer: String?
    private var producerWaiting: CheckedContinuation<Void, Never>?
    private var consumerWaiting: CheckedContinuation<Void, Never>?

    func put(_ chunk: ByteBuffer) async throws {
        while slot != nil && !closed { await withCheckedContinuation { producerWaiting = $0 } }
        guard !closed else { throw ClientGone() }
        slot = chunk
        wakeConsumer()
    }

    /// The end of the chunks, with the producer's error or its trailer.
    func finish(_ error: (any Error)?, trailer: String?) {
        done = true
        failure = error
        self.trailer = trailer
        wakeConsumer()
    }

    /// The next chunk; nil after the last; the producer's error once the chunks before it went.
    func take() async throws -> ByteBuffer? {
        while slot == nil && !done { await withCheckedContinuation { consumerWaiting = $0 } }
        if let chunk = slot {
            slot = nil
            producerWaiting?.resume()
            producerWaiting = nil
            return chunk
        }
        if let failure { throw failure }
        return nil
    }

    /// The writer is done (or its client went away): a waiting or later `put` throws.
    func close() {
        closed = true
        producerWaiting?.resume()
        producerWaiting = nil
    }

    private func wakeConsumer() {
        consumerWaiting?.resume()
        consumerWaiting = nil
    }
}
