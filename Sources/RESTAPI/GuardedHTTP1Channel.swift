import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 child channel with a ``ConnectionGuardHandler`` in front of its codec
/// (`read_header_timeout`, lingering close) and its own idle timer set (`idle_timeout`).
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let readHeaderTimeout: TimeAmount?

    /// The server builder: `readHeaderTimeout` and `idleTimeout` as ``RESTAPIServer/Settings`` say.
    static func builder(readHeaderTimeout: Duration?, idleTimeout: Duration?) -> HTTPServerBuilder {
        let header = readHeaderTimeout.map(Self.amount)
        let idle = idleTimeout.map(Self.amount)
        return HTTPServerBuilder { responder in
            GuardedHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idle)), readHeaderTimeout: header)
        }
    }

    static func amount(_ d: Duration) -> TimeAmount {
        let (s, atto) = d.components
        return .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let timeout = readHeaderTimeout
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuardHandler(readHeaderTimeout: timeout))
        }.flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async { await base.handle(value: value, logger: logger) }
}
