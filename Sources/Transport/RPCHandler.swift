import CodedError
import Logging
public import Multiformats
import NIOCore
import NIOConcurrencyHelpers
import SecureChannel

/// What callers write into a connection's pipeline.
enum RPCOutbound: Sendable {
    case call(method: String, payload: [UInt8], promise: EventLoopPromise<[UInt8]>, timeout: TimeAmount)
    case frame(RPCFrame)
    case openStream(method: String, payload: [UInt8], deadline: TimeAmount?, promise: EventLoopPromise<PeerStream>)
    /// Completes the write's promise once every byte went out under the stream's window.
    case streamWrite(id: UInt64, bytes: [UInt8])
    case streamFinish(id: UInt64)
    case streamReset(id: UInt64, reason: String)
    /// The application read `bytes`: grant them back to the sender.
    case streamGrant(id: UInt64, bytes: Int)
}

/// Method handlers, shared by every connection of a transport.
public final class RPCServer: Sendable {
    public typealias Handler = @Sendable (_ peer: PeerID, _ payload: [UInt8]) async throws -> [UInt8]
    /// Runs on the connection's event loop, in arrival order: hand the payload off, do not block.
    public typealias OneWayHandler = @Sendable (_ peer: PeerID, _ payload: [UInt8]) -> Void
    private let handlers = NIOLockedValueBox<[String: Handler]>([:])
    /// Boxed, so reading one back out of the generic lock and dictionary adds no closure thunks.
    final class OneWayBox: Sendable {
        let call: OneWayHandler
        init(_ call: @escaping OneWayHandler) { self.call = call }
    }
    private let oneWayHandlers = NIOLockedValueBox<[String: OneWayBox]>([:])
    public typealias StreamHandler = @Sendable (_ stream: PeerStream) async throws -> Void
    private let streamHandlers = NIOLockedValueBox<[String: StreamHandler]>([:])

    public init() {}

    /// Registers (or replaces) the handler of `method`.
    public func register(_ method: String, _ handler: @escaping Handler) {
        handlers.withLockedValue { $0[method] = handler }
    }

    /// Registers (or replaces) the handler of one-way messages to `method`.
    public func registerOneWay(_ method: String, _ handler: @escaping OneWayHandler) {
        let box = OneWayBox(handler)
        oneWayHandlers.withLockedValue { $0[method] = box }
    }

    /// Registers (or replaces) the handler of streams opened for `method`. The stream is
    /// half-closed when the handler returns and reset with the error when it throws.
    public func registerStream(_ method: String, _ handler: @escaping StreamHandler) {
        streamHandlers.withLockedValue { $0[method] = handler }
    }

    func handler(_ method: String) -> Handler? { handlers.withLockedValue { $0[method] } }
    func streamHandler(_ method: String) -> StreamHandler? { streamHandlers.withLockedValue { $0[method] } }
    func oneWayHandler(_ method: String) -> OneWayBox? { oneWayHandlers.withLockedValue { $0[method] } }
}

/// Calls, one-way messages and multiplexed streams over one secure connection, both ways.
///
/// Runs on the connection's event loop. Outbound frames under ``coalesceBelow`` bytes written in
/// the same event-loop turn leave as one batch record; the flush waits for the end of the turn
/// (the tasks already queued on the loop), so an idle connection adds no delay.
final class RPCHandler: ChannelDuplexHandler {
    typealias InboundIn = [UInt8]
    typealias InboundOut = Never
    typealias OutboundIn = RPCOutbound
    typealias OutboundOut = RecordPlaintext

    /// Frames smaller than this are coalesced.
    static let coalesceBelow = 1024

