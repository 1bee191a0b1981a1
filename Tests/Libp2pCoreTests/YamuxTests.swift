import ClusterTestKit
import Testing
@testable import Libp2pCore

@Suite struct YamuxTests {
    @Test("headers encode as py-libp2p packs them and decode back")
    func headerVectors() throws {
        let types: [String: YamuxHeader.FrameType] = ["data": .data, "windowUpdate": .windowUpdate, "ping": .ping, "goAway": .goAway]
        for v in Libp2pVectors.shared.yamux {
            let h = YamuxHeader(type: types[v.type]!, flags: .init(rawValue: v.flags), streamID: v.stream, length: v.length)
            var out: [UInt8] = []
            h.encode(into: &out)
            #expect(Hex.string(out) == v.encoded)
            #expect(try YamuxHeader.decode(out, at: 0) == h)
        }
    }

    /// Delivers everything each side queued to the other until both are quiet.
    static func pump(_ a: inout YamuxSession, _ b: inout YamuxSession, chunk: Int = 1 << 30) -> (a: [YamuxEvent], b: [YamuxEvent]) {
        var ea: [YamuxEvent] = [], eb: [YamuxEvent] = []
        while a.hasOutbound || b.hasOutbound {
            let toB = a.takeOutbound(), toA = b.takeOutbound()
            for i in stride(from: 0, to: toB.count, by: chunk) { eb += b.receive(Array(toB[i..<min(i + chunk, toB.count)])) }
            for i in stride(from: 0, to: toA.count, by: chunk) { ea += a.receive(Array(toA[i..<min(i + chunk, toA.count)])) }
        }
        return (ea, eb)
    }

    @Test("a stream opens, carries data both ways, half-closes both ways and is forgotten, fed byte by byte")
    func streamLifecycle() {
        var d = YamuxSession(isDialer: true), l = YamuxSession(isDialer: false)
        let id = d.openStream()!
        #expect(id == 1)
        #expect(d.write(id, [1, 2, 3]) == 3)
        var (_, el) = Self.pump(&d, &l, chunk: 1)
        #expect(el.first == .opened(1))
        #expect(el.contains(.data(1, [1])) && el.contains(.data(1, [3])) || el.contains(.data(1, [1, 2, 3])))
        #expect(l.write(id, [9]) == 1)
        l.closeWrite(id)
        let (ed, _) = Self.pump(&d, &l)
        #expect(ed == [.data(1, [9]), .remoteClosed(1)])
        d.closeWrite(id)
        (_, el) = Self.pump(&d, &l)
        #expect(el == [.remoteClosed(1)])
        #expect(d.streamCount == 0 && l.streamCount == 0)
    }

    @Test("writes stop at the 256 KiB window and resume when the reader consumes half of it")
    func flowControl() {
        var d = YamuxSession(isDialer: true), l = YamuxSession(isDialer: false)
        let id = d.openStream()!
        let big = [UInt8](repeating: 5, count: 300 * 1024)
        #expect(d.write(id, big) == Int(YamuxSession.initialWindow))
        #expect(d.write(id, big, from: Int(YamuxSession.initialWindow)) == 0)
        var (_, el) = Self.pump(&d, &l)
        let received = el.reduce(0) { if case .data(_, let b) = $1 { $0 + b.count } else { $0 } }
        #expect(received == Int(YamuxSession.initialWindow))
        l.consumed(id, Int(YamuxSession.initialWindow / 2) - 1)
        #expect(!l.hasOutbound)
        l.consumed(id, 1)
        let (ed, _) = Self.pump(&d, &l)
        #expect(ed == [.windowGranted(id)])
        #expect(d.sendWindow(of: id) == Int(YamuxSession.initialWindow / 2))
        el = []
        _ = el
    }

    @Test("a peer that sends beyond its window, an unknown type or version, or a stream of our parity closes the session with go-away")
    func protocolErrors() {
        var over: [UInt8] = []
        YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).encode(into: &over)
        YamuxHeader(type: .data, streamID: 1, length: YamuxSession.initialWindow).encode(into: &over)
        over += [UInt8](repeating: 0, count: Int(YamuxSession.initialWindow))
        YamuxHeader(type: .data, streamID: 1, length: 1).encode(into: &over)
        over += [0]
        let cases: [[UInt8]] = [over, [0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], [0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0],
                                [0, 0, 0, 0, 0, 0, 0, 1, 0, 4, 0, 1]]
        for bytes in cases {
            var l = YamuxSession(isDialer: false)
            let events = l.receive(bytes)
            guard case .failed = events.last else { Issue.record("accepted \(bytes.prefix(12))"); continue }
            #expect(l.takeOutbound().suffix(12) == [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
            #expect(l.receive([0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]).isEmpty)
        }
    }

    @Test("the stream limit admits exactly maxStreams and answers the next SYN with RST")
    func streamLimit() {
        var d = YamuxSession(isDialer: true, limits: .init(maxStreams: 1000)), l = YamuxSession(isDialer: false, limits: .init(maxStreams: 3))
        for _ in 0..<4 { _ = d.openStream()! }
        let (ed, el) = Self.pump(&d, &l)
        #expect(el == [.opened(1), .opened(3), .opened(5)])
        #expect(ed == [.reset(7)])
        var small = YamuxSession(isDialer: true, limits: .init(maxStreams: 2))
        #expect(small.openStream() != nil && small.openStream() != nil)
        #expect(small.openStream() == nil)
    }

    @Test("a ping is answered with the same value; go-away stops new streams; RST reaches the other side")
    func pingGoAwayReset() {
        var d = YamuxSession(isDialer: true), l = YamuxSession(isDialer: false)
        d.ping(0xdead_beef)
        var (ed, _) = Self.pump(&d, &l)
        #expect(ed == [.pong(0xdead_beef)])
        let id = d.openStream()!
        _ = Self.pump(&d, &l)
        l.reset(id)
        (ed, _) = Self.pump(&d, &l)
        #expect(ed == [.reset(id)])
        l.goAway()
        (ed, _) = Self.pump(&d, &l)
        #expect(ed == [.goAway(0)])
        #expect(d.openStream() == nil)
    }

    @Test("frames for a stream already gone are ignored")
    func unknownStream() {
        var l = YamuxSession(isDialer: false)
        var bytes: [UInt8] = []
        YamuxHeader(type: .data, streamID: 9, length: 2).encode(into: &bytes)
        bytes += [1, 2]
        YamuxHeader(type: .windowUpdate, flags: .fin, streamID: 9, length: 10).encode(into: &bytes)
        #expect(l.receive(bytes).isEmpty)
        #expect(!l.isFailed)
    }
}
