import Sodium
import Testing
@testable import Libp2pCore

/// The zero-copy entry points of the data path: frames sealed and opened where they lie, yamux
/// payloads reported as ranges, windows beyond the spec's 256 KiB.
@Suite struct DataPathTests {
    static func pair() -> (NoiseTransportCipher, NoiseTransportCipher) {
        (NoiseTransportCipher(send: SecureBytes([UInt8](repeating: 7, count: 32)), receive: SecureBytes([UInt8](repeating: 8, count: 32))),
         NoiseTransportCipher(send: SecureBytes([UInt8](repeating: 8, count: 32)), receive: SecureBytes([UInt8](repeating: 7, count: 32))))
    }

    @Test("a frame sealed in place equals the one seal(_:into:) makes, and opens in place and into another buffer; a flipped bit fails")
    func inPlaceFrames() throws {
        var (a, b) = Self.pair()
        var (a2, b2) = Self.pair()
        for count in [0, 1, 1000, NoiseTransportCipher.maxPlaintext] {
            let plain = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            var expected: [UInt8] = []
            a2.seal(plain, into: &expected)
            var frame = [UInt8](repeating: 0, count: 2) + plain + [UInt8](repeating: 0, count: AEAD.tagBytes)
            let size = frame.withUnsafeMutableBytes { a.sealFrameInPlace($0, plaintextCount: count) }
            #expect(size == count + 18 && frame == expected)
            var copy = frame
            let opened = try frame.withUnsafeMutableBytes { raw in
                try b.openFrame(UnsafeRawBufferPointer(rebasing: raw[2...]), into: UnsafeMutableRawBufferPointer(rebasing: raw[2..<(2 + count)]))
            }
            #expect(opened == count && Array(frame[2..<(2 + count)]) == plain)
            var out = [UInt8](repeating: 0, count: count)
            let opened2 = try copy.withUnsafeBytes { raw in
                try out.withUnsafeMutableBytes { try b2.openFrame(UnsafeRawBufferPointer(rebasing: raw[2...]), into: $0) }
            }
            #expect(opened2 == count && out == plain)
            copy[copy.count - 1] ^= 1
            var (_, fresh) = Self.pair()
            #expect(throws: Libp2pProtocolError.self) {
                try copy.withUnsafeBytes { raw in try out.withUnsafeMutableBytes { try fresh.openFrame(UnsafeRawBufferPointer(rebasing: raw[2...]), into: $0) } }
            }
        }
        #expect(throws: Libp2pProtocolError.self) {
            var short = [UInt8](repeating: 0, count: AEAD.tagBytes - 1)
            var out: [UInt8] = []
            _ = try short.withUnsafeMutableBytes { s in try out.withUnsafeMutableBytes { try b.openFrame(UnsafeRawBufferPointer(s), into: $0) } }
        }
    }

    @Test("a data frame's payload is reported piece by piece as its bytes arrive, with FIN after its last piece, and the ranges point into the bytes given")
    func payloadRanges() {
        var d = YamuxSession(isDialer: true), l = YamuxSession(isDialer: false)
        let id = d.openStream()!
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        #expect(d.write(id, data) == 1000)
        d.closeWrite(id)
        let wire = d.takeOutbound()
        var got: [UInt8] = [], events: [YamuxEvent] = []
        for cut in stride(from: 0, to: wire.count, by: 100) {
            let piece = Array(wire[cut..<min(cut + 100, wire.count)])
            piece.withUnsafeBytes { raw in
                for input in l.receive(contentsOf: raw) {
                    switch input {
                    case .data(let s, let range):
                        #expect(s == id && range.upperBound <= raw.count)
                        got += raw[range]
                    case .event(let e): events.append(e)
                    }
                }
            }
        }
        #expect(got == data)
        #expect(events == [.opened(id), .remoteClosed(id)])
    }

    @Test("a larger receive window is granted on SYN and ACK; the peer may then send it all, and one byte more is a protocol error")
    func largerWindow() {
        let window: UInt32 = 1 << 20
        var d = YamuxSession(isDialer: true, limits: .init(receiveWindow: window)), l = YamuxSession(isDialer: false, limits: .init(receiveWindow: window))
        let id = d.openStream()!
        _ = l.receive(d.takeOutbound())
        _ = d.receive(l.takeOutbound())
        #expect(d.sendWindow(of: id) == Int(window) && l.sendWindow(of: id) == Int(window))
        let big = [UInt8](repeating: 1, count: Int(window) + 1)
        #expect(d.write(id, big) == Int(window))
        let events = l.receive(d.takeOutbound())
        #expect(events.reduce(0) { if case .data(_, let b) = $1 { $0 + b.count } else { $0 } } == Int(window))
        #expect(!events.contains { if case .failed = $0 { true } else { false } })
        var over: [UInt8] = []
        YamuxHeader(type: .data, streamID: id, length: 1).encode(into: &over)
        over.append(0)
        #expect(l.receive(over).contains { if case .failed = $0 { true } else { false } })
        #expect(YamuxSession.Limits(receiveWindow: 1).receiveWindow == YamuxSession.initialWindow)
    }
}