    private var pending: [UInt64: (EventLoopPromise<[UInt8]>, Scheduled<Void>)] = [:]
    private var nextID: UInt64 = 1
    private var peer: PeerID?
    private let server: RPCServer
    private let logger: Logger
    /// Calls from the peer being served now; beyond `maxConcurrent` they are refused at once.
    private var serving = Set<UInt64>()
    private let maxConcurrent: Int
    private let coalesce: Bool
    private var batch: [[UInt8]] = []
    private var batchBytes = 2
    private var batchPromises: [EventLoopPromise<Void>] = []
    private var flushScheduled = false

    /// Streams by id. Ours are odd when we dialled, even when we accepted.
    private var streams: [UInt64: StreamEntry] = [:]
    private var nextStreamID: UInt64
    private var peerStreams = 0
    private let streamWindow: Int
    private let maxStreams: Int

    final class StreamEntry {
        let stream: PeerStream
        let ours: Bool
        /// Bytes we may still send.
        var credit: Int
        /// Bytes the peer may still send.
        var allowance: Int
        var queue = CircularBuffer<(bytes: [UInt8], offset: Int, promise: EventLoopPromise<Void>?)>()
        var finishQueued = false
        var localClosed = false
        var remoteClosed = false
        /// The opener's deadline, cancelled when the stream ends first.
        var deadline: Scheduled<Void>?

        init(stream: PeerStream, ours: Bool, window: Int) {
            self.stream = stream
            self.ours = ours
            credit = window
            allowance = window
        }
    }

    init(server: RPCServer, isInitiator: Bool, maxConcurrent: Int, streamWindow: Int, maxStreams: Int, coalesce: Bool, logger: Logger) {
        self.server = server
        self.maxConcurrent = maxConcurrent
        self.streamWindow = streamWindow
        self.maxStreams = maxStreams
        self.coalesce = coalesce
        self.logger = logger
        nextStreamID = isInitiator ? 1 : 2
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let session = event as? SecureSession { peer = session.peer }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame: RPCFrame
        do {
            frame = try RPCFrame(decoding: unwrapInboundIn(data))
        } catch {
            logger.warning("closing connection after a malformed RPC frame: \(error)")
            context.close(promise: nil)
            return
        }
        if case .batch(let frames) = frame {
            for f in frames { handle(f, context: context) }
        } else {
            handle(frame, context: context)
        }
    }

    private func handle(_ frame: RPCFrame, context: ChannelHandlerContext) {
        switch frame {
        case .request(let id, let method, _) where method == SecureTransport.pingMethod && server.handler(method) == nil:
            // Answered on the loop (unless a handler replaced it): the ping is every dial's
            // first round trip, and a hop to a task and back doubled its time.
            send(.response(id: id, payload: []), context: context)
        case .request(let id, let method, let payload):
            guard let peer, let handler = server.handler(method) else {
                return send(.error(id: id, message: "unknown method \(method)"), context: context)
            }
            guard serving.count < maxConcurrent, serving.insert(id).inserted else {
                return send(.error(id: id, message: "busy: \(serving.count) calls from this peer in flight (limit \(maxConcurrent)); retry later"), context: context)
            }
            let channel = context.channel
            Task {
                let reply: RPCFrame
                do {
                    let result = try await handler(peer, payload)
                    reply = result.count <= RPCFrame.maxPayload
                        ? .response(id: id, payload: result)
                        : .error(id: id, message: "response of \(result.count) bytes exceeds \(RPCFrame.maxPayload)")
                } catch {
                    reply = .error(id: id, message: String(describing: error))
                }
                channel.writeAndFlush(RPCOutbound.frame(reply), promise: nil)
            }
        case .message(let method, let payload):
            guard let peer, let handler = server.oneWayHandler(method) else {
                logger.debug("dropping a one-way message to unknown method \(method)")
                return
            }
            handler.call(peer, payload)
        case .response(let id, let payload):
            if let (promise, timer) = pending.removeValue(forKey: id) {
                timer.cancel()
                promise.succeed(payload)
            }
        case .error(let id, let message):
            if let (promise, timer) = pending.removeValue(forKey: id) {
                timer.cancel()
                let code: ErrorCode<TransportError> = message.hasPrefix("unknown method") ? .unknownMethod : .remoteError
                promise.fail(TransportError(code, message))
            }
        case .open(let id, let method, let payload):
            opened(id: id, method: method, payload: payload, context: context)
        case .data(let id, let payload):
            guard let entry = streams[id] else { return }  // reset meanwhile
            guard !entry.remoteClosed else { return violation("data after the stream's close", context: context) }
            guard payload.count <= entry.allowance else {
                return violation("stream \(id) sent \(payload.count) bytes with a window of \(entry.allowance)", context: context)
            }
            entry.allowance -= payload.count
            entry.stream.deliver(payload)
        case .window(let id, let increment):
            guard let entry = streams[id] else { return }
            guard entry.credit + Int(increment) <= Int(RPCFrame.maxWindowIncrement) else {
                return violation("stream \(id) window grown past \(RPCFrame.maxWindowIncrement)", context: context)
            }
            entry.credit += Int(increment)
            pump(entry, context: context)
        case .close(let id):
            guard let entry = streams[id], !entry.remoteClosed else { return }
            entry.remoteClosed = true
            entry.stream.end()
            removeIfDone(entry)
        case .reset(let id, let reason):
            guard let entry = streams[id] else { return }
            abort(entry, TransportError(.reset, "\(entry.stream.method) stream reset by the peer: \(reason)"))
        case .batch:
            violation("a batch inside a batch", context: context)
        }
    }

