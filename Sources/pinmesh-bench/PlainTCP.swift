import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The baseline for the transport's bulk figure: the same 4-byte length framing and the same
/// request/acknowledge pattern over plain TCP, with NIO channel handlers, no encryption.
enum PlainTCP {
    /// Server: answers every frame with a 4-byte empty frame.
    final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var need = 0
        /// Bytes of a length header split across reads.
        private var header: [UInt8] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            var acks = 0
            while buffer.readableBytes > 0 {
                if need == 0 {
                    // Assemble the 4-byte length, which may straddle reads.
                    let take = min(4 - header.count, buffer.readableBytes)
                    header += buffer.readBytes(length: take)!
                    guard header.count == 4 else { break }
                    need = header.reduce(0) { $0 << 8 | Int($1) }
                    header = []
                    if need == 0 { acks += 1; continue }
                }
                let n = min(need, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: n)
                need -= n
                if need == 0 { acks += 1 }
            }
            if acks > 0 {
                var out = context.channel.allocator.buffer(capacity: 4 * acks)
                for _ in 0..<acks { out.writeInteger(UInt32(0)) }
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        }
    }

    /// Client: keeps `concurrency` frames in flight until `total` frames are acknowledged.
    final class Pump: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let frame: ByteBuffer
        let total: Int
        let concurrency: Int
        var sent = 0
        var acked = 0
        var partial = 0
        let done: EventLoopPromise<Void>

        init(frame: ByteBuffer, total: Int, concurrency: Int, done: EventLoopPromise<Void>) {
            self.frame = frame
            self.total = total
            self.concurrency = concurrency
            self.done = done
        }

        func channelActive(context: ChannelHandlerContext) {
            while sent < min(concurrency, total) { send(context) }
            context.flush()
        }

        private func send(_ context: ChannelHandlerContext) {
            context.write(wrapOutboundOut(frame), promise: nil)
            sent += 1
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data).readableBytes + partial
            acked += bytes / 4
            partial = bytes % 4
            while sent < total && sent - acked < concurrency { send(context) }
            context.flush()
            if acked >= total { done.succeed(()) }
        }
    }

    static func throughput(client group: any EventLoopGroup, server serverGroup: any EventLoopGroup, bytes: Int, piece: Int, concurrency: Int) async throws -> Double {
        let server = try await ServerBootstrap(group: serverGroup)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Sink()) } }
            .bind(host: "127.0.0.1", port: 0).get()
        var frame = ByteBufferAllocator().buffer(capacity: piece + 4)
        frame.writeInteger(UInt32(piece))
        frame.writeBytes([UInt8](repeating: 0x42, count: piece))
        let total = bytes / piece
        let done = group.next().makePromise(of: Void.self)
        let start = ContinuousClock.now
        let client = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [frame] ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(Pump(frame: frame, total: total, concurrency: concurrency, done: done))
                }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        try await done.futureResult.get()
        let seconds = BenchClock.seconds(since: start)
        try await client.close()
        try await server.close()
        return Double(total * piece) / seconds / 1e6
    }
}
