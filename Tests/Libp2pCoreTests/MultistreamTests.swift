import ClusterTestKit
import Testing
@testable import Libp2pCore

@Suite struct MultistreamTests {
    @Test("messages encode as py-libp2p encodes them and decode back")
    func vectors() throws {
        for v in Libp2pVectors.shared.multistream {
            #expect(Hex.string(MultistreamMessage.encode(v.text)) == v.encoded)
            let decoded = try #require(MultistreamMessage.decode(Hex.bytes(v.encoded))).get()
            #expect(decoded.text == v.text)
            #expect(decoded.end == v.encoded.count / 2)
        }
    }

    @Test("a message cut at any prefix asks for more bytes")
    func truncated() {
        let bytes = MultistreamMessage.encode("/" + String(repeating: "y", count: 200))
        for n in 0..<bytes.count { #expect(MultistreamMessage.decode(Array(bytes.prefix(n))) == nil) }
    }

    @Test("a message at the length limit is read and one byte over is refused")
    func lengthLimit() throws {
        let atLimit = String(repeating: "a", count: MultistreamMessage.maxLength - 1)
        #expect(try #require(MultistreamMessage.decode(MultistreamMessage.encode(atLimit))).get().text == atLimit)
        let over = MultistreamMessage.encode(atLimit + "a")
        guard case .failure(let e) = MultistreamMessage.decode(Array(over.prefix(3))) else { Issue.record("not refused"); return }
        #expect(e.code == .tooLarge)
    }

    @Test("a message without its newline, empty, not UTF-8 or with a padded varint is refused")
    func malformed() {
        for bad: [UInt8] in [[3, 0x61, 0x62, 0x63], [0], [2, 0xff, 0x0a], [0x82, 0x00, 0x61, 0x0a], [0xff, 0xff, 0xff, 0x01]] {
            guard case .failure = MultistreamMessage.decode(bad) else { Issue.record("accepted \(bad)"); continue }
        }
    }

    @Test("an initiator and a responder agree on the first protocol both support, in chunks of any size")
    func negotiation() {
        for chunk in [1, 2, 7, 1000] {
            var (i, toR) = MultistreamSelect.initiator(proposing: ["/tls/1.0.0", "/noise"])
            var (r, toI) = MultistreamSelect.responder(supporting: ["/noise"])
            var agreed: [String] = []
            for _ in 0..<10 {
                let (a, b) = (toR, toI)
                (toR, toI) = ([], [])
                for piece in MultistreamTests.split(a, chunk) { toI += Self.apply(r.receive(piece), &agreed) }
                for piece in MultistreamTests.split(b, chunk) { toR += Self.apply(i.receive(piece), &agreed) }
            }
            #expect(agreed == ["/noise", "/noise"])
        }
    }

    static func apply(_ o: MultistreamSelect.Outcome, _ agreed: inout [String]) -> [UInt8] {
        switch o {
        case .pending(let s): return s
        case .agreed(let p, let s, _): agreed.append(p); return s
        case .failed(let e, _): Issue.record("failed: \(e)"); return []
        }
    }

    static func split(_ bytes: [UInt8], _ n: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: n).map { Array(bytes[$0..<min($0 + n, bytes.count)]) }
    }

    @Test("the responder answers na to an unknown protocol, and bytes after the agreement are handed over")
    func naAndLeftover() {
        var (r, _) = MultistreamSelect.responder(supporting: ["/ipfs/ping/1.0.0"])
        var input = MultistreamMessage.encode(MultistreamMessage.header)
        input += MultistreamMessage.encode("/unknown/1")
        input += MultistreamMessage.encode("/ipfs/ping/1.0.0")
        input += [1, 2, 3]
        guard case .agreed(let p, let send, let leftover) = r.receive(input) else { Issue.record("no agreement"); return }
        #expect(p == "/ipfs/ping/1.0.0")
        #expect(send == MultistreamMessage.encode("na") + MultistreamMessage.encode("/ipfs/ping/1.0.0"))
        #expect(leftover == [1, 2, 3])
    }

    @Test("the responder gives up at the proposal limit, not one before")
    func proposalLimit() {
        var (r, _) = MultistreamSelect.responder(supporting: ["/yes"])
        var input = MultistreamMessage.encode(MultistreamMessage.header)
        for n in 0..<(MultistreamSelect.maxProposals - 1) { input += MultistreamMessage.encode("/no/\(n)") }
        guard case .pending = r.receive(input) else { Issue.record("gave up early"); return }
        guard case .failed(let e, let send) = r.receive(MultistreamMessage.encode("/no/last")) else { Issue.record("did not give up"); return }
        #expect(e.code == .noProtocol)
        #expect(send == MultistreamMessage.encode("na"))
    }

    @Test("the initiator fails when every proposal is refused, and on a peer without the header")
    func initiatorFailures() {
        var (i, _) = MultistreamSelect.initiator(proposing: ["/a"])
        guard case .failed(let e, _) = i.receive(MultistreamMessage.encode(MultistreamMessage.header) + MultistreamMessage.encode("na")) else {
            Issue.record("accepted"); return
        }
        #expect(e.code == .noProtocol)
        var (j, _) = MultistreamSelect.initiator(proposing: ["/a"])
        guard case .failed(let e2, _) = j.receive(MultistreamMessage.encode("/multistream/2.0.0")) else { Issue.record("accepted"); return }
        #expect(e2.code == .protocolViolation)
    }
}