    /// The peer opened a stream: serve it, or refuse it with a reset.
    private func opened(id: UInt64, method: String, payload: [UInt8], context: ChannelHandlerContext) {
        guard let peer, (id & 1 == 1) != (nextStreamID & 1 == 1), streams[id] == nil else {
            return violation("stream open with id \(id), which is this side's or in use", context: context)
        }
        guard payload.count <= streamWindow else {
            return violation("stream open carrying \(payload.count) bytes with a window of \(streamWindow)", context: context)
        }
        guard let handler = server.streamHandler(method) else {
            return send(.reset(stream: id, reason: "unknown method \(method)"), context: context)
        }
        guard peerStreams < maxStreams else {
            return send(.reset(stream: id, reason: "busy: \(peerStreams) streams from this peer open (limit \(maxStreams)); retry later"), context: context)
        }
        let stream = PeerStream(peer: peer, id: id, method: method, channel: context.channel, window: streamWindow)
        let entry = StreamEntry(stream: stream, ours: false, window: streamWindow)
        entry.allowance -= payload.count
        streams[id] = entry
        peerStreams += 1
        if !payload.isEmpty { stream.deliver(payload) }
        Task {
            do {
                try await handler(stream)
                stream.finish()
            } catch {
                stream.reset(String(describing: error))
            }
        }
    }

