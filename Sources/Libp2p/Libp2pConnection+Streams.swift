import Libp2pCore
import NIOCore

extension Libp2pConnection {
    /// Runs what the yamux session reported for `plain` (data ranges are slices of it).
    func handle(_ inputs: [YamuxInput], in plain: ByteBuffer) {
        for input in inputs {
            switch input {
            case .data(let id, let range):
                if let ctx = streams[id] { received(plain.getSlice(at: plain.readerIndex + range.lowerBound, length: range.count)!, on: ctx) }
            case .event(let event):
                guard handle(event) else { return }
            }
        }
    }

    /// Runs one event; false when the session failed.
    private func handle(_ event: YamuxEvent) -> Bool {
            switch event {
            case .opened(let id):
                let (select, first) = MultistreamSelect.responder(supporting: host.inboundProtocols)
                let ctx = Libp2pStreamContext(id: id, connection: self, phase: .negotiating(select, nil))
                streams[id] = ctx
                _ = session!.write(id, first)
            case .data(let id, let bytes):
                if let ctx = streams[id] { received(ByteBuffer(bytes: bytes), on: ctx) }
            case .remoteClosed(let id):
                guard let ctx = streams[id] else { return true }
                ctx.remoteClosed = true
                if case .negotiating = ctx.phase {
                    ctx.fail(Libp2pError(.streamClosed, "\(remotePeer!) closed a stream before agreeing on its protocol"))
                } else if ctx.received.isEmpty, let read = ctx.waitingRead {
                    ctx.waitingRead = nil
                    read.succeed(nil)
                }
                if ctx.isFinished { streams[id] = nil }
            case .reset(let id):
                streams.removeValue(forKey: id)?.fail(Libp2pError(.streamClosed, "\(remotePeer!) reset the stream"))
            case .windowGranted(let id):
                if let ctx = streams[id] { pumpWrites(ctx) }
            case .pong, .goAway:
                break
            case .failed(let error):
                flushSession()
                fail(Libp2pError(.handshakeFailed, "yamux session with \(remotePeer!): \(error.message)"))
                return false
            }
            return true
    }

    private func received(_ buffer: ByteBuffer, on ctx: Libp2pStreamContext) {
        guard case .negotiating(var select, let promise) = ctx.phase else { return deliver(buffer, to: ctx) }
        let bytes = Array(buffer.readableBytesView)
        let outcome = select.receive(bytes)
        ctx.phase = .negotiating(select, promise)
        switch outcome {
        case .pending(let send):
            session!.consumed(ctx.id, bytes.count)
            _ = session!.write(ctx.id, send)
        case .failed(let error, let send):
            _ = session!.write(ctx.id, send)
            if let promise {
                ctx.phase = .open
                promise.fail(Libp2pError(.protocolNotSupported, "\(remotePeer!): \(error.message)"))
            }
            reset(ctx)
        case .agreed(let protocolID, let send, let leftover):
            session!.consumed(ctx.id, bytes.count - leftover.count)
            _ = session!.write(ctx.id, send)
            ctx.phase = .open
            if !leftover.isEmpty { ctx.received.append(ByteBuffer(bytes: leftover)) }
            if let promise {
                promise.succeed(protocolID)
            } else {
                host.dispatch(Libp2pStream(protocolID: protocolID, remotePeer: remotePeer!, context: ctx))
            }
        }
    }

    private func deliver(_ buffer: ByteBuffer, to ctx: Libp2pStreamContext) {
        if ctx.released {
            session!.consumed(ctx.id, buffer.readableBytes)
        } else if let read = ctx.waitingRead {
            ctx.waitingRead = nil
            session!.consumed(ctx.id, buffer.readableBytes)
            read.succeed(Array(buffer.readableBytesView))
        } else {
            ctx.received.append(buffer)
        }
    }

    /// Opens a stream and negotiates the first of `protocols` the peer supports.
    func openStream(_ protocols: [String]) -> EventLoopFuture<Libp2pStream> {
        guard !protocols.isEmpty else {
            return eventLoop.makeFailedFuture(Libp2pError(.protocolNotSupported, "a stream needs at least one protocol to propose"))
        }
        guard case .muxed = phase, let peer = remotePeer else {
            return eventLoop.makeFailedFuture(Libp2pError(.streamClosed, "the connection to \(remoteAddress) is closed"))
        }
        guard let id = session!.openStream() else {
            return eventLoop.makeFailedFuture(Libp2pError(
                .limitReached, "\(peer) has \(session!.streamCount) streams open (the limit is \(host.settings.maxStreamsPerConnection)) or is going away: close some streams and retry"))
        }
        let (select, first) = MultistreamSelect.initiator(proposing: protocols)
        let promise = eventLoop.makePromise(of: String.self)
        let ctx = Libp2pStreamContext(id: id, connection: self, phase: .negotiating(select, promise))
        streams[id] = ctx
        _ = session!.write(id, first)
        flushSession()
        return promise.futureResult.map { Libp2pStream(protocolID: $0, remotePeer: peer, context: ctx) }
    }

