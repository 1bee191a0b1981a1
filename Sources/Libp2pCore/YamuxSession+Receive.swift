extension YamuxSession {
    /// Takes the peer's next bytes; returns what happened, in order.
    public mutating func receive(_ bytes: [UInt8]) -> [YamuxEvent] {
        guard !isFailed else { return [] }
        inbound += bytes
        var events: [YamuxEvent] = []
        while inbound.count - inboundOffset >= YamuxHeader.size {
            let header: YamuxHeader
            do {
                header = try YamuxHeader.decode(inbound, at: inboundOffset)
            } catch {
                return events + [fail(error)]
            }
            var payloadLength = 0
            if header.type == .data {
                guard header.length <= YamuxSession.initialWindow else {
                    return events + [fail(Libp2pProtocolError(.tooLarge, "yamux data frame of \(header.length) bytes exceeds the \(YamuxSession.initialWindow)-byte window"))]
                }
                payloadLength = Int(header.length)
                guard inbound.count - inboundOffset - YamuxHeader.size >= payloadLength else { break }
            }
            let start = inboundOffset + YamuxHeader.size
            inboundOffset = start + payloadLength
            if let error = handle(header, payloadStart: start, into: &events) {
                return events + [fail(error)]
            }
        }
        compactInbound()
        return events
    }

    private mutating func compactInbound() {
        if inboundOffset == inbound.count {
            inbound.removeAll(keepingCapacity: true)
            inboundOffset = 0
        } else if inboundOffset > 0 {
            inbound.removeFirst(inboundOffset)
            inboundOffset = 0
        }
    }

    private mutating func fail(_ error: Libp2pProtocolError) -> YamuxEvent {
        if !localWentAway { frame(.goAway, [], 0, YamuxHeader.GoAwayCode.protocolError.rawValue) }
        localWentAway = true
        isFailed = true
        streams = [:]
        inbound = []
        inboundOffset = 0
        return .failed(error)
    }

    private mutating func handle(_ h: YamuxHeader, payloadStart: Int, into events: inout [YamuxEvent]) -> Libp2pProtocolError? {
        switch h.type {
        case .ping:
            if h.flags.contains(.syn) {
                frame(.ping, [.ack], 0, h.length)
            } else if h.flags.contains(.ack) {
                events.append(.pong(h.length))
            }
            return nil
        case .goAway:
            remoteWentAway = true
            events.append(.goAway(h.length))
            return nil
        case .data, .windowUpdate:
            guard h.streamID != 0 else {
                return Libp2pProtocolError(.protocolViolation, "yamux \(h.type) frame on stream 0")
            }
            return handleStreamFrame(h, payloadStart: payloadStart, into: &events)
        }
    }

    private mutating func handleStreamFrame(_ h: YamuxHeader, payloadStart: Int, into events: inout [YamuxEvent]) -> Libp2pProtocolError? {
        let id = h.streamID
        if h.flags.contains(.syn) {
            if let error = acceptSyn(id, into: &events) { return error }
        }
        guard var s = streams[id] else { return nil }
        if h.flags.contains(.rst) {
            streams[id] = nil
            events.append(.reset(id))
            return nil
        }
        if h.type == .windowUpdate {
            if h.length > 0 {
                let (sum, overflow) = s.sendWindow.addingReportingOverflow(h.length)
                guard !overflow else { return Libp2pProtocolError(.protocolViolation, "yamux window of stream \(id) overflows 32 bits") }
                s.sendWindow = sum
                events.append(.windowGranted(id))
            }
        } else if h.length > 0 {
            guard h.length <= s.receiveWindow else {
                return Libp2pProtocolError(.protocolViolation, "yamux peer sent \(h.length) bytes on stream \(id) with a window of \(s.receiveWindow)")
            }
            guard !s.remoteClosed else {
                return Libp2pProtocolError(.protocolViolation, "yamux peer sent data on stream \(id) after closing it")
            }
            s.receiveWindow -= h.length
            events.append(.data(id, Array(inbound[payloadStart..<(payloadStart + Int(h.length))])))
        }
        if h.flags.contains(.fin), !s.remoteClosed {
            s.remoteClosed = true
            events.append(.remoteClosed(id))
        }
        store(id, s)
        return nil
    }

    /// A new inbound stream; refused with RST beyond the limit or after go-away.
    private mutating func acceptSyn(_ id: UInt32, into events: inout [YamuxEvent]) -> Libp2pProtocolError? {
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
        streams[id] = Stream()
        frame(.windowUpdate, [.ack], id, 0)
        events.append(.opened(id))
        return nil
    }
}