    /// A protocol violation by the peer: log it and close the connection.
    private func violation(_ what: String, context: ChannelHandlerContext) {
        logger.warning("closing connection: \(what)")
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .frame(let frame):
            if case .message(_, let payload) = frame, payload.count > RPCFrame.maxPayload {
                promise?.fail(TransportError(.tooLarge, "one-way payload of \(payload.count) bytes exceeds \(RPCFrame.maxPayload)"))
                return
            }
            switch frame {
            case .response(let id, _), .error(let id, _): serving.remove(id)
            default: break
            }
            emit(frame.encoded(), promise: promise, context: context)
        case .call(let method, let payload, let reply, let timeout):
            guard payload.count <= RPCFrame.maxPayload else {
                reply.fail(TransportError(.tooLarge, "RPC payload of \(payload.count) bytes exceeds \(RPCFrame.maxPayload)"))
                promise?.succeed(())
                return
            }
            let id = nextID
            nextID += 1
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let timer = context.eventLoop.scheduleTask(in: timeout) {
                if let (p, _) = loopBound.value.pending.removeValue(forKey: id) {
                    p.fail(TransportError(.timeout, "\(method) got no answer within \(timeout)"))
                }
            }
            pending[id] = (reply, timer)
            emit(RPCFrame.request(id: id, method: method, payload: payload).encoded(), promise: promise, context: context)
        case .openStream(let method, let payload, let deadline, let reply):
            guard let peer else {
                reply.fail(TransportError(.connectionClosed, "streams open once the handshake is done"))
                promise?.succeed(())
                return
            }
            guard payload.count <= min(streamWindow, RPCFrame.maxPayload) else {
                reply.fail(TransportError(.tooLarge, "a stream's first payload is at most \(min(streamWindow, RPCFrame.maxPayload)) bytes, got \(payload.count)"))
                promise?.succeed(())
                return
            }
            let id = nextStreamID
            nextStreamID += 2
            let stream = PeerStream(peer: peer, id: id, method: method, channel: context.channel, window: streamWindow)
            let entry = StreamEntry(stream: stream, ours: true, window: streamWindow)
            entry.credit -= payload.count
            streams[id] = entry
            emit(RPCFrame.open(stream: id, method: method, payload: payload).encoded(), promise: promise, context: context)
            if let deadline {
                // Still open at the deadline (either way): reset on both sides.
                let bound = NIOLoopBound((self, context, entry), eventLoop: context.eventLoop)
                entry.deadline = context.eventLoop.scheduleTask(in: deadline) {
                    let (handler, context, entry) = bound.value
                    guard let live = handler.streams[id], live === entry else { return }
                    let reason = "\(method) stream not done within its deadline of \(deadline)"
                    handler.send(.reset(stream: id, reason: reason), context: context)
                    handler.abort(entry, TransportError(.timeout, reason))
                }
            }
            reply.succeed(stream)
        case .streamWrite(let id, let bytes):
            guard let entry = streams[id], !entry.finishQueued, !entry.localClosed else {
                promise?.fail(TransportError(.reset, "stream \(id) is closed or reset; nothing more can be written"))
                return
            }
            entry.queue.append((bytes, 0, promise))
            pump(entry, context: context)
        case .streamFinish(let id):
            guard let entry = streams[id], !entry.finishQueued, !entry.localClosed else { return promise?.succeed(()) ?? () }
            entry.finishQueued = true
            pump(entry, context: context)
            promise?.succeed(())
        case .streamReset(let id, let reason):
            if let entry = streams[id] {
                emit(RPCFrame.reset(stream: id, reason: reason).encoded(), promise: nil, context: context)
                abort(entry, TransportError(.reset, "\(entry.stream.method) stream reset: \(reason)"))
            }
            promise?.succeed(())
        case .streamGrant(let id, let bytes):
            if let entry = streams[id], !entry.remoteClosed {
                entry.allowance += bytes
                emit(RPCFrame.window(stream: id, increment: UInt64(bytes)).encoded(), promise: nil, context: context)
            }
            promise?.succeed(())
        }
    }

    /// Sends what the stream's window allows, then its close once everything queued is out.
    private func pump(_ entry: StreamEntry, context: ChannelHandlerContext) {
        var wrote = false
        while entry.credit > 0, let first = entry.queue.first {
            let n = min(entry.credit, first.bytes.count - first.offset, RPCFrame.maxData)
            entry.credit -= n
            wrote = true
            let done = first.offset + n == first.bytes.count
            if done {
                entry.queue.removeFirst()
            } else {
                entry.queue[entry.queue.startIndex].offset += n
            }
            let range = first.offset..<first.offset + n
            if n < Self.coalesceBelow {
                emit(RPCFrame.dataFrame(stream: entry.stream.id, payload: first.bytes[range]), promise: done ? first.promise : nil, context: context)
            } else {
                // Large data skips the frame array: it is written straight into its record.
                writeBatch(context: context)
                context.write(wrapOutboundOut(.streamData(stream: entry.stream.id, bytes: first.bytes, range: range)), promise: done ? first.promise : nil)
            }
        }
        if entry.queue.isEmpty && entry.finishQueued && !entry.localClosed {
            entry.localClosed = true
            emit(RPCFrame.close(stream: entry.stream.id).encoded(), promise: nil, context: context)
            wrote = true
            removeIfDone(entry)
        }
        if wrote { scheduleFlush(context: context) }
    }

    private func removeIfDone(_ entry: StreamEntry) {
        guard entry.localClosed && entry.remoteClosed else { return }
        remove(entry)
    }

    private func remove(_ entry: StreamEntry) {
        guard streams.removeValue(forKey: entry.stream.id) != nil else { return }
        entry.deadline?.cancel()
        entry.deadline = nil
        if !entry.ours { peerStreams -= 1 }
    }

    /// Fails the stream both ways and forgets it.
    private func abort(_ entry: StreamEntry, _ error: TransportError) {
        remove(entry)
        entry.localClosed = true
        entry.remoteClosed = true
        while let w = entry.queue.popFirst() { w.promise?.fail(error) }
        entry.stream.fail(error)
    }

    private func send(_ frame: RPCFrame, context: ChannelHandlerContext) {
        emit(frame.encoded(), promise: nil, context: context)
        scheduleFlush(context: context)
    }

    /// Writes one encoded frame: small ones join the batch of this turn, others leave at once
    /// (after the batch, to keep the order).
    private func emit(_ frame: [UInt8], promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        guard coalesce, frame.count < Self.coalesceBelow else {
            writeBatch(context: context)
            context.write(wrapOutboundOut(.bytes(frame)), promise: promise)
            return
        }
        let cost = Varint.encodedLength(UInt64(frame.count)) + frame.count
        if batchBytes + cost > RecordLayer.maxPlaintext { writeBatch(context: context) }
        batch.append(frame)
        batchBytes += cost
        if let promise { batchPromises.append(promise) }
    }

    private func writeBatch(context: ChannelHandlerContext) {
        guard !batch.isEmpty else { return }
        let record: [UInt8]
        if batch.count == 1 {
            record = batch[0]
        } else {
            var out: [UInt8] = [10, 0]
            out.reserveCapacity(batchBytes)
            for f in batch {
                Varint.encode(UInt64(f.count), into: &out)
                out.append(contentsOf: f)
            }
            record = out
        }
        let promises = batchPromises
        batch.removeAll(keepingCapacity: true)
        batchPromises.removeAll(keepingCapacity: true)
        batchBytes = 2
        if promises.isEmpty {
            context.write(wrapOutboundOut(.bytes(record)), promise: nil)
        } else {
            let done = context.eventLoop.makePromise(of: Void.self)
            done.futureResult.whenComplete { result in for p in promises { p.completeWith(result) } }
            context.write(wrapOutboundOut(.bytes(record)), promise: done)
        }
    }

    func flush(context: ChannelHandlerContext) {
        guard coalesce else { return context.flush() }
        scheduleFlush(context: context)
    }

    /// Flushes at the end of this event-loop turn: what is written meanwhile shares records.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.flushScheduled = false
            handler.writeBatch(context: context)
            context.flush()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for (_, (promise, timer)) in pending {
            timer.cancel()
            promise.fail(TransportError(.connectionClosed, "connection to \(peer.map { "\($0)" } ?? "peer") closed before the answer"))
        }
        pending = [:]
        for entry in Array(streams.values) {
            abort(entry, TransportError(.connectionClosed, "connection to \(peer.map { "\($0)" } ?? "peer") closed under the \(entry.stream.method) stream"))
        }
        batch = []
        for p in batchPromises { p.fail(TransportError(.connectionClosed, "connection closed")) }
        batchPromises = []
        context.fireChannelInactive()
    }
}
