/// A yamux 1.0.0 session (hashicorp's spec) as a pure state machine: bytes in, events out,
/// frames to send collected in ``takeOutbound()``.
///
/// - Stream IDs: odd for the dialer (client), even for the listener; 0 is the session.
/// - Every stream starts with the spec's 256 KiB window each way; our side grants the peer
///   ``Limits/receiveWindow`` at once (the SYN or ACK carries the difference). Received data
///   shrinks the window; it is granted back (one window update) once the application has
///   consumed half of ``Limits/receiveWindow`` (``consumed(_:_:)``). A peer that sends more
///   than its window is a protocol error.
/// - Received payloads are reported as they arrive, piece by piece (``receive(contentsOf:)``);
///   only a split 12-byte header is buffered.
/// - At most ``Limits/maxStreams`` streams at once: an inbound SYN beyond it is answered RST.
/// - A SYN ping is answered with an ACK ping of the same value; go-away received stops new
///   outbound streams; a protocol error (unknown type or version, window overrun, bad stream
///   ID) sends go-away(protocol error) and ends the session (``YamuxEvent/failed(_:)``).
/// - Frames for streams already gone are ignored (their data still counts against the limit).
public struct YamuxSession: Sendable {
    public static let protocolID = "/yamux/1.0.0"
    public static let initialWindow: UInt32 = 256 * 1024
    /// The largest data payload per frame: a header and payload fit one Noise frame.
    public static let maxDataFrame = 65519 - YamuxHeader.size

    public struct Limits: Sendable {
        public var maxStreams: Int
        /// The window each stream grants its peer, at least ``YamuxSession/initialWindow``: the
        /// most a stream holds unread, and the largest data frame accepted.
        public var receiveWindow: UInt32
        public init(maxStreams: Int = 256, receiveWindow: UInt32 = YamuxSession.initialWindow) {
            self.maxStreams = maxStreams
            self.receiveWindow = max(receiveWindow, YamuxSession.initialWindow)
        }
    }

    struct Stream: Sendable {
        var sendWindow: UInt32 = YamuxSession.initialWindow
        var receiveWindow: UInt32
        var consumedUnacked: UInt32 = 0
        var localClosed = false
        var remoteClosed = false
        var needsAck = false

        init(receiveWindow: UInt32) { self.receiveWindow = receiveWindow }
    }

    /// The data frame whose payload is arriving.
    struct Payload: Sendable {
        var id: UInt32
        var remaining: Int
        /// False for a stream gone: the payload is read past.
        var deliver: Bool
        var fin: Bool
    }

    public let isDialer: Bool
    public let limits: Limits
    var streams: [UInt32: Stream] = [:]
    var nextStreamID: UInt32
    var outbound: [UInt8] = []
    var partialHeader: [UInt8] = []
    var payload: Payload?
    public internal(set) var remoteWentAway = false
    public internal(set) var localWentAway = false
    public internal(set) var isFailed = false

    public init(isDialer: Bool, limits: Limits = Limits()) {
        self.isDialer = isDialer
        self.limits = limits
        nextStreamID = isDialer ? 1 : 2
    }

    /// The frames to send since the last call.
    public mutating func takeOutbound() -> [UInt8] {
        defer { outbound.removeAll(keepingCapacity: true) }
        return outbound
    }

    public var hasOutbound: Bool { !outbound.isEmpty }
    public var streamCount: Int { streams.count }

    /// Opens an outbound stream (SYN); nil when the stream limit is reached or the session is going away.
    public mutating func openStream() -> UInt32? {
        guard !isFailed, !remoteWentAway, !localWentAway, streams.count < limits.maxStreams, nextStreamID < UInt32.max - 2 else { return nil }
        let id = nextStreamID
        nextStreamID += 2
        streams[id] = Stream(receiveWindow: limits.receiveWindow)
        frame(.windowUpdate, [.syn], id, limits.receiveWindow - YamuxSession.initialWindow)
        return id
    }

    /// The bytes `id` may send now.
    public func sendWindow(of id: UInt32) -> Int { streams[id].map { Int($0.sendWindow) } ?? 0 }

