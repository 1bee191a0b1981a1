import ClusterTestKit
import Foundation
import Gossip
import Multiformats
import Sodium
import Testing

struct PubSubVector: Decodable {
    let identity_seed, peer_id, exchanged_peer_seed, exchanged_peer_id, topic, data_utf8: String
    let seqno: UInt64
    let unsigned_message, signature, signed_message, message_id, frame: String
    let prune_backoff_seconds: UInt64
    let choke_topic, unchoke_topic, choke_frame: String
}

@Suite struct WireTests {
    let v: PubSubVector = try! Vectors.json("pubsub.json")

    func vectorRPC() throws -> (GossipRPC, GossipMessage) {
        let key = try Ed25519.PrivateKey(seed: Hex.bytes(v.identity_seed))
        let other = try Ed25519.PrivateKey(seed: Hex.bytes(v.exchanged_peer_seed))
        var m = GossipMessage(
            from: try PeerID(ed25519PublicKey: key.publicKey.bytes), data: Array(v.data_utf8.utf8), seqno: v.seqno, topic: v.topic)
        m.sign(with: key)
        let id = MessageID(bytes: Hex.bytes(v.message_id))
        let rpc = GossipRPC(
            subscriptions: [.init(subscribe: true, topic: v.topic)], messages: [m],
            ihave: [.init(topic: v.topic, ids: [id])], iwant: [id], graft: [v.topic],
            prune: [.init(topic: v.topic, peers: [try PeerID(ed25519PublicKey: other.publicKey.bytes)], backoffSeconds: v.prune_backoff_seconds)],
            idontwant: [id])
        return (rpc, m)
    }

    @Test func knownAnswerMessage() throws {
        let (_, m) = try vectorRPC()
        #expect(m.from?.description == v.peer_id)
        #expect(Hex.string(m.encoded(includingSignature: false)) == v.unsigned_message)
        #expect(Hex.string(m.signature ?? []) == v.signature)
        #expect(Hex.string(m.encoded()) == v.signed_message)
        #expect(Hex.string(m.id.bytes) == v.message_id)
        #expect(m.hasValidSignature)
    }

    @Test func knownAnswerFrame() throws {
        let (rpc, _) = try vectorRPC()
        #expect(Hex.string(rpc.encoded()) == v.frame)
        let decoded = try GossipRPC(decoding: Hex.bytes(v.frame))
        #expect(decoded == rpc)
        #expect(decoded.prune.first?.peers.first?.description == v.exchanged_peer_id)
    }

    @Test func knownAnswerChokeExtension() throws {
        let rpc = GossipRPC(choke: [v.choke_topic], unchoke: [v.unchoke_topic])
        #expect(Hex.string(rpc.encoded()) == v.choke_frame)
        #expect(try GossipRPC(decoding: Hex.bytes(v.choke_frame)) == rpc)
    }

    @Test func everyTamperedByteOfASignedMessageIsCaught() throws {
        let signed = Hex.bytes(v.signed_message)
        var checked = 0
        for i in signed.indices {
            var bytes = signed
            bytes[i] ^= 0x01
            let frame = [0x12] + Varint.encode(UInt64(bytes.count)) + bytes
            guard let rpc = try? GossipRPC(decoding: frame), let m = rpc.messages.first else { continue }
            checked += 1
            #expect(!m.hasValidSignature, "flipping byte \(i) went unnoticed")
        }
        // Most flips still decode (data, seqno, topic, signature bytes): the signature is what catches them.
        #expect(checked >= signed.count / 2, "only \(checked) of \(signed.count) tampered messages decoded")
    }

    @Test func everyTruncationIsATypedErrorOrAShorterFrame() throws {
        let frame = Hex.bytes(v.frame)
        for n in 0..<frame.count {
            do {
                let rpc = try GossipRPC(decoding: Array(frame[..<n]))
                #expect(rpc != (try GossipRPC(decoding: frame)))
            } catch {
                #expect(error.code == .truncated || error.code == .malformed, "prefix \(n): \(error)")
            }
        }
    }

