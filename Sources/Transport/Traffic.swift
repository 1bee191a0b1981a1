import NIOConcurrencyHelpers
import NIOCore

/// Bytes a transport moved, as they crossed its sockets (records and datagrams, sealed).
public struct TrafficTotals: Sendable, Equatable {
    public var tcpIn: UInt64 = 0
    public var tcpOut: UInt64 = 0
    public var udpIn: UInt64 = 0
    public var udpOut: UInt64 = 0
    public init() {}
}

/// Counts the bytes of every connection's reads and writes (shared by the connections).
final class TrafficCounter: Sendable {
    let totals = NIOLockedValueBox(TrafficTotals())
}

/// The first handler of a connection's pipeline: counts bytes read and written.
final class ByteCounter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let counter: TrafficCounter

    init(_ counter: TrafficCounter) { self.counter = counter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let n = UInt64(unwrapInboundIn(data).readableBytes)
        counter.totals.withLockedValue { $0.tcpIn += n }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let n = UInt64(unwrapOutboundIn(data).readableBytes)
        counter.totals.withLockedValue { $0.tcpOut += n }
        context.write(data, promise: promise)
    }
}
