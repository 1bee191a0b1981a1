import NIOCore

/// Bounds what one HTTP connection can hold, on the bytes below the HTTP codec (after TLS):
///
/// - **Headers in time** (`read_header_timeout`): the first request's head must end (a blank
///   line) within `readHeaderTimeout` of the connection's start, else the connection is closed.
///   A connection kept alive after a response is bounded by Hummingbird's idle timer
///   (`idle_timeout`), which counts from the last complete HTTP part.
/// - **Lingering close**: once the server closes its output (the answer to a `Connection:
///   close` request, or to a malformed one), the rest of the request is read and dropped for
///   at most `linger`, then the connection is closed. Without it a client still uploading a
///   body the handler did not read waited forever (the server read nothing and closed nothing);
///   closing at once would reset the connection and could destroy the answer before it is read.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    static let linger = TimeAmount.seconds(2)

    let readHeaderTimeout: TimeAmount?
    private var headerDeadline: Scheduled<Void>?
    private var lingerDeadline: Scheduled<Void>?
    private var headSeen = false
    private var lingering = false
    /// Line feeds in a row (carriage returns between them ignored): two end a head.
    private var lineFeeds = 0

    init(readHeaderTimeout: TimeAmount?) { self.readHeaderTimeout = readHeaderTimeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHeaderDeadline(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startHeaderDeadline(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadlines()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { cancelDeadlines() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lingering { return }
        if !headSeen { scan(unwrapInboundIn(data)) }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if lingering {
            context.read()
            return
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if lingering, case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        context.close(mode: mode, promise: promise)
        guard mode == .output, !lingering else { return }
        lingering = true
        headerDeadline?.cancel()
        lingerDeadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: Self.linger) { context.close(promise: nil) }
        context.read()
    }

    private func startHeaderDeadline(_ context: ChannelHandlerContext) {
        guard let readHeaderTimeout, headerDeadline == nil, !headSeen else { return }
        headerDeadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: readHeaderTimeout) { [weak self] in
            guard let self, !self.headSeen else { return }
            context.close(promise: nil)
        }
    }

    private func scan(_ bytes: ByteBuffer) {
        for b in bytes.readableBytesView {
            switch b {
            case 0x0A:
                lineFeeds += 1
                if lineFeeds == 2 {
                    headSeen = true
                    headerDeadline?.cancel()
                    headerDeadline = nil
                    return
                }
            case 0x0D: continue
            default: lineFeeds = 0
            }
        }
    }

    private func cancelDeadlines() {
        headerDeadline?.cancel()
        headerDeadline = nil
        lingerDeadline?.cancel()
        lingerDeadline = nil
    }
}
