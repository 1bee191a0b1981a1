import Bitswap
import ClusterTestKit
import Multiformats
import Testing

/// Shared test fixtures: blocks and their CIDs.
enum BitswapFixture {
    static func block(_ n: Int, size: Int = 64) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n &* 7 &+ n >> 8) }
    }

    static func raw(_ bytes: [UInt8]) -> CID { CID.v1(codec: .raw, Multihash.sha256(bytes)) }

    static func cid(_ n: Int) -> CID { raw(block(n)) }

    /// A message with one of every field, each with a non-default value.
    static var everyField: BitswapMessage {
        BitswapMessage(
            wantlist: BitswapWantlist(entries: [
                BitswapWantEntry(cid: cid(1), priority: 7, wantType: .have, sendDontHave: true),
                BitswapWantEntry.cancel(cid(2)),
            ], full: true),
            blocks: [block(3)],
            payload: [BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: cid(4)), data: block(4))],
            blockPresences: [BitswapBlockPresence(cid: cid(5), type: .dontHave)],
            pendingBytes: 1000)
    }
}

@Suite struct BitswapCodecTests {
    @Test("a message with every field round-trips")
    func roundTrip() throws {
        let m = BitswapFixture.everyField
        #expect(try BitswapMessage(decoding: m.encoded()) == m)
    }

    @Test("every truncation of a message is refused or decodes to exactly the bytes it was cut to")
    func truncations() throws {
        let bytes = BitswapFixture.everyField.encoded()
        var refused = 0
        for n in 0..<bytes.count {
            let cut = Array(bytes[0..<n])
            do {
                let m = try BitswapMessage(decoding: cut)
                #expect(m.encoded() == cut, "prefix of \(n) bytes decoded to something else")
            } catch {
                refused += 1
                #expect([.truncated, .malformed].contains(error.code), "prefix of \(n): \(error)")
            }
        }
        #expect(refused > bytes.count / 2)
    }

    @Test("every single-byte change either is refused or decodes without trapping")
    func mutations() throws {
        let bytes = BitswapFixture.everyField.encoded()
        for i in 0..<bytes.count {
            for delta: UInt8 in [1, 0x80, 0xff] {
                var b = bytes
                b[i] &+= delta
                if let m = try? BitswapMessage(decoding: b) {
                    #expect(try BitswapMessage(decoding: m.encoded()) == m)
                }
            }
        }
    }

    @Test("fields with the wrong wire type are refused as malformed")
    func wrongWireTypes() throws {
        let cases: [[UInt8]] = [
            [0x08, 0x01],  // wantlist as a varint
            [0x10, 0x01],  // blocks as a varint
            [0x18, 0x01],  // payload as a varint
            [0x20, 0x01],  // blockPresences as a varint
            [0x2a, 0x00],  // pendingBytes as bytes
            [0x0a, 0x02, 0x08, 0x01],  // wantlist entry as a varint
            [0x0a, 0x02, 0x12, 0x00],  // full as bytes
            [0x0a, 0x04, 0x0a, 0x02, 0x08, 0x01],  // entry's block as a varint
            [0x0a, 0x02, 0x0b, 0x00],  // wire type 3 (group)
        ]
        for c in cases {
            #expect(throws: BitswapError.self, "\(Hex.string(c))") { try BitswapMessage(decoding: c) }
        }
    }

    @Test("unknown fields are skipped, at the top and inside every submessage")
    func unknownFields() throws {
        var w = ProtobufWriter()
        w.varint(9, 5)
        w.message(1) { l in
            l.varint(7, 1)
            l.message(1) { e in
                e.bytes(1, BitswapFixture.cid(1).bytes)
                e.bytes(6, [1, 2, 3])  // kubo's old `auth` field
            }
        }
        let m = try BitswapMessage(decoding: w.bytes)
        #expect(m.wantlist?.entries.map(\.cid) == [BitswapFixture.cid(1)])
        #expect(m.wantlist?.entries.first?.priority == 0)
    }

    @Test("two wantlist fields merge as protobuf merges them")
    func repeatedWantlistMerges() throws {
        var w = ProtobufWriter()
        w.message(1) { $0.message(1) { $0.bytes(1, BitswapFixture.cid(1).bytes) }; $0.bool(2, true) }
        w.message(1) { $0.message(1) { $0.bytes(1, BitswapFixture.cid(2).bytes) } }
        let m = try BitswapMessage(decoding: w.bytes)
        #expect(m.wantlist?.entries.map(\.cid) == [BitswapFixture.cid(1), BitswapFixture.cid(2)])
        #expect(m.wantlist?.full == true)
    }

    @Test("downgrading to 1.1.0 drops presences, pendingBytes and want-have; to 1.0.0 also turns CIDv0 payload into raw blocks")
    func downgrade() throws {
        let v0Block = BitswapFixture.block(9)
        var m = BitswapFixture.everyField
        m.payload.append(BitswapPayloadBlock(prefix: .v0, data: v0Block))
        let v11 = m.downgraded(to: .v1_1_0)
        #expect(v11.blockPresences.isEmpty && v11.pendingBytes == 0)
        #expect(v11.wantlist?.entries.allSatisfy { $0.wantType == .block && !$0.sendDontHave } == true)
        #expect(v11.wantlist?.entries.map(\.cancel) == [false, true])
        #expect(v11.payload == m.payload)
        let v10 = m.downgraded(to: .v1_0_0)
        #expect(v10.payload.isEmpty)
        #expect(v10.blocks == [BitswapFixture.block(3), v0Block])
        #expect(m.downgraded(to: .v1_2_0) == m)
        #expect(m.downgraded(to: .unversioned) == v10)
    }

    @Test("protocol IDs map to versions, most capable first")
    func protocolIDs() {
        #expect(BitswapProtocolVersion.protocolIDs == ["/ipfs/bitswap/1.2.0", "/ipfs/bitswap/1.1.0", "/ipfs/bitswap/1.0.0", "/ipfs/bitswap"])
        #expect(BitswapProtocolVersion(protocolID: "/ipfs/bitswap/1.1.0") == .v1_1_0)
        #expect(BitswapProtocolVersion(protocolID: "/ipfs/bitswap/1.3.0") == nil)
        #expect(BitswapProtocolVersion.v1_2_0.supportsHave && !BitswapProtocolVersion.v1_1_0.supportsHave)
    }

    @Test("isEmpty is true only without wants, blocks and presences")
    func emptiness() {
        #expect(BitswapMessage().isEmpty)
        #expect(BitswapMessage(wantlist: BitswapWantlist()).isEmpty)
        #expect(!BitswapMessage(wantlist: BitswapWantlist(full: true)).isEmpty)
        #expect(!BitswapFixture.everyField.isEmpty)
    }
}
