import Libp2pCore
import NIOCore

extension Libp2pConnection {
    /// Runs what the yamux session reported.
    func handle(_ events: [YamuxEvent]) {
        for event in events {
            switch event {
            case .opened(let id):
                let (select, first) = MultistreamSelect.responder(supporting: host.inboundProtocols)
                let ctx = Libp2pStreamContext(id: id, connection: self, phase: .negotiating(select, nil))
                streams[id] = ctx
                _ = session!.write(id, first)
            case .data(let id, let bytes):
                if let ctx = streams[id] { received(bytes, on: ctx) }
            case .remoteClosed(let id):
                guard let ctx = streams[id] else { continue }
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
                continue
            case .failed(let error):
                flushSession()
                return fail(Libp2pError(.handshakeFailed, "yamux session with \(remotePeer!): \(error.message)"))
            }
        }
    }

    private func received(_ bytes: [UInt8], on ctx: Libp2pStreamContext) {
        guard case .negotiating(var select, let promise) = ctx.phase else { return deliver(bytes, to: ctx) }
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
            if !leftover.isEmpty { ctx.received.append(leftover) }
            if let promise {
                promise.succeed(protocolID)
            } else {
                host.dispatch(Libp2pStream(protocolID: protocolID, remotePeer: remotePeer!, context: ctx))
            }
        }
    }

    private func deliver(_ bytes: [UInt8], to ctx: Libp2pStreamContext) {
        if ctx.released {
            session!.consumed(ctx.id, bytes.count)
        } else if let read = ctx.waitingRead {
            ctx.waitingRead = nil
            session!.consumed(ctx.id, bytes.count)
            read.succeed(bytes)
        } else {
            ctx.received.append(bytes)
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
            let bytes = ctx.received.count == 1 ? ctx.received[0] : Array(ctx.received.joined())
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

    /// Sends waiting writes as far as the window allows.
    func pumpWrites(_ ctx: Libp2pStreamContext) {
        while var w = ctx.pendingWrites.first {
            w.offset += session!.write(ctx.id, w.bytes, from: w.offset)
            if w.offset < w.bytes.count {
                ctx.pendingWrites[0] = w
                break
            }
            ctx.pendingWrites.removeFirst()
            w.promise.succeed(())
        }
        flushSession()
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
            session?.consumed(ctx.id, ctx.received.reduce(0) { $0 + $1.count })
            flushSession()
        }
        ctx.received = []
    }
}