    @Test func unsignedMessagesAndForgeriesAreNotValid() throws {
        let (_, m) = try vectorRPC()
        var unsigned = m
        unsigned.signature = nil
        #expect(!unsigned.hasValidSignature)
        var forged = m
        forged.from = try PeerID(ed25519PublicKey: Ed25519.PrivateKey(seed: Hex.bytes(v.exchanged_peer_seed)).publicKey.bytes)
        #expect(!forged.hasValidSignature)
        var wrongKey = m
        wrongKey.key = [1, 2, 3]
        #expect(!wrongKey.hasValidSignature)
    }

    // MARK: limits, each at and one past the limit

    private func frame(_ field: UInt64, _ parts: [[UInt8]]) -> [UInt8] {
        parts.flatMap { Varint.encode(field << 3 | 2) + Varint.encode(UInt64($0.count)) + $0 }
    }
    private func lengthDelimited(_ field: UInt64, _ b: [UInt8]) -> [UInt8] { Varint.encode(field << 3 | 2) + Varint.encode(UInt64(b.count)) + b }

    @Test func subscriptionCountLimit() throws {
        let sub = lengthDelimited(2, Array("t".utf8))
        let ok = frame(1, Array(repeating: sub, count: GossipRPC.maxEntries))
        #expect(try GossipRPC(decoding: ok).subscriptions.count == GossipRPC.maxEntries)
        #expect(throws: GossipError.self) { try GossipRPC(decoding: ok + frame(1, [sub])) }
    }