    func read(_ ctx: Libp2pStreamContext) -> EventLoopFuture<[UInt8]?> {
        if !ctx.received.isEmpty {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(ctx.receivedBytes)
            for b in ctx.received { bytes.append(contentsOf: b.readableBytesView) }
            ctx.received = []
            if ctx.failure == nil, streams[ctx.id] != nil {
                session?.consumed(ctx.id, bytes.count)
                flushSession()
            }
            return eventLoop.makeSucceededFuture(bytes)
        }
        if ctx.remoteClosed { return eventLoop.makeSucceededFuture(nil) }
        if let failure = ctx.failure { return eventLoop.makeFailedFuture(failure) }
        guard ctx.waitingRead == nil else {
            return eventLoop.makeFailedFuture(Libp2pError(.streamClosed, "another task is already reading this stream"))
        }
        let promise = eventLoop.makePromise(of: [UInt8]?.self)
        ctx.waitingRead = promise
        return promise.futureResult
    }

    func write(_ ctx: Libp2pStreamContext, _ bytes: [UInt8]) -> EventLoopFuture<Void> {
        if let failure = ctx.failure { return eventLoop.makeFailedFuture(failure) }
        guard !ctx.localClosed else {
            return eventLoop.makeFailedFuture(Libp2pError(.streamClosed, "the stream was closed for writing"))
        }
        let promise = eventLoop.makePromise(of: Void.self)
        ctx.pendingWrites.append(.init(bytes: bytes, offset: 0, promise: promise))
        pumpWrites(ctx)
        return promise.futureResult
    }

    /// Sends waiting writes as far as the window allows: the session's queued frames, then one
    /// Noise frame per data frame (header and payload sealed in place), in one socket write.
    func pumpWrites(_ ctx: Libp2pStreamContext) {
        let queued = session!.takeOutbound()
        let window = min(session!.sendWindow(of: ctx.id), ctx.pendingWrites.reduce(0) { $0 + $1.bytes.count - $1.offset })
        var out = frameBuffer(plaintext: queued.count + window + (window / YamuxSession.maxDataFrame + 1) * YamuxHeader.size)
        appendFrames(to: &out, queued)
        var done: [EventLoopPromise<Void>] = []
        while var w = ctx.pendingWrites.first {
            while w.offset < w.bytes.count, let h = session!.dataFrame(ctx.id, upTo: w.bytes.count - w.offset) {
                let start = w.offset, end = w.offset + Int(h.length)
                appendFrame(to: &out) { b in
                    b.writeYamuxHeader(h)
                    b.writeBytes(w.bytes[start..<end])
                }
                w.offset = end
            }
            if w.offset < w.bytes.count {
                ctx.pendingWrites[0] = w
                break
            }
            ctx.pendingWrites.removeFirst()
            done.append(w.promise)
        }
        if out.readableBytes > 0 { channel.writeAndFlush(out, promise: nil) }
        for p in done { p.succeed(()) }
    }

    func closeWrite(_ ctx: Libp2pStreamContext) {
        guard !ctx.localClosed, ctx.failure == nil, session != nil else { return }
        ctx.localClosed = true
        session!.closeWrite(ctx.id)
        flushSession()
        if ctx.isFinished { streams[ctx.id] = nil }
    }

    func reset(_ ctx: Libp2pStreamContext) {
        guard ctx.failure == nil else { return }
        session?.reset(ctx.id)
        streams[ctx.id] = nil
        ctx.fail(Libp2pError(.streamClosed, "the stream was reset"))
        flushSession()
    }

    /// The application dropped its stream: reset it unless it closed its side (then what the
    /// peer still sends is discarded until its FIN or RST).
    func release(_ ctx: Libp2pStreamContext) {
        guard !ctx.isFinished else { return }
        guard ctx.localClosed else { return reset(ctx) }
        ctx.released = true
        if !ctx.received.isEmpty, streams[ctx.id] != nil {
            session?.consumed(ctx.id, ctx.receivedBytes)
            flushSession()
        }
        ctx.received = []
    }
}
