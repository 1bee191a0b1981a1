import Logging
import NIOCore
import SecureChannel

/// Runs the PinMesh handshake on a TCP channel, then seals and opens records.
///
/// Inbound: bytes in, record plaintexts out. Outbound: plaintexts in (queued until the handshake
/// is done), sealed records out. Fires a ``SecureSession`` user event once established.
final class SecureChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = [UInt8]
    typealias OutboundIn = [UInt8]
    typealias OutboundOut = ByteBuffer

    private var handshake: HandshakeInstance?
    private let isInitiator: Bool
    private var frames = HandshakeFrameDecoder()
    private var sealer: RecordSealer?
    private var opener: RecordOpener?
    private var queued: [([UInt8], EventLoopPromise<Void>?)] = []
    private var deadline: Scheduled<Void>?
    private let established: EventLoopPromise<SecureSession>
    private let timeout: TimeAmount
    private let logger: Logger
    private var closed = false

    init(handshake: HandshakeInstance, isInitiator: Bool, timeout: Duration, established: EventLoopPromise<SecureSession>, logger: Logger) {
        self.handshake = handshake
        self.isInitiator = isInitiator
        self.established = established
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + Int64(timeout.components.attoseconds / 1_000_000_000))
        self.logger = logger
    }

    static func now() -> Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout + .milliseconds(1)) { [self] in
            let context = loopBound.value
            guard var hs = handshake else { return }
            let actions = hs.onTick(now: Self.now())
            handshake = hs
            run(actions, context: context)
        }
        if isInitiator, var hs = handshake {
            let actions = hs.start()
            handshake = hs
            run(actions, context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !closed else { return }
        if opener != nil && handshake == nil {
            buffer.withUnsafeReadableBytes { opener!.feed($0) }
            deliverQueued(context: context)
            return
        }
        guard let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
        if handshake != nil {
            frames.feed(bytes)
            while var hs = handshake, let message = frames.next() {
                let actions = hs.onMessage(message, now: Self.now())
                handshake = hs
                run(actions, context: context)
            }
            if opener != nil {
                let rest = frames.takeRemainder()
                if !rest.isEmpty { deliver(rest, context: context) }
            }
        } else if opener != nil {
            deliver(bytes, context: context)
        }
    }

    private func deliver(_ bytes: [UInt8], context: ChannelHandlerContext) {
        opener!.feed(bytes)
        deliverQueued(context: context)
    }

    private func deliverQueued(context: ChannelHandlerContext) {
        do {
            while let payload = try opener!.next() {
                context.fireChannelRead(wrapInboundOut(payload))
            }
        } catch {
            logger.warning("closing connection: \(error)")
            close(context: context)
        }
    }

    private func run(_ actions: [HandshakeInstance.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .established(let session):
                handshake = nil
                deadline?.cancel()
                do {
                    sealer = try RecordSealer(cipher: session.cipher, key: session.sendKey)
                    opener = try RecordOpener(cipher: session.cipher, key: session.receiveKey)
                } catch {
                    preconditionFailure("session keys have the cipher's size: \(error)")
                }
                established.succeed(session)
                context.fireUserInboundEventTriggered(session)
                let pending = queued
                queued = []
                for (payload, promise) in pending { sealAndWrite(payload, promise: promise, context: context) }
                context.flush()
            case .failed(let error):
                logger.info("handshake failed: \(error)")
                established.fail(TransportError(.handshakeFailed, error.description))
                close(context: context)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let payload = unwrapOutboundIn(data)
        if closed {
            promise?.fail(TransportError(.connectionClosed, "connection closed"))
        } else if sealer != nil {
            sealAndWrite(payload, promise: promise, context: context)
        } else {
            queued.append((payload, promise))
        }
    }

    private func sealAndWrite(_ payload: [UInt8], promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        if payload.count >= RecordLayer.compressionThreshold && RecordSealer.looksCompressible(payload) {
            let record = sealer!.seal(payload, compressible: true)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: record)), promise: promise)
            return
        }
        // The bulk path: seal straight into the outgoing buffer.
        let size = RecordSealer.recordSize(payload: payload.count)
        var buffer = context.channel.allocator.buffer(capacity: size)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            payload.withUnsafeBytes { sealer!.seal($0, into: out) }
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        deadline?.cancel()
        established.fail(TransportError(.connectionClosed, "connection closed during the handshake"))
        for (_, promise) in queued { promise?.fail(TransportError(.connectionClosed, "connection closed")) }
        queued = []
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error: \(error)")
        close(context: context)
    }

    private func close(context: ChannelHandlerContext) {
        guard !closed else { return }
        closed = true
        context.close(promise: nil)
    }
}
