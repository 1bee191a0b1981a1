import ClusterModel
import ClusterTestKit
import CodedError
import Foundation
import Multiformats
import Pinset
import Sodium
import Testing
import UnixFS

@Suite struct PinCodecTests {
    static func fullPin() throws -> Pin {
        var o = PinOptions()
        o.replicationFactorMin = -1
        o.replicationFactorMax = -1
        o.name = "ünïcode name"
        o.mode = .direct
        o.shardSize = 100 << 20
        o.userAllocations = [PinsetFixtures.peer(1)]
        o.expireAt = Timestamp(unixMillis: 1_900_000_000_123)
        o.metadata = ["k": "v", "team": "data"]
        o.pinUpdate = cid(77)
        o.origins = [try Multiaddr("/ip4/10.0.0.1/tcp/4001/p2p/\(PinsetFixtures.peer(2))")]
        return Pin(
            cid: cid(5), type: .shard, allocations: [PinsetFixtures.peer(3), PinsetFixtures.peer(4)], maxDepth: 0,
            reference: cid(6), timestamp: Timestamp(unixMillis: 1_800_000_000_456), options: o)
    }

    @Test func everyFieldRoundTrips() throws {
        let pin = try Self.fullPin()
        let bytes = PinCodec.encode(pin)
        #expect(try PinCodec.decode(bytes, cid: pin.cid) == pin)
        // The direct encoder writes canonical DAG-CBOR: the generic codec re-encodes it unchanged.
        #expect(try DagCBOR(decoding: bytes).encoded() == bytes)
        // A default pin encodes as an empty map.
        #expect(PinCodec.encode(Pin(cid: cid(1))) == [0xa0])
    }

    @Test func malformedValuesAreRefusedWithTheirField() throws {
        let bad: [(DagCBOR, String)] = [
            (.list([]), "expected a map"),
            (.map(["zz": .int(1)]), "unknown field"),
            (.map(["t": .int(2)]), "type"),
            (.map(["t": .int(3)]), "type"),
            (.map(["t": .string("pin")]), "integer"),
            (.map(["a": .list([.bytes([1, 2, 3])])]), "peer ID"),
            (.map(["a": .bytes([1])]), "list"),
            (.map(["a": .list([])]), "omitted"),
            (.map(["i": .int(0)]), "omitted"),
            (.map(["rn": .int(0)]), "omitted"),
            (.map(["n": .string("")]), "omitted"),
            (.map(["m": .map([:])]), "omitted"),
            (.map(["g": .list([])]), "omitted"),
            (.map(["n": .bytes([1])]), "text"),
            (.map(["e": .float(1.5)]), "float"),
            (.map(["a": .list(Array(repeating: .bytes(PinsetFixtures.peer(1).bytes), count: PinCodec.maxAllocations + 1))]), "at most"),
            (.map(["d": .int(-2)]), "max depth"),
            (.map(["r": .bytes([0xff])]), "binary CID"),
            (.map(["rn": .int(-5)]), "replication"),
            (.map(["n": .string(String(repeating: "x", count: PinCodec.maxStringBytes + 1))]), "over"),
            (.map(["o": .int(0)]), "mode"),
            (.map(["s": .int(0)]), "shard size"),
            (.map(["m": .map(["k": .int(1)])]), "text"),
            (.map(["g": .list([.bytes([0x99, 0x99])])]), "multiaddr"),
        ]
        for (value, mention) in bad {
            do {
                _ = try PinCodec.decode(value.encoded(), cid: cid(1))
                Issue.record("accepted \(value)")
            } catch {
                #expect(error.message.contains(mention), "\(error.message) should mention \(mention)")
            }
        }
    }

    @Test func limitsAreInclusive() throws {
        let peers = Array(repeating: DagCBOR.bytes(PinsetFixtures.peer(1).bytes), count: PinCodec.maxAllocations)
        let name = String(repeating: "x", count: PinCodec.maxStringBytes)
        let pin = try PinCodec.decode(DagCBOR.map(["a": .list(peers), "n": .string(name)]).encoded(), cid: cid(1))
        #expect(pin.allocations.count == PinCodec.maxAllocations)
        #expect(pin.name == name)
        try PinCodec.validate(pin)
    }

