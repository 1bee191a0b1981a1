import Libp2pCore
import Logging
import Multiformats
import NIOCore

/// One TCP connection of the host: the handshake phases (multistream `/noise`, Noise,
/// multistream `/yamux/1.0.0`), then the yamux session and its streams.
///
/// - Every member is touched only on `eventLoop` (the channel's), so the state needs no lock.
/// - The whole handshake is bounded by the host's `dialTimeout`, inbound and outbound alike;
///   a peer that stalls or sends garbage is closed with the phase named in the error.
final class Libp2pConnection: @unchecked Sendable {
    enum Phase {
        case security(MultistreamSelect)
        case noise(Libp2pNoiseHandshake)
        case muxerSelect(MultistreamSelect)
        case muxed
        case closed
    }

    let channel: any Channel
    let eventLoop: any EventLoop
    let host: Libp2pHost
    let direction: Libp2pPeerInfo.Direction
    let remoteAddress: Multiaddr
    let expectedPeer: PeerID?
    /// Succeeds with the remote peer once the muxer is up.
    let ready: EventLoopPromise<PeerID>
    var phase: Phase = .closed
    var cipher: NoiseTransportCipher?
    var session: YamuxSession?
    var remotePeer: PeerID?
    var streams: [UInt32: Libp2pStreamContext] = [:]
    /// A Noise frame split across socket reads, until its last byte arrives.
    var partialFrame: ByteBuffer?
    private var deadline: Scheduled<Void>?
    private var isReady = false
    private var started = false
    private var readyDone = false

    /// When the handshake must be done.
    let handshakeDeadline: NIODeadline

    init(
        channel: any Channel, host: Libp2pHost, direction: Libp2pPeerInfo.Direction, remoteAddress: Multiaddr, expectedPeer: PeerID?,
        deadline: NIODeadline
    ) {
        handshakeDeadline = deadline
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.host = host
        self.direction = direction
        self.remoteAddress = remoteAddress
        self.expectedPeer = expectedPeer
        ready = channel.eventLoop.makePromise()
    }

    var phaseName: String {
        switch phase {
        case .security: "security negotiation (multistream /noise)"
        case .noise: "Noise handshake"
        case .muxerSelect: "muxer negotiation (multistream /yamux/1.0.0)"
        case .muxed: "yamux session"
        case .closed: "closed connection"
        }
    }

    /// Starts the handshake once the channel is active.
    func start() {
        guard !started else { return }
        started = true
        let timeout = host.settings.dialTimeout
        deadline = eventLoop.scheduleTask(deadline: handshakeDeadline) { [self] in
            fail(Libp2pError(.timeout, "\(describe()): the peer did not finish the \(phaseName) within \(timeout)"))
        }
        if direction == .outbound {
            let (select, first) = MultistreamSelect.initiator(proposing: [Libp2pNoiseHandshake.protocolID])
            phase = .security(select)
            sendRaw(first)
        } else {
            let (select, first) = MultistreamSelect.responder(supporting: [Libp2pNoiseHandshake.protocolID])
            phase = .security(select)
            sendRaw(first)
        }
    }

    /// "dial /ip4/…" or "connection from /ip4/…", for errors.
    func describe() -> String {
        direction == .outbound ? "dial \(remoteAddress)" : "connection from \(remoteAddress)"
    }

    /// Bytes from the socket.
    func receive(_ buffer: ByteBuffer) {
        switch phase {
        case .muxerSelect, .muxed: receiveSecured(buffer)
        case .closed: return
        default: receive(Array(buffer.readableBytesView))
        }
    }

    /// Bytes from the socket, or left over from a handshake phase.
    func receive(_ bytes: [UInt8]) {
        switch phase {
        case .security(var select):
            let outcome = select.receive(bytes)
            phase = .security(select)
            securityNegotiated(outcome)
        case .noise(var noise):
            let outcome = noise.receive(bytes)
            phase = .noise(noise)
            noiseProgressed(outcome)
        case .muxerSelect, .muxed:
            receiveSecured(ByteBuffer(bytes: bytes))
        case .closed:
            return
        }
    }

    func receivePlaintext(_ plain: [UInt8]) { receivePlaintext(ByteBuffer(bytes: plain)) }

    /// One opened Noise frame's plaintext.
    func receivePlaintext(_ plain: ByteBuffer) {
        switch phase {
        case .muxerSelect(var select):
            let outcome = select.receive(Array(plain.readableBytesView))
            phase = .muxerSelect(select)
            muxerNegotiated(outcome)
        case .muxed:
            let inputs = plain.withUnsafeReadableBytes { session!.receive(contentsOf: $0) }
            handle(inputs, in: plain)
            flushSession()
        default:
            return
        }
    }

    /// The muxer is up: the handshake deadline is cancelled and the host told.
    func becameReady(_ peer: PeerID) {
        deadline?.cancel()
        deadline = nil
        isReady = true
        host.connectionReady(self)
        readyDone = true
        ready.succeed(peer)
    }

    func sendRaw(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    func sendEncrypted(_ plain: [UInt8]) {
        guard !plain.isEmpty, cipher != nil else { return }
        var out = frameBuffer(plaintext: plain.count)
        appendFrames(to: &out, plain)
        channel.writeAndFlush(out, promise: nil)
    }

    /// Sends every frame the yamux session queued.
    func flushSession() {
        guard session?.hasOutbound == true else { return }
        sendEncrypted(session!.takeOutbound())
    }

    /// Closes the connection because of `error` (logged, and the dial fails with it).
    func fail(_ error: Libp2pError) {
        if case .closed = phase { return }
        host.logger.debug("libp2p connection closed", metadata: ["reason": "\(error.message)"])
        failReady(error)
        failStreams(error)
        phase = .closed
        channel.close(promise: nil)
    }

    private func failReady(_ error: Libp2pError) {
        guard !readyDone else { return }
        readyDone = true
        ready.fail(error)
    }

    deinit {
        failReady(Libp2pError(.dialFailed, "\(describe()): the connection never opened"))
    }

    /// The channel went inactive.
    func closed() {
        deadline?.cancel()
        let error = Libp2pError(.streamClosed, "the connection to \(remotePeer?.description ?? remoteAddress.description) closed")
        if case .closed = phase {} else {
            failReady(Libp2pError(.dialFailed, "\(describe()): the peer closed the connection during the \(phaseName)"))
        }
        phase = .closed
        failStreams(error)
        if isReady { host.connectionClosed(self) }
        isReady = false
    }

    private func failStreams(_ error: Libp2pError) {
        let all = streams.values
        streams = [:]
        for s in all { s.fail(error) }
    }
}
