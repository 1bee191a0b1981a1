import ClusterTestKit
import Multiformats
import Sodium
import Testing
@testable import SecureChannel

/// Two handshake instances wired back to back.
struct Pair {
    var initiator: HandshakeInstance
    var responder: HandshakeInstance
    let initiatorID: PeerID
    let responderID: PeerID

    init(secretI: [UInt8] = [UInt8](repeating: 1, count: 32), secretR: [UInt8] = [UInt8](repeating: 1, count: 32), expect: PeerID?? = nil) {
        let ki = try! Ed25519.PrivateKey(seed: [UInt8](repeating: 3, count: 32))
        let kr = try! Ed25519.PrivateKey(seed: [UInt8](repeating: 4, count: 32))
        initiatorID = try! PeerID(ed25519PublicKey: ki.publicKey.bytes)
        responderID = try! PeerID(ed25519PublicKey: kr.publicKey.bytes)
        initiator = HandshakeInstance(
            role: .initiator(expected: expect ?? responderID),
            settings: HandshakeSettings(clusterSecret: SecureBytes(secretI), identity: ki), now: .zero)
        responder = HandshakeInstance(
            role: .responder, settings: HandshakeSettings(clusterSecret: SecureBytes(secretR), identity: kr), now: .zero)
    }

    static func sent(_ actions: [HandshakeInstance.Action]) -> [UInt8]? {
        for a in actions { if case .send(let b) = a { return Array(b.dropFirst(2)) } }
        return nil
    }

    static func established(_ actions: [HandshakeInstance.Action]) -> SecureSession? {
        for a in actions { if case .established(let s) = a { return s } }
        return nil
    }

    static func failure(_ actions: [HandshakeInstance.Action]) -> SecureChannelError? {
        for a in actions { if case .failed(let e) = a { return e } }
        return nil
    }

    /// Runs the handshake; `tamper` may change message n (0-based) in flight.
    mutating func run(tamper: ((Int, inout [UInt8]) -> Void)? = nil) -> (SecureSession?, SecureSession?, SecureChannelError?) {
        var m1 = Pair.sent(initiator.start())!
        tamper?(0, &m1)
        let a2 = responder.onMessage(m1, now: .milliseconds(1))
        guard var m2 = Pair.sent(a2) else { return (nil, nil, Pair.failure(a2)) }
        tamper?(1, &m2)
        let a3 = initiator.onMessage(m2, now: .milliseconds(2))
        guard var m3 = Pair.sent(a3), let si = Pair.established(a3) else { return (nil, nil, Pair.failure(a3)) }
        tamper?(2, &m3)
        let a4 = responder.onMessage(m3, now: .milliseconds(3))
        guard let sr = Pair.established(a4) else { return (si, nil, Pair.failure(a4)) }
        return (si, sr, nil)
    }
}

@Suite struct HandshakeTests {
    @Test func peersAgreeOnKeysAndLearnEachOther() throws {
        var p = Pair()
        let (si, sr, error) = p.run()
        #expect(error == nil)
        let i = try #require(si), r = try #require(sr)
        #expect(i.peer == p.responderID && r.peer == p.initiatorID)
        #expect(i.sendKey == r.receiveKey && i.receiveKey == r.sendKey && i.sendKey != i.receiveKey)
        #expect(i.handshakeHash == r.handshakeHash)
        #expect(i.cipher == r.cipher && i.cipher == RecordCipher.local[0])
        #expect(i.localDatagramID == r.remoteDatagramID && r.localDatagramID == i.remoteDatagramID)
        #expect(i.datagramKeys.send == r.datagramKeys.receive)
    }

    @Test func wrongSecretFailsAtTheFirstMessage() {
        var p = Pair(secretR: [UInt8](repeating: 2, count: 32))
        let (_, _, error) = p.run()
        #expect(error?.code == .authenticationFailed)
    }

    @Test func wrongExpectedPeerIsRefused() throws {
        let other = try PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes)
        var p = Pair(expect: .some(other))
        let (_, _, error) = p.run()
        #expect(error?.code == .unexpectedPeer)
        #expect(error?.message.contains(other.description) == true)
    }

    @Test func tamperingWithAnyByteOfAnyMessageIsDetected() {
        for message in 0..<3 {
            let length = message == 0 ? 50 : (message == 1 ? 32 + 48 + HandshakePayloads.Identity.size + 16 : 48 + HandshakePayloads.Identity.size + 16)
            for index in 0..<length {
                var p = Pair()
                let (si, sr, error) = p.run { n, bytes in
                    if n == message && index < bytes.count { bytes[index] ^= 0x01 }
                }
                #expect(error != nil && sr == nil, "message \(message) byte \(index): tampering went unnoticed")
                if message < 2 { #expect(si == nil) }
            }
        }
    }

    @Test func replayedFirstMessageIsRefusedByANewResponder() {
        var first = Pair()
        let m1 = Pair.sent(first.initiator.start())!
        _ = first.responder.onMessage(m1, now: .milliseconds(1))
        // The same message 1 replayed to another responder gets a message 2 the attacker cannot
        // use; replaying message 3 of another run fails authentication.
        var second = Pair()
        let a2 = second.responder.onMessage(m1, now: .milliseconds(1))
        #expect(Pair.sent(a2) != nil)
        var third = Pair()
        _ = third.run()
        var fourth = Pair()
        _ = fourth.responder.onMessage(Pair.sent(fourth.initiator.start())!, now: .milliseconds(1))
        var captured: [UInt8] = []
        var fifth = Pair()
        _ = fifth.run { n, bytes in if n == 2 { captured = bytes } }
        let replay = fourth.responder.onMessage(captured, now: .milliseconds(2))
        #expect(Pair.failure(replay)?.code == .authenticationFailed)
    }

    @Test func deadlineAndOutOfOrderMessages() {
        var p = Pair()
        _ = p.initiator.start()
        #expect(p.initiator.onTick(now: .seconds(4)).isEmpty)
        #expect(Pair.failure(p.initiator.onTick(now: .seconds(6)))?.code == .timeout)
        var q = Pair()
        let m1 = Pair.sent(q.initiator.start())!
        #expect(Pair.failure(q.initiator.onMessage(m1, now: .zero))?.code != nil)
        var r = Pair()
        #expect(Pair.failure(r.responder.onMessage([1, 2, 3], now: .zero))?.code == .malformed)
        var s = Pair()
        let late = s.responder.onMessage(Pair.sent(s.initiator.start())!, now: .seconds(10))
        #expect(Pair.failure(late)?.code == .timeout)
    }

    @Test func frameDecoderSplitsMessagesAndKeepsTheRemainder() {
        var d = HandshakeFrameDecoder()
        d.feed([0, 3, 1, 2])
        #expect(d.next() == nil)
        d.feed([3, 0, 0, 0, 1, 9, 7, 7])
        #expect(d.next() == [1, 2, 3])
        #expect(d.next() == [])
        #expect(d.next() == [9])
        #expect(d.takeRemainder() == [7, 7])
    }
}