    /// What a writer may commit is exactly what ``PinCodec/decode(_:cid:)`` reads back: every
    /// limit accepted at the limit, refused one over, naming the option and the limit.
    @Test func validationRefusesWhatCouldNotBeReadBack() throws {
        let atLimit = String(repeating: "x", count: PinCodec.maxStringBytes)
        let over = atLimit + "y"
        var good = Pin(cid: cid(1))
        good.options.name = atLimit
        good.options.metadata = [atLimit: atLimit]
        good.options.origins = Array(repeating: try Multiaddr("/ip4/127.0.0.1/tcp/4001"), count: PinCodec.maxOrigins)
        good.allocations = Array(repeating: PinsetFixtures.peer(1), count: PinCodec.maxAllocations)
        try PinCodec.validate(good)
        #expect(try PinCodec.decode(PinCodec.encode(good), cid: good.cid) == good)

        var many = Pin(cid: cid(1))
        for i in 0..<PinCodec.maxMetadataEntries { many.options.metadata["k\(i)"] = "v" }
        try PinCodec.validate(many)

        let cases: [(String, (inout Pin) -> Void, String)] = [
            ("name", { $0.options.name = over }, "the pin's name is 1025 bytes long; a pin stores at most 1024"),
            ("metadata value", { $0.options.metadata = ["owner": over] }, "the value of metadata key meta-owner is 1025 bytes"),
            ("metadata key", { $0.options.metadata = [over: "v"] }, "metadata key"),
            ("metadata entries", { p in for i in 0...PinCodec.maxMetadataEntries { p.options.metadata["k\(i)"] = "v" } }, "65 metadata entries"),
            ("origins", { $0.options.origins = Array(repeating: try! Multiaddr("/ip4/127.0.0.1/tcp/4001"), count: PinCodec.maxOrigins + 1) }, "17 origins"),
            ("allocations", { $0.allocations = Array(repeating: PinsetFixtures.peer(1), count: PinCodec.maxAllocations + 1) }, "257 allocations"),
            ("user allocations", { $0.options.userAllocations = Array(repeating: PinsetFixtures.peer(1), count: PinCodec.maxAllocations + 1) }, "257 user-allocations"),
            ("replication", { $0.options.replicationFactorMax = 1025 }, "replication-max 1025 is out of range"),
        ]
        for (what, change, words) in cases {
            var p = Pin(cid: cid(1))
            change(&p)
            #expect(throws: PinsetError.self, "\(what)") { try PinCodec.validate(p) }
            do {
                try PinCodec.validate(p)
            } catch {
                #expect(error.message.contains(words), "\(what): \(error.message)")
            }
        }
    }
}

@Suite struct DeltaNodeTests {
    func signedNode() throws -> (DeltaNode, [UInt8], Replica) {
        let r = replica(1)
        var n = DeltaNode(
            parents: [cid(2), cid(1)].map { CID.v1(codec: .dagCBOR, $0.multihash) }, height: 4, author: r.id,
            adds: [try PinCodecTests.fullPin(), fixturePin(9)], removes: [(cid(3), [CID.v1(codec: .dagCBOR, cid(4).multihash)])])
        n.sign(with: r.key)
        return (n, n.encoded(), r)
    }

    @Test func roundTripAndSignature() throws {
        let (n, bytes, _) = try signedNode()
        #expect(try DagCBOR(decoding: bytes).encoded() == bytes)
        #expect(try DagCBOR(decoding: n.unsignedEncoding).encoded() == n.unsignedEncoding)
        let back = try DeltaNode(decoding: bytes)
        #expect(back == n)
        #expect(back.hasValidSignature)
        #expect(back.parents == back.parents.sorted())
        #expect(DeltaNode.cid(of: bytes).codec == .dagCBOR)
    }

    /// Every single-byte change is refused: by the decoder, or by the signature check.
    @Test func everyTamperedByteIsCaught() throws {
        let (_, bytes, _) = try signedNode()
        var decodedButRejected = 0
        for i in bytes.indices {
            var t = bytes
            t[i] ^= 0x01
            if let n = try? DeltaNode(decoding: t) {
                #expect(!n.hasValidSignature, "byte \(i) flipped and the signature still verified")
                decodedButRejected += 1
            }
        }
        #expect(decodedButRejected > bytes.count / 2)
    }

