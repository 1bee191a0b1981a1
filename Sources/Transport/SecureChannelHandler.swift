import Logging
import NIOCore
import SecureChannel

/// What goes into one record.
enum RecordPlaintext: Sendable {
    case bytes([UInt8])
    /// A stream data frame of `bytes[range]`, written straight into the record's buffer.
    case streamData(stream: UInt64, bytes: [UInt8], range: Range<Int>)
}

/// Runs the PinMesh handshake on a TCP channel, then seals and opens records.
///
/// Inbound: bytes in, record plaintexts out. Outbound: plaintexts in (queued until the handshake
/// is done), sealed records out. Fires a ``SecureSession`` user event once established.
///
/// Whole records are opened where NIO received them (``RecordOpener``); stream data is sealed
/// in place in the buffer that goes to the socket.
final class SecureChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = [UInt8]
    typealias OutboundIn = RecordPlaintext
    typealias OutboundOut = ByteBuffer

    private var handshake: HandshakeInstance?
    private let isInitiator: Bool
    private var frames = HandshakeFrameDecoder()
    private var sealer: RecordSealer?
    private var opener: RecordOpener?
    private var queued: [(RecordPlaintext, EventLoopPromise<Void>?)] = []
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
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout + .milliseconds(1)) {
            let (handler, context) = loopBound.value
            guard var hs = handler.handshake else { return }
            let actions = hs.onTick(now: Self.now())
            handler.handshake = hs
            handler.run(actions, context: context)
        }
        if isInitiator, var hs = handshake {
            let actions = hs.start()
            handshake = hs
            run(actions, context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard !closed else { return }
        if handshake == nil && opener != nil {
            buffer.withUnsafeReadableBytes { records($0, context: context) }
            return
        }
        var copy = buffer
        guard let bytes = copy.readBytes(length: copy.readableBytes), handshake != nil else { return }
        frames.feed(bytes)
        while var hs = handshake, let message = frames.next() {
            let actions = hs.onMessage(message, now: Self.now())
            handshake = hs
            run(actions, context: context)
        }
        if opener != nil {
            let rest = frames.takeRemainder()
            if !rest.isEmpty { rest.withUnsafeBytes { records($0, context: context) } }
        }
    }

    /// Opens the records `bytes` completes, where they lie, and passes their plaintexts on.
    private func records(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        do {
            try opener!.open(bytes) { plaintext in
                context.fireChannelRead(wrapInboundOut(plaintext))
                return !closed
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
        let plaintext = unwrapOutboundIn(data)
        if closed {
            promise?.fail(TransportError(.connectionClosed, "connection closed"))
        } else if sealer != nil {
            sealAndWrite(plaintext, promise: promise, context: context)
        } else {
            queued.append((plaintext, promise))
        }
    }

    private func sealAndWrite(_ plaintext: RecordPlaintext, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        switch plaintext {
        case .bytes(let payload):
            if payload.count >= RecordLayer.compressionThreshold && RecordSealer.looksCompressible(payload) {
                let record = sealer!.seal(payload, compressible: true)
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: record)), promise: promise)
                return
            }
            let size = RecordSealer.recordSize(payload: payload.count)
            var buffer = context.channel.allocator.buffer(capacity: size)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                payload.withUnsafeBytes { sealer!.seal($0, into: out) }
            }
            context.write(wrapOutboundOut(buffer), promise: promise)
        case .streamData(let stream, let bytes, let range):
            // The frame header and the data go where the record's plaintext goes, then are
            // sealed in place: one copy of the data, no intermediate array.
            let header = RPCFrame.dataHeader(stream: stream)
            let count = header.count + range.count
            let size = RecordSealer.recordSize(payload: count)
            var buffer = context.channel.allocator.buffer(capacity: size)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                let record = UnsafeMutableRawBufferPointer(rebasing: out[0..<size])
                UnsafeMutableRawBufferPointer(rebasing: record[4...]).copyBytes(from: header)
                bytes.withUnsafeBytes { src in
                    UnsafeMutableRawBufferPointer(rebasing: record[(4 + header.count)...])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[range]))
                }
                return sealer!.sealInPlace(record, plaintextCount: count)
            }
            context.write(wrapOutboundOut(buffer), promise: promise)
        }
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
