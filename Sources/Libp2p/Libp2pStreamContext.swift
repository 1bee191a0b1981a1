import NIOCore
import Libp2pCore

/// One yamux stream's state on its connection's event loop: the negotiation, received bytes
/// not yet read, the read waiting for them, and writes waiting for window.
///
/// Touched only on `connection.eventLoop`; the `Libp2pStream` that holds it hops there.
final class Libp2pStreamContext: @unchecked Sendable {
    enum Phase {
        case negotiating(MultistreamSelect, EventLoopPromise<String>?)
        case open
    }

    struct PendingWrite {
        let bytes: [UInt8]
        var offset: Int
        let promise: EventLoopPromise<Void>
    }

    let id: UInt32
    /// Strong: the connection drops its streams when it closes, which breaks the cycle.
    let connection: Libp2pConnection
    var phase: Phase
    /// Slices of opened Noise frames, in arrival order.
    var received: [ByteBuffer] = []
    var receivedBytes: Int { received.reduce(0) { $0 + $1.readableBytes } }
    var remoteClosed = false
    var localClosed = false
    var failure: Libp2pError?
    /// The application dropped the stream after closing its side.
    var released = false
    var waitingRead: EventLoopPromise<[UInt8]?>?
    var pendingWrites: [PendingWrite] = []

    init(id: UInt32, connection: Libp2pConnection, phase: Phase) {
        self.id = id
        self.connection = connection
        self.phase = phase
    }

    var isFinished: Bool { failure != nil || (remoteClosed && localClosed) }

    /// Ends the stream with `error`: a waiting read and every waiting write fail.
    func fail(_ error: Libp2pError) {
        guard failure == nil else { return }
        failure = error
        waitingRead?.fail(error)
        waitingRead = nil
        for w in pendingWrites { w.promise.fail(error) }
        pendingWrites = []
        if case .negotiating(_, let promise) = phase { promise?.fail(error) }
    }
}