    @Test func truncationsAreRefused() throws {
        let (_, bytes, _) = try signedNode()
        for n in 0..<bytes.count { #expect(throws: PinsetError.self) { try DeltaNode(decoding: Array(bytes.prefix(n))) } }
    }

    @Test func structuralRulesAreEnforced() throws {
        let r = replica(1)
        func encode(_ m: [String: DagCBOR]) -> [UInt8] { DagCBOR.map(m).encoded() }
        let base: [String: DagCBOR] = [
            "v": .int(1), "h": .int(1), "w": .bytes(r.id.bytes), "p": .list([]), "s": .bytes([UInt8](repeating: 0, count: 64)),
        ]
        #expect(try DeltaNode(decoding: encode(base)).height == 1)
        let link1 = DagCBOR.link(.v1(codec: .dagCBOR, cid(1).multihash)), link2 = DagCBOR.link(.v1(codec: .dagCBOR, cid(2).multihash))
        let (lo, hi) = cid(1).v1 < cid(2).v1 ? (link1, link2) : (link2, link1)
        let cases: [([String: DagCBOR], ErrorCode<PinsetError>)] = [
            (base.merging(["v": .int(2)]) { $1 }, .malformed),
            (base.merging(["x": .int(0)]) { $1 }, .malformed),
            (base.merging(["h": .int(0)]) { $1 }, .malformed),
            (base.merging(["h": .int(2)]) { $1 }, .badHeight),
            (base.merging(["p": .list([lo])]) { $1 }, .badHeight),
            (base.merging(["h": .int(2), "p": .list([hi, lo])]) { $1 }, .malformed),
            (base.merging(["h": .int(2), "p": .list([lo, lo])]) { $1 }, .malformed),
            (base.merging(["s": .bytes([1, 2])]) { $1 }, .malformed),
            (base.merging(["a": .list([])]) { $1 }, .malformed),
            (base.merging(["a": .list([.list([.bytes(cid(1).bytes), .map([:])]), .list([.bytes(cid(1).bytes), .map([:])])])]) { $1 }, .malformed),
            (base.merging(["r": .list([.list([.bytes(cid(1).bytes), .list([])])])]) { $1 }, .malformed),
            (base.merging(["w": .bytes([0, 1])]) { $1 }, .malformed),
        ]
        for (m, code) in cases {
            do {
                _ = try DeltaNode(decoding: encode(m))
                Issue.record("accepted \(m)")
            } catch { #expect(error.code == code, "\(error)") }
        }
        // The size limit, exactly.
        #expect(throws: PinsetError.self) { try DeltaNode(decoding: [UInt8](repeating: 0xa0, count: DeltaNode.maxBytes + 1)) }
    }

    @Test func sameKeyMayBeRemovedAndAddedInOneNode() throws {
        let r = replica(1)
        var n = DeltaNode(parents: [], height: 1, author: r.id, adds: [fixturePin(1)], removes: [(cid(1), [cid(8)])])
        n.sign(with: r.key)
        #expect(try DeltaNode(decoding: n.encoded()) == n)
    }
}

@Suite struct PinJSONTests {
    /// The JSON ipfs-cluster 1.x writes for a pin (field names, types, zero values).
    @Test func decodesIPFSClusterJSONAndWritesTheSameFields() throws {
        let peer = PinsetFixtures.peer(1)
        let json = """
            {"replication_factor_min":-1,"replication_factor_max":-1,"name":"my file","mode":"recursive","shard_size":104857600,
             "user_allocations":null,"expire_at":"0001-01-01T00:00:00Z","metadata":{"a":"b"},"pin_update":null,"origins":[],
             "cid":"\(cid(1))","type":"pin","allocations":["\(peer)"],"max_depth":-1,"reference":null,
             "timestamp":"2026-11-27T10:00:00.5Z"}
            """
        let pin = try JSONDecoder().decode(Pin.self, from: Data(json.utf8))
        #expect(pin.cid == cid(1))
        #expect(pin.isPinEverywhere)
        #expect(pin.allocations == [peer])
        #expect(pin.options.expireAt == nil)
        #expect(pin.options.metadata == ["a": "b"])
        #expect(pin.timestamp.rfc3339 == "2026-11-27T10:00:00.500Z")
        let out = try JSONSerialization.jsonObject(with: JSONEncoder().encode(pin)) as! [String: Any]
        let fields: Set<String> = [
            "replication_factor_min", "replication_factor_max", "name", "mode", "shard_size", "user_allocations", "expire_at",
            "metadata", "pin_update", "origins", "cid", "type", "allocations", "max_depth", "reference", "timestamp",
        ]
        #expect(Set(out.keys) == fields)
        #expect(out["type"] as? String == "pin")
        #expect(out["mode"] as? String == "recursive")
        #expect(out["expire_at"] as? String == "0001-01-01T00:00:00Z")
        #expect(out["user_allocations"] is NSNull)
        #expect(try JSONDecoder().decode(Pin.self, from: JSONEncoder().encode(pin)) == pin)
    }

    @Test func badJSONSaysWhichField() throws {
        for (json, mention) in [
            (#"{"cid":"\#(cid(1))","type":"bogus"}"#, "type"),
            (#"{"cid":"\#(cid(1))","mode":"sideways"}"#, "mode"),
            (#"{"cid":"\#(cid(1))","expire_at":"tomorrow"}"#, "expire_at"),
            (#"{"cid":"nope"}"#, ""),
        ] {
            #expect(throws: (any Error).self, "\(mention)") { try JSONDecoder().decode(Pin.self, from: Data(json.utf8)) }
        }
    }
}

/// Every limit of the pinset's formats, at the limit and one past it.
@Suite struct PinsetLimitTests {
    static func links(_ n: Int) -> [CID] { (0..<n).map { CID.v1(codec: .dagCBOR, cid($0).multihash) }.sorted() }

    @Test func parentsAtAndPastTheLimit() throws {
        let r = replica(1)
        var at = DeltaNode(parents: Self.links(DeltaNode.maxParents), height: 2, author: r.id, adds: [fixturePin(1)], removes: [])
        at.sign(with: r.key)
        #expect(try DeltaNode(decoding: at.encoded()).parents.count == DeltaNode.maxParents)
        var past = DeltaNode(parents: Self.links(DeltaNode.maxParents + 1), height: 2, author: r.id, adds: [fixturePin(1)], removes: [])
        past.sign(with: r.key)
        #expect(throws: PinsetError.self) { try DeltaNode(decoding: past.encoded()) }
    }

    @Test func nodeSizeAtAndPastTheLimit() throws {
        let r = replica(1)
        // Grow a node's name field until its encoding is exactly maxBytes, then one more.
        func node(nameBytes: Int) -> [UInt8] {
            var pins: [Pin] = []
            var left = nameBytes
            var n = 0
            while left > 0 {
                var p = fixturePin(n)
                p.options.name = String(repeating: "x", count: min(left, PinCodec.maxStringBytes))
                left -= min(left, PinCodec.maxStringBytes)
                pins.append(p)
                n += 1
            }
            var d = DeltaNode(parents: [], height: 1, author: r.id, adds: pins, removes: [])
            d.sign(with: r.key)
            return d.encoded()
        }
        var lo = 50_000, hi = 60_000
        while lo < hi {  // the largest name total that still fits
            let mid = (lo + hi + 1) / 2
            if node(nameBytes: mid).count <= DeltaNode.maxBytes { lo = mid } else { hi = mid - 1 }
        }
        let fits = node(nameBytes: lo), over = node(nameBytes: lo + 1)
        #expect(fits.count <= DeltaNode.maxBytes && fits.count > DeltaNode.maxBytes - 8)
        #expect(over.count > DeltaNode.maxBytes)
        #expect(throws: Never.self) { try DeltaNode(decoding: fits) }
        do {
            _ = try DeltaNode(decoding: over)
            Issue.record("accepted a node over the limit")
        } catch { #expect(error.code == .tooLarge) }
    }

    @Test func syncMessageListsAtAndPastTheLimit() throws {
        let at = Self.links(PinsetAnnouncement.maxHeads), past = Self.links(PinsetAnnouncement.maxHeads + 1)
        #expect(try PinsetFetchRequest(decoding: PinsetFetchRequest(want: at, have: at).encoded()).have.count == at.count)
        #expect(throws: PinsetError.self) { try PinsetFetchRequest(decoding: PinsetFetchRequest(want: past, have: []).encoded()) }
        #expect(throws: PinsetError.self) { try PinsetFetchRequest(decoding: PinsetFetchRequest(want: [], have: past).encoded()) }
        let blocksAt = Self.links(PinsetBlocksRequest.maxBlocks)
        #expect(try PinsetBlocksRequest(decoding: PinsetBlocksRequest(cids: blocksAt).encoded()).cids.count == blocksAt.count)
        #expect(throws: PinsetError.self) {
            try PinsetBlocksRequest(decoding: PinsetBlocksRequest(cids: Self.links(PinsetBlocksRequest.maxBlocks + 1)).encoded())
        }
        // A fetch response page of exactly maxBytes of nodes decodes; one byte more does not.
        let exact = PinsetFetchResponse(nodes: [[UInt8](repeating: 1, count: PinsetFetchResponse.maxBytes)], remaining: 0, heads: [])
        #expect(try PinsetFetchResponse(decoding: exact.encoded()).nodes[0].count == PinsetFetchResponse.maxBytes)
        let over = PinsetFetchResponse(nodes: [[UInt8](repeating: 1, count: PinsetFetchResponse.maxBytes + 1)], remaining: 0, heads: [])
        #expect(throws: PinsetError.self) { try PinsetFetchResponse(decoding: over.encoded()) }
    }

    @Test func snapshotListsAtAndPastTheLimit() throws {
        let heads = (0..<SnapshotCover.maxEntries).map { PinsetSnapshot.Head(cid: CID.v1(codec: .dagCBOR, cid($0).multihash), height: 1) }
            .sorted { $0.cid.bytes.lexicographicallyPrecedes($1.cid.bytes) }
        #expect(try SnapshotCover.decode(SnapshotCover.encode(heads[...])).count == SnapshotCover.maxEntries)
        let extra = PinsetSnapshot.Head(cid: CID.v1(codec: .dagCBOR, cid(99_999).multihash), height: 1)
        let past = (heads + [extra]).sorted { $0.cid.bytes.lexicographicallyPrecedes($1.cid.bytes) }
        #expect(throws: PinsetError.self) { try SnapshotCover.decode(SnapshotCover.encode(past[...])) }
        let chunks = Self.links(PinsetSnapshot.maxLinks)
        #expect(try SnapshotIndex.decode(SnapshotIndex.encode(chunks)).count == PinsetSnapshot.maxLinks)
        #expect(throws: PinsetError.self) { try SnapshotIndex.decode(SnapshotIndex.encode(Self.links(PinsetSnapshot.maxLinks + 1))) }
    }
}

/// Timestamps as RFC 3339 text, against Foundation's ISO 8601 formatter (what it replaced:
/// a formatter made per call cost more than the JSON around it).
@Suite struct TimestampTextTests {
    static func reference() -> ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }

    @Test func formatsAndParsesAsFoundationDoes() {
        let f = Self.reference()
        var rng = SplitMix64(seed: 7)
        // From 1900 to 2400, with the edges of days, months and leap years.
        var samples: [Int64] = [0, -1, 1, 86_399_999, 86_400_000, 951_782_400_000, 4_107_542_399_999, -2_208_988_800_000, 1_795_799_970_179]
        for _ in 0..<2_000 { samples.append(Int64(rng.next() % 13_569_465_600_000) - 2_208_988_800_000) }
        for ms in samples {
            let t = Timestamp(unixMillis: ms)
            #expect(t.rfc3339 == f.string(from: t.date), "\(ms)")
            #expect(Timestamp(rfc3339: t.rfc3339) == t, "\(ms)")
        }
    }

    @Test func parsesOffsetsFractionsAndRefusesMalformedText() {
        let base = Timestamp(unixMillis: 1_795_799_970_000)
        #expect(Timestamp(rfc3339: "2026-11-27T17:19:30Z") == base)
        #expect(Timestamp(rfc3339: "2026-11-27t17:19:30z") == base)
        #expect(Timestamp(rfc3339: "2026-11-27T19:19:30+02:00") == base)
        #expect(Timestamp(rfc3339: "2026-11-27T15:49:30-01:30") == base)
        #expect(Timestamp(rfc3339: "2026-11-27T17:19:30.5Z")?.unixMillis == base.unixMillis + 500)
        // Go writes nanoseconds: digits past the millisecond are dropped.
        #expect(Timestamp(rfc3339: "2026-11-27T17:19:30.123456789Z")?.unixMillis == base.unixMillis + 123)
        #expect(Timestamp(rfc3339: "2024-02-29T00:00:00Z") != nil)
        #expect(Timestamp(rfc3339: "0001-01-01T00:00:00Z")?.unixMillis == -62_135_596_800_000)
        for bad in [
            "", "2026-11-27", "2026-11-27T14:39:30", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
            "2026-11-27T24:00:00Z", "2026-11-27T14:60:00Z", "2026-11-27T14:39:30.Z", "2026-11-27T14:39:30+0200",
            "2026-11-27T14:39:30Z ", "2026-11-27 14:39:30Z", "２０２６-11-27T14:39:30Z", "2026-11-27T14:39:30+24:00",
        ] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad.debugDescription)")
        }
    }
}