    @Test func messageIDCountLimit() throws {
        let id = lengthDelimited(1, [UInt8](repeating: 7, count: 20))
        let iwant = { (n: Int) in self.frame(3, [self.lengthDelimited(2, Array(repeating: id, count: n).flatMap { $0 })]) }
        #expect(try GossipRPC(decoding: iwant(GossipRPC.maxMessageIDs)).iwant.count == GossipRPC.maxMessageIDs)
        do {
            _ = try GossipRPC(decoding: iwant(GossipRPC.maxMessageIDs + 1))
            Issue.record("accepted too many message IDs")
        } catch { #expect(error.code == .tooLarge) }
    }

    @Test func lengthLimits() throws {
        // Message data at and past max_message_bytes.
        let body = { (n: Int) in self.lengthDelimited(2, [UInt8](repeating: 1, count: n)) + self.lengthDelimited(4, Array("t".utf8)) }
        #expect(try GossipRPC(decoding: frame(2, [body(4096)]), maxMessageBytes: 4096).messages.count == 1)
        #expect(throws: GossipError.self) { try GossipRPC(decoding: self.frame(2, [body(4097)]), maxMessageBytes: 4096) }
        // Topic at and past its limit.
        let topic = { (n: Int) in self.frame(1, [self.lengthDelimited(2, [UInt8](repeating: 0x61, count: n))]) }
        #expect(try GossipRPC(decoding: topic(GossipRPC.maxTopicBytes)).subscriptions.count == 1)
        #expect(throws: GossipError.self) { try GossipRPC(decoding: topic(GossipRPC.maxTopicBytes + 1)) }
        // Message ID length.
        let iwant = { (n: Int) in self.frame(3, [self.lengthDelimited(2, self.lengthDelimited(1, [UInt8](repeating: 1, count: n)))]) }
        #expect(try GossipRPC(decoding: iwant(GossipRPC.maxMessageIDBytes)).iwant.count == 1)
        #expect(throws: GossipError.self) { try GossipRPC(decoding: iwant(GossipRPC.maxMessageIDBytes + 1)) }
        // The whole frame.
        #expect(throws: GossipError.self) { try GossipRPC(decoding: [UInt8](repeating: 0, count: GossipRPC.maxFrameBytes + 1)) }
    }

    @Test func peerExchangeLimit() throws {
        let pid = try PeerID(ed25519PublicKey: Ed25519.PrivateKey(seed: Hex.bytes(v.identity_seed)).publicKey.bytes)
        let info = lengthDelimited(2, lengthDelimited(1, pid.bytes))
        let prune = { (n: Int) in self.frame(3, [self.lengthDelimited(4, self.lengthDelimited(1, Array("t".utf8)) + Array(repeating: info, count: n).flatMap { $0 })]) }
        #expect(try GossipRPC(decoding: prune(GossipRPC.maxExchangedPeers)).prune.first?.peers.count == GossipRPC.maxExchangedPeers)
        #expect(throws: GossipError.self) { try GossipRPC(decoding: prune(GossipRPC.maxExchangedPeers + 1)) }
    }

    @Test func malformedFields() throws {
        let cases: [(String, [UInt8])] = [
            ("seqno of 7 bytes", frame(2, [lengthDelimited(3, [1, 2, 3, 4, 5, 6, 7]) + lengthDelimited(4, [0x74])])),
            ("topic not UTF-8", frame(1, [lengthDelimited(2, [0xff, 0xfe])])),
            ("message without topic", frame(2, [lengthDelimited(2, [1])])),
            ("from not a peer ID", frame(2, [lengthDelimited(1, [0x12, 0x01, 0x00]) + lengthDelimited(4, [0x74])])),
            ("wire type 3", [0x0b]),
            ("field number 0", [0x02, 0x00]),
            ("varint past 64 bits", [0x08] + [UInt8](repeating: 0xff, count: 9) + [0x02]),
            ("subscription flag as bytes", frame(1, [lengthDelimited(1, [1]) + lengthDelimited(2, [0x74])])),
        ]
        for (what, bytes) in cases {
            #expect(throws: GossipError.self, "\(what)") { try GossipRPC(decoding: bytes) }
        }
    }

    @Test func unknownFieldsAreSkipped() throws {
        let known = Hex.bytes(v.frame)
        let extra: [UInt8] = [0x20, 0x05, 0x2d, 1, 2, 3, 4, 0x29, 1, 2, 3, 4, 5, 6, 7, 8] + lengthDelimited(9, [1, 2])
        #expect(try GossipRPC(decoding: extra + known) == GossipRPC(decoding: known))
    }
}

@Suite struct SplitTests {
    @Test func anOversizedFrameSplitsIntoFramesThatFitAndKeepEverything() throws {
        var rng = SeededRandom(seed: 3)
        let ids = (0..<5000).map { _ in MessageID(bytes: rng.bytes(20)) }
        let messages = (0..<3).map { GossipMessage(data: rng.bytes(30_000), topic: "t\($0)") }
        let rpc = GossipRPC(
            subscriptions: [.init(subscribe: true, topic: "t")], messages: messages, ihave: [.init(topic: "t", ids: ids)],
            iwant: Array(ids.prefix(2500)), graft: ["t"], idontwant: Array(ids.suffix(1200)), choke: ["u"])
        let limit = 65_459
        #expect(rpc.encoded().count > limit)
        let parts = rpc.split(maxBytes: limit)
        #expect(parts.allSatisfy { $0.encoded().count <= limit })
        #expect(parts.flatMap(\.messages) == messages)
        #expect(parts.flatMap { $0.ihave.flatMap(\.ids) } == ids)
        #expect(parts.flatMap(\.iwant) == rpc.iwant && parts.flatMap(\.idontwant) == rpc.idontwant)
        #expect(parts.flatMap(\.graft) == ["t"] && parts.flatMap(\.choke) == ["u"] && parts.flatMap(\.subscriptions) == rpc.subscriptions)
        // State changes travel before gossip and messages.
        #expect(parts.first?.subscriptions.isEmpty == false)
        #expect(rpc.split(maxBytes: rpc.encoded().count) == [rpc])
    }
}
