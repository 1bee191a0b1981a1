import Logging
import Multiformats
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SecureChannel

/// Datagram state of one session: sealing towards the peer, opening from it, and where to send.
final class DatagramPeer: @unchecked Sendable {
    private let lock = NIOLock()
    private var sealer: DatagramSealer
    private var opener: DatagramOpener
    private var address: SocketAddress?
    let peer: PeerID
    let localID: UInt64

    init(session: SecureSession, address: SocketAddress?) {
        sealer = DatagramSealer(session: session)
        opener = DatagramOpener(session: session)
        self.address = address
        peer = session.peer
        localID = session.localDatagramID.reduce(0) { $0 << 8 | UInt64($1) }
    }

    var hasAddress: Bool { lock.withLock { address != nil } }

    func seal(_ payload: [UInt8]) throws -> ([UInt8], SocketAddress) {
        try lock.withLock {
            guard let address else {
                throw TransportError(.unreachable, "no datagram address for \(peer) yet (it has not sent one)")
            }
            return (try sealer.seal(payload), address)
        }
    }

    /// Opens a datagram; on success, replies go to `source` from now on (the peer may roam).
    func open(_ datagram: [UInt8], from source: SocketAddress) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        let payload = try opener.open(datagram)
        address = source
        return payload
    }
}

/// Receives datagrams on the transport's UDP socket and hands authenticated payloads on.
final class DatagramReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let lookup: @Sendable (UInt64) -> DatagramPeer?
    private let deliver: @Sendable (PeerID, [UInt8]) -> Void
    private let logger: Logger
    private let traffic: TrafficCounter

    init(
        traffic: TrafficCounter, lookup: @escaping @Sendable (UInt64) -> DatagramPeer?, deliver: @escaping @Sendable (PeerID, [UInt8]) -> Void,
        logger: Logger
    ) {
        self.traffic = traffic
        self.lookup = lookup
        self.deliver = deliver
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        let size = UInt64(envelope.data.readableBytes)
        traffic.totals.withLockedValue { $0.udpIn += size }
        guard let bytes = envelope.data.readBytes(length: envelope.data.readableBytes),
              let id = DatagramLayer.receiverID(bytes) else { return }
        // Unknown receiver ids are dropped without any cryptographic work.
        guard let peer = lookup(id.reduce(0) { $0 << 8 | UInt64($1) }) else { return }
        do {
            for message in try DatagramMessages.split(try peer.open(bytes, from: envelope.remoteAddress)) {
                deliver(peer.peer, message)
            }
        } catch {
            logger.trace("dropped datagram from \(envelope.remoteAddress): \(error)")
        }
    }
}