    /// Sends as much of `bytes[offset...]` as the window allows; returns how many bytes went.
    public mutating func write(_ id: UInt32, _ bytes: [UInt8], from offset: Int = 0) -> Int {
        var sent = 0
        while offset + sent < bytes.count, let h = dataFrame(id, upTo: bytes.count - offset - sent) {
            h.encode(into: &outbound)
            outbound.append(contentsOf: bytes[(offset + sent)..<(offset + sent + Int(h.length))])
            sent += Int(h.length)
        }
        return sent
    }

    /// Takes window for one data frame of `id` with up to `count` bytes (at most
    /// ``maxDataFrame``) and returns its header, for a shell that writes the payload itself
    /// right after it. Frames already queued (``takeOutbound()``) must go first. Nil when the
    /// window is exhausted or the stream cannot send.
    public mutating func dataFrame(_ id: UInt32, upTo count: Int) -> YamuxHeader? {
        guard !isFailed, count > 0, var s = streams[id], !s.localClosed, s.sendWindow > 0 else { return nil }
        let n = min(count, Int(s.sendWindow), YamuxSession.maxDataFrame)
        let header = YamuxHeader(type: .data, flags: flags(&s), streamID: id, length: UInt32(n))
        s.sendWindow -= UInt32(n)
        streams[id] = s
        return header
    }

    /// Records that the application consumed `count` received bytes of `id`; grants window back.
    public mutating func consumed(_ id: UInt32, _ count: Int) {
        guard !isFailed, var s = streams[id], !s.remoteClosed else { return }
        s.consumedUnacked += UInt32(min(count, Int(limits.receiveWindow)))
        if s.consumedUnacked >= limits.receiveWindow / 2 {
            frame(.windowUpdate, flags(&s), id, s.consumedUnacked)
            s.receiveWindow += s.consumedUnacked
            s.consumedUnacked = 0
        }
        streams[id] = s
    }

    /// Half-closes `id` (FIN).
    public mutating func closeWrite(_ id: UInt32) {
        guard !isFailed, var s = streams[id], !s.localClosed else { return }
        var f = flags(&s)
        f.insert(.fin)
        frame(.windowUpdate, f, id, 0)
        s.localClosed = true
        store(id, s)
    }

    /// Aborts `id` both ways (RST).
    public mutating func reset(_ id: UInt32) {
        guard !isFailed, streams.removeValue(forKey: id) != nil else { return }
        frame(.windowUpdate, [.rst], id, 0)
    }

    /// Sends a ping with `opaque`; the answer arrives as ``YamuxEvent/pong(_:)``.
    public mutating func ping(_ opaque: UInt32) {
        guard !isFailed else { return }
        frame(.ping, [.syn], 0, opaque)
    }

    /// Sends go-away: no new streams either way after this.
    public mutating func goAway(_ code: YamuxHeader.GoAwayCode = .normal) {
        guard !isFailed, !localWentAway else { return }
        localWentAway = true
        frame(.goAway, [], 0, code.rawValue)
    }

    // MARK: helpers

    mutating func frame(_ type: YamuxHeader.FrameType, _ flags: YamuxHeader.Flags, _ id: UInt32, _ length: UInt32) {
        YamuxHeader(type: type, flags: flags, streamID: id, length: length).encode(into: &outbound)
    }

    /// ACK on the first frame this side sends on an inbound stream.
    func flags(_ s: inout Stream) -> YamuxHeader.Flags {
        guard s.needsAck else { return [] }
        s.needsAck = false
        return [.ack]
    }

    /// Stores `s`, or forgets it once closed both ways.
    mutating func store(_ id: UInt32, _ s: Stream) {
        if s.localClosed && s.remoteClosed { streams[id] = nil } else { streams[id] = s }
    }
}

/// What a yamux session tells its application.
public enum YamuxEvent: Sendable, Equatable {
    /// The peer opened stream `id` (its SYN).
    case opened(UInt32)
    case data(UInt32, [UInt8])
    /// The peer half-closed `id` (FIN): no more data will come.
    case remoteClosed(UInt32)
    /// `id` was reset by the peer (RST).
    case reset(UInt32)
    /// The send window of `id` grew: pending writes may continue.
    case windowGranted(UInt32)
    case pong(UInt32)
    /// The peer sent go-away with this code: open no new streams.
    case goAway(UInt32)
    /// A protocol error: go-away was queued; close the connection after sending it.
    case failed(Libp2pProtocolError)
}
