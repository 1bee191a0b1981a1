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

    func handler(_ method: String) -> Handler? { handlers.withLockedValue { $0[method] } }
    func oneWayHandler(_ method: String) -> OneWayBox? { oneWayHandlers.withLockedValue { $0[method] } }
}

/// Request/response calls over one secure connection, in both directions, many at once.
final class RPCHandler: ChannelDuplexHandler {
    typealias InboundIn = [UInt8]
    typealias InboundOut = Never
    typealias OutboundIn = RPCOutbound
    typealias OutboundOut = [UInt8]

    private var pending: [UInt64: (EventLoopPromise<[UInt8]>, Scheduled<Void>)] = [:]
    private var nextID: UInt64 = 1
    private var peer: PeerID?
    private let server: RPCServer
    private let logger: Logger
    /// Calls from the peer being served now; beyond `maxConcurrent` they are refused at once.
    private var serving = Set<UInt64>()
    private let maxConcurrent: Int

    init(server: RPCServer, maxConcurrent: Int, logger: Logger) {
        self.server = server
        self.maxConcurrent = maxConcurrent
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let session = event as? SecureSession { peer = session.peer }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let frame: RPCFrame
        do {
            frame = try RPCFrame(decoding: bytes)
        } catch {
            logger.warning("closing connection after a malformed RPC frame: \(error)")
            context.close(promise: nil)
            return
        }
        switch frame {
        case .request(let id, let method, let payload):
            guard let peer, let handler = server.handler(method) else {
                let reply = RPCFrame.error(id: id, message: "unknown method \(method)")
                context.writeAndFlush(wrapOutboundOut(reply.encoded()), promise: nil)
                return
            }
            guard serving.count < maxConcurrent, serving.insert(id).inserted else {
                let reply = RPCFrame.error(id: id, message: "busy: \(serving.count) calls from this peer in flight (limit \(maxConcurrent)); retry later")
                context.writeAndFlush(wrapOutboundOut(reply.encoded()), promise: nil)
                return
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
        }
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
            case .request, .message: break
            }
            context.write(wrapOutboundOut(frame.encoded()), promise: promise)
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
            context.write(wrapOutboundOut(RPCFrame.request(id: id, method: method, payload: payload).encoded()), promise: promise)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for (_, (promise, timer)) in pending {
            timer.cancel()
            promise.fail(TransportError(.connectionClosed, "connection to \(peer.map { "\($0)" } ?? "peer") closed before the answer"))
        }
        pending = [:]
        context.fireChannelInactive()
    }
}
