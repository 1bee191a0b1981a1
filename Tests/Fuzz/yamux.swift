func fuzzYamux(_ bytes: [UInt8]) {
    // Arbitrary bytes to a listener and a dialer session, whole and in two pieces; whatever
    // they queue to send must be well-formed frames.
    for isDialer in [false, true] {
        var session = YamuxSession(isDialer: isDialer, limits: .init(maxStreams: 8))
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        for event in session.receive(Array(bytes[..<cut])) + session.receive(Array(bytes[cut...])) {
            if case .opened(let id) = event {
                fuzzCheck((id % 2 == 1) != isDialer, "opened a stream of this side's parity")
                _ = session.write(id, [1, 2, 3])
                session.consumed(id, 3)
            }
        }
        fuzzCheck(session.streamCount <= 8, "stream limit exceeded")
        let out = session.takeOutbound()
        var offset = 0
        while out.count - offset >= YamuxHeader.size {
            guard let h = try? YamuxHeader.decode(out, at: offset) else { return fuzzCheck(false, "queued an invalid frame") }
            offset += YamuxHeader.size + (h.type == .data ? Int(h.length) : 0)
        }
        fuzzCheck(offset == out.count, "queued a partial frame")
    }
}
