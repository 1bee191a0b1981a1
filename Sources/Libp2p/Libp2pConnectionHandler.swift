import NIOCore

/// The channel handler of one libp2p connection: socket bytes to ``Libp2pConnection``.
final class Libp2pConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let connection: Libp2pConnection

    init(connection: Libp2pConnection) { self.connection = connection }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { connection.start() }
    }

    func channelActive(context: ChannelHandlerContext) {
        connection.start()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.receive(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
