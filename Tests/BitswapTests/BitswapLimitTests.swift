import Bitswap
import ClusterTestKit
import Multiformats
import Testing

@Suite struct BitswapLimitTests {
    /// A message of three raw blocks whose encoding is exactly `total` bytes.
    func message(ofExactly total: Int) -> [UInt8] {
        func field(_ n: Int) -> Int { 1 + Varint.encodedLength(UInt64(n)) + n }
        let big = BitswapMessage.maxBlockBytes - 64
        var last = total - 2 * field(big) - 4
        while 2 * field(big) + field(last) < total { last += 1 }
        while 2 * field(big) + field(last) > total { last -= 1 }
        return BitswapMessage(blocks: [[UInt8](repeating: 1, count: big), [UInt8](repeating: 2, count: big), [UInt8](repeating: 3, count: last)]).encoded()
    }

    @Test("a message of exactly 4 MiB decodes; one byte more is refused as too large")
    func messageLimit() throws {
        let exact = message(ofExactly: BitswapMessage.maxMessageBytes)
        #expect(exact.count == BitswapMessage.maxMessageBytes)
        #expect(try BitswapMessage(decoding: exact).blocks.count == 3)
        let over = exact + [0x48, 0x00]  // an unknown varint field 9 pushes it over
        #expect(over.count > BitswapMessage.maxMessageBytes)
        #expect { try BitswapMessage(decoding: over) } throws: { ($0 as? BitswapError)?.code == .tooLarge }
    }

    @Test("a block of 2 MiB decodes, raw or as payload; one byte more is refused")
    func blockLimit() throws {
        let limit = BitswapMessage.maxBlockBytes
        for size in [limit, limit + 1] {
            let data = [UInt8](repeating: 7, count: size)
            let raw = BitswapMessage(blocks: [data]).encoded()
            let payload = BitswapMessage(payload: [BitswapPayloadBlock(prefix: .v0, data: data)]).encoded()
            for bytes in [raw, payload] {
                if size == limit {
                    #expect(try BitswapMessage(decoding: bytes).encoded() == bytes)
                } else {
                    #expect { try BitswapMessage(decoding: bytes) } throws: { ($0 as? BitswapError)?.code == .tooLarge }
                }
            }
        }
    }

    @Test("16,384 wantlist entries, blocks or presences decode; one more of each is refused")
    func entryLimits() throws {
        let n = BitswapMessage.maxEntries
        let cid = BitswapFixture.cid(1)
        for extra in [0, 1] {
            let wants = BitswapMessage(wantlist: BitswapWantlist(entries: Array(repeating: BitswapWantEntry(cid: cid), count: n + extra)))
            let presences = BitswapMessage(blockPresences: Array(repeating: BitswapBlockPresence(cid: cid, type: .have), count: n + extra))
            let blocks = BitswapMessage(blocks: Array(repeating: [1], count: n / 2), payload: Array(repeating: BitswapPayloadBlock(prefix: .v0, data: [2]), count: n / 2 + extra))
            for m in [wants, presences, blocks] {
                if extra == 0 {
                    #expect(try BitswapMessage(decoding: m.encoded()) == m)
                } else {
                    #expect { try BitswapMessage(decoding: m.encoded()) } throws: { ($0 as? BitswapError)?.code == .tooLarge }
                }
            }
        }
    }

    @Test("a CID field of 168 bytes reaches the CID parser; 169 bytes is refused as too large")
    func cidLimit() throws {
        for (size, code) in [(BitswapMessage.maxCIDBytes, "malformed"), (BitswapMessage.maxCIDBytes + 1, "tooLarge")] {
            var w = ProtobufWriter()
            w.message(1) { $0.message(1) { $0.bytes(1, [UInt8](repeating: 0x01, count: size)) } }
            #expect { try BitswapMessage(decoding: w.bytes) } throws: { ($0 as? BitswapError)?.code.name == code }
            var p = ProtobufWriter()
            p.message(4) { $0.bytes(1, [UInt8](repeating: 0x01, count: size)) }
            #expect { try BitswapMessage(decoding: p.bytes) } throws: { ($0 as? BitswapError)?.code.name == code }
        }
    }

    @Test("a CID prefix round-trips; a digest length of 128 is accepted and 129 refused; truncations are refused")
    func prefixLimits() throws {
        let p = BitswapCIDPrefix(of: BitswapFixture.cid(1))
        #expect(try BitswapCIDPrefix(bytes: p.bytes) == p)
        #expect(p.bytes == [1, 0x55, 0x12, 0x20])
        #expect(BitswapCIDPrefix.v0.bytes == [0, 0x70, 0x12, 0x20])
        #expect(try BitswapCIDPrefix(bytes: [1, 0x55, 0x00, 0x80, 0x01]).hashLength == 128)
        #expect { try BitswapCIDPrefix(bytes: [1, 0x55, 0x00, 0x81, 0x01]) } throws: { ($0 as? BitswapError)?.code == .tooLarge }
        for n in 0..<4 {
            #expect { try BitswapCIDPrefix(bytes: Array(p.bytes[0..<n])) } throws: { ($0 as? BitswapError)?.code == .truncated }
        }
        #expect { try BitswapCIDPrefix(bytes: p.bytes + [0]) } throws: { ($0 as? BitswapError)?.code == .malformed }
        #expect { try BitswapCIDPrefix(bytes: [1, 0xd5, 0x00, 0x12, 0x20]) } throws: { ($0 as? BitswapError)?.code == .malformed }
    }

    @Test("received blocks hash under their prefix; unknown hash functions and mismatched lengths are unverifiable")
    func hashing() throws {
        let data = BitswapFixture.block(1)
        let cid = BitswapFixture.raw(data)
        let odd = BitswapCIDPrefix(version: .v1, codec: .raw, hashCode: Multicodec(rawValue: 0x1e), hashLength: 32)
        let short = BitswapCIDPrefix(version: .v1, codec: .raw, hashCode: .sha2_256, hashLength: 20)
        let m = BitswapMessage(blocks: [data], payload: [
            BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: cid), data: data),
            BitswapPayloadBlock(prefix: odd, data: data),
            BitswapPayloadBlock(prefix: short, data: data),
        ])
        let hashed = m.hashedBlocks()
        #expect(hashed[0].cid == (try CID.v0(Multihash.sha256(data))))
        #expect(hashed[1].cid == cid)
        #expect(hashed[2] == .rejected(.unverifiable(odd)))
        #expect(hashed[3] == .rejected(.unverifiable(short)))
    }
}
