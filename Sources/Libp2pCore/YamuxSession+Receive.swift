/// What ``YamuxSession/receive(contentsOf:)`` reports, in order: events, and data as ranges of
/// the bytes given (so a shell can hand them on without copying).
public enum YamuxInput: Sendable, Equatable {
    case event(YamuxEvent)
    /// Payload of stream `id` at this range of the bytes given. A data frame may arrive in
    /// several pieces, each reported as it comes.
    case data(UInt32, Range<Int>)
}

extension YamuxSession {
    /// Takes the peer's next bytes; returns what happened, in order, data copied into arrays.
    public mutating func receive(_ bytes: [UInt8]) -> [YamuxEvent] {
        bytes.withUnsafeBytes { raw in
            receive(contentsOf: raw).map { input in
                switch input {
                case .event(let e): e
                case .data(let id, let range): .data(id, Array(raw[range]))
                }
            }
        }
    }

    /// Takes the peer's next bytes; returns what happened, in order. Headers split across calls
    /// are kept (12 bytes at most); payloads are reported piece by piece, never buffered.
    public mutating func receive(contentsOf chunk: UnsafeRawBufferPointer) -> [YamuxInput] {
        guard !isFailed else { return [] }
        var out: [YamuxInput] = []
        var at = 0
        while at < chunk.count {
            if var p = payload {
                let n = min(p.remaining, chunk.count - at)
                if p.deliver { out.append(.data(p.id, at..<(at + n))) }
                at += n
                p.remaining -= n
                payload = p.remaining > 0 ? p : nil
                if p.remaining == 0, p.fin { remoteFinished(p.id, into: &out) }
                continue
            }
            let header: YamuxHeader
            do {
                if partialHeader.isEmpty, chunk.count - at >= YamuxHeader.size {
                    header = try YamuxHeader.decode(UnsafeRawBufferPointer(rebasing: chunk[at..<(at + YamuxHeader.size)]))
                    at += YamuxHeader.size
                } else {
                    let n = min(YamuxHeader.size - partialHeader.count, chunk.count - at)
                    partialHeader += chunk[at..<(at + n)]
                    at += n
                    guard partialHeader.count == YamuxHeader.size else { break }
                    header = try YamuxHeader.decode(partialHeader, at: 0)
                    partialHeader.removeAll(keepingCapacity: true)
                }
            } catch {
                return out + [.event(fail(error))]
            }
            if let error = handle(header, into: &out) { return out + [.event(fail(error))] }
        }
        return out
    }

    private mutating func fail(_ error: Libp2pProtocolError) -> YamuxEvent {
        if !localWentAway { frame(.goAway, [], 0, YamuxHeader.GoAwayCode.protocolError.rawValue) }
        localWentAway = true
        isFailed = true
        streams = [:]
        partialHeader = []
        payload = nil
        return .failed(error)
    }

    private mutating func handle(_ h: YamuxHeader, into out: inout [YamuxInput]) -> Libp2pProtocolError? {
        switch h.type {
        case .ping:
            if h.flags.contains(.syn) {
                frame(.ping, [.ack], 0, h.length)
            } else if h.flags.contains(.ack) {
                out.append(.event(.pong(h.length)))
            }
            return nil
        case .goAway:
            remoteWentAway = true
            out.append(.event(.goAway(h.length)))
            return nil
        case .data, .windowUpdate:
            guard h.streamID != 0 else {
                return Libp2pProtocolError(.protocolViolation, "yamux \(h.type) frame on stream 0")
            }
            if h.type == .data, h.length > limits.receiveWindow {
                return Libp2pProtocolError(.tooLarge, "yamux data frame of \(h.length) bytes exceeds the \(limits.receiveWindow)-byte window")
            }
            return handleStreamFrame(h, into: &out)
        }
    }

    private mutating func handleStreamFrame(_ h: YamuxHeader, into out: inout [YamuxInput]) -> Libp2pProtocolError? {
        let id = h.streamID
        let payloadLength = h.type == .data ? Int(h.length) : 0
        if h.flags.contains(.syn) {
            if let error = acceptSyn(id, into: &out) { return error }
        }
        guard var s = streams[id] else { return skip(id, payloadLength) }
        if h.flags.contains(.rst) {
            streams[id] = nil
            out.append(.event(.reset(id)))
            return skip(id, payloadLength)
        }
        if h.type == .windowUpdate {
            if h.length > 0 {
                let (sum, overflow) = s.sendWindow.addingReportingOverflow(h.length)
                guard !overflow else { return Libp2pProtocolError(.protocolViolation, "yamux window of stream \(id) overflows 32 bits") }
                s.sendWindow = sum
                out.append(.event(.windowGranted(id)))
            }
        } else if h.length > 0 {
            guard h.length <= s.receiveWindow else {
                return Libp2pProtocolError(.protocolViolation, "yamux peer sent \(h.length) bytes on stream \(id) with a window of \(s.receiveWindow)")
            }
            guard !s.remoteClosed else {
                return Libp2pProtocolError(.protocolViolation, "yamux peer sent data on stream \(id) after closing it")
            }
            s.receiveWindow -= h.length
            streams[id] = s
            payload = Payload(id: id, remaining: payloadLength, deliver: true, fin: h.flags.contains(.fin))
            return nil
        }
        streams[id] = s
        if h.flags.contains(.fin) { remoteFinished(id, into: &out) }
        return nil
    }

    /// The payload of a frame for a stream gone (or reset) is read past, not delivered.
    private mutating func skip(_ id: UInt32, _ length: Int) -> Libp2pProtocolError? {
        if length > 0 { payload = Payload(id: id, remaining: length, deliver: false, fin: false) }
        return nil
    }

    /// The peer's FIN on `id`, after any payload of its frame.
    private mutating func remoteFinished(_ id: UInt32, into out: inout [YamuxInput]) {
        guard var s = streams[id], !s.remoteClosed else { return }
        s.remoteClosed = true
        out.append(.event(.remoteClosed(id)))
        store(id, s)
    }

    /// A new inbound stream; refused with RST beyond the limit or after go-away. The ACK grants
    /// the window beyond the initial 256 KiB that ``Limits/receiveWindow`` allows.
    private mutating func acceptSyn(_ id: UInt32, into out: inout [YamuxInput]) -> Libp2pProtocolError? {
        guard (id % 2 == 1) != isDialer else {
            return Libp2pProtocolError(.protocolViolation, "yamux peer opened stream \(id), an ID of this side's parity")
        }
        guard streams[id] == nil else {
            return Libp2pProtocolError(.protocolViolation, "yamux peer opened stream \(id) twice")
        }
        guard streams.count < limits.maxStreams, !localWentAway else {
            frame(.windowUpdate, [.rst], id, 0)
            return nil
        }
        streams[id] = Stream(receiveWindow: limits.receiveWindow)
        frame(.windowUpdate, [.ack], id, limits.receiveWindow - YamuxSession.initialWindow)
        out.append(.event(.opened(id)))
        return nil
    }
}
