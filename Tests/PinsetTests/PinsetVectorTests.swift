import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import Pinset
import Sodium
import Testing
import UnixFS

/// `Specs/vectors/pinset.json`, computed by an independent Python implementation.
@Suite struct PinsetVectorTests {
    struct File: Decodable {
        struct PinVector: Decodable {
            let cid: String
            let value: String
            let fields: [String: Field]
        }
        enum Field: Decodable {
            case int(Int64), string(String), strings([String]), map([String: String])
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let i = try? c.decode(Int64.self) { self = .int(i) } else if let s = try? c.decode(String.self) {
                    self = .string(s)
                } else if let a = try? c.decode([String].self) { self = .strings(a) } else { self = .map(try c.decode([String: String].self)) }
            }
        }
        struct Remove: Decodable {
            let key: String
            let ids: [String]
        }
        struct NodeVector: Decodable {
            let unsigned: String
            let signature: String
            let encoded: String
            let cid: String
            let parents: [String]
            let height: UInt64
            let adds: [Int]
            let removes: [Remove]
        }
        let author_seed: String
        let author_peer_id: String
        let pins: [PinVector]
        let nodes: [NodeVector]
        let announcement: String
        let fetch_request: String
        let fetch_response: String
    }

    static func pin(_ v: File.PinVector) throws -> Pin {
        var pin = Pin(cid: try CID(bytes: Hex.bytes(v.cid)))
        for (k, f) in v.fields {
            switch (k, f) {
            case ("allocations", .strings(let a)): pin.allocations = try a.map { try PeerID(bytes: Hex.bytes($0)) }
            case ("timestamp_ms", .int(let t)): pin.timestamp = Timestamp(unixMillis: t)
            case ("name", .string(let n)): pin.options.name = n
            case ("replication_min", .int(let r)): pin.options.replicationFactorMin = Int(r)
            case ("replication_max", .int(let r)): pin.options.replicationFactorMax = Int(r)
            case ("metadata", .map(let m)): pin.options.metadata = m
            case ("type", .int(let t)): pin.type = PinType(rawValue: Int(t))!
            case ("max_depth", .int(let d)): pin.maxDepth = Int(d)
            case ("reference", .string(let r)): pin.reference = try CID(bytes: Hex.bytes(r))
            case ("shard_size", .int(let s)): pin.options.shardSize = UInt64(s)
            case ("expire_at_ms", .int(let e)): pin.options.expireAt = Timestamp(unixMillis: e)
            case ("mode", .string("direct")): pin.options.mode = .direct
            default: Issue.record("unknown vector field \(k)")
            }
        }
        return pin
    }

    @Test func pinValuesMatch() throws {
        let file = try Vectors.json("pinset.json", as: File.self)
        for v in file.pins {
            let pin = try Self.pin(v)
            #expect(Hex.string(PinCodec.encode(pin)) == v.value)
            #expect(try PinCodec.decode(Hex.bytes(v.value), cid: pin.cid) == pin)
        }
    }

    @Test func nodesMatchByteForByte() throws {
        let file = try Vectors.json("pinset.json", as: File.self)
        let key = try Ed25519.PrivateKey(seed: Hex.bytes(file.author_seed))
        let author = try PeerID(ed25519PublicKey: key.publicKey.bytes)
        #expect(Hex.string(author.bytes) == file.author_peer_id)
        var replica = PinsetReplica(seed: 0, store: MemoryPinsetStore())
        for v in file.nodes {
            var node = DeltaNode(
                parents: try v.parents.map { try CID($0) }, height: v.height, author: author,
                adds: try v.adds.map { try Self.pin(file.pins[$0]) },
                removes: try v.removes.map { (try CID(bytes: Hex.bytes($0.key)), try $0.ids.map { try CID($0) }) })
            #expect(Hex.string(node.unsignedEncoding) == v.unsigned)
            node.sign(with: key)
            #expect(Hex.string(node.signature) == v.signature)
            #expect(Hex.string(node.encoded()) == v.encoded)
            #expect(DeltaNode.cid(of: node.encoded()).description == v.cid)
            let decoded = try DeltaNode(decoding: Hex.bytes(v.encoded))
            #expect(decoded == node)
            #expect(decoded.hasValidSignature)
            try replica.receive([Hex.bytes(v.encoded)])
        }
        // After both nodes: the first pin was removed by the second node, which added the second.
        #expect(Array(replica.store.pins.keys) == [try CID(bytes: Hex.bytes(file.pins[1].cid))])
    }

    @Test func syncMessagesMatch() throws {
        let file = try Vectors.json("pinset.json", as: File.self)
        let n1 = try CID(file.nodes[0].cid), n2 = try CID(file.nodes[1].cid)
        let announcement = PinsetAnnouncement(heads: [n2], nodes: [Hex.bytes(file.nodes[1].encoded)])
        #expect(Hex.string(announcement.encoded()) == file.announcement)
        #expect(try PinsetAnnouncement(decoding: Hex.bytes(file.announcement)) == announcement)
        let request = PinsetFetchRequest(want: [], have: [n1])
        #expect(Hex.string(request.encoded()) == file.fetch_request)
        #expect(try PinsetFetchRequest(decoding: Hex.bytes(file.fetch_request)) == request)
        let response = PinsetFetchResponse(nodes: [Hex.bytes(file.nodes[1].encoded)], remaining: 0, heads: [n2])
        #expect(Hex.string(response.encoded()) == file.fetch_response)
        #expect(try PinsetFetchResponse(decoding: Hex.bytes(file.fetch_response)) == response)
    }

    @Test func malformedSyncMessagesAreRefused() throws {
        let link = DagCBOR.link(try CID(Vectors.json("pinset.json", as: File.self).nodes[0].cid))
        let bad: [[UInt8]] = [
            [], [0xff], DagCBOR.list([]).encoded(),
            DagCBOR.map(["h": .list([.int(1)])]).encoded(),
            DagCBOR.map(["h": .list(Array(repeating: link, count: PinsetAnnouncement.maxHeads + 1))]).encoded(),
            DagCBOR.map(["h": .list([link]), "x": .null]).encoded(),
            DagCBOR.map(["h": .list([link]), "n": .list([.bytes([UInt8](repeating: 0, count: PinsetAnnouncement.maxInlineBytes + 1))])]).encoded(),
        ]
        for b in bad { #expect(throws: PinsetError.self) { try PinsetAnnouncement(decoding: b) } }
        // At the limit: exactly maxHeads heads and maxInlineBytes of nodes.
        let full = DagCBOR.map([
            "h": .list(Array(repeating: link, count: PinsetAnnouncement.maxHeads)),
            "n": .list([.bytes([UInt8](repeating: 0, count: PinsetAnnouncement.maxInlineBytes))]),
        ]).encoded()
        #expect(try PinsetAnnouncement(decoding: full).heads.count == PinsetAnnouncement.maxHeads)
        for b in [DagCBOR.map(["r": .int(-1)]).encoded(), DagCBOR.map(["r": .int(0), "n": .int(0)]).encoded(), [0xa0, 0x00]] {
            #expect(throws: PinsetError.self) { try PinsetFetchResponse(decoding: b) }
        }
        #expect(throws: PinsetError.self) { try PinsetFetchRequest(decoding: DagCBOR.map(["w": .bytes([])]).encoded()) }
    }
}

@Suite struct SnapshotCodecTests {
    @Test func buildAndDecodeRoundTrip() throws {
        var a = replica(1)
        try a.commit((0..<2_000).map { .pin(fixturePin($0, name: "n\($0)")) })
        // Make a key with two live elements (concurrent adds).
        var b = replica(2)
        try b.receive(try a.missing(for: []))
        let x = try a.commit([.pin(fixturePin(5, name: "from a"))])
        let y = try b.commit([.pin(fixturePin(5, name: "from b"))])
        try a.receive(y)
        try b.receive(x)
        #expect(a.store.elements(of: cid(5)).count == 2)

        var builder = SnapshotBuilder()
        var count = 0
        for key in a.store.state.keys.sorted() {
            for e in a.store.elements(of: key).sorted(by: { $0.id.bytes.lexicographicallyPrecedes($1.id.bytes) }) {
                builder.add(key, e)
                count += 1
            }
        }
        let heads = a.store.heads().map { PinsetSnapshot.Head(cid: $0, height: a.store.links(of: $0)!.height) }
        let covered = a.store.nodes.map { PinsetSnapshot.Head(cid: $0.key, height: $0.value.links.height) }
        let made = try builder.finish(heads: heads, covered: covered, author: a.id, key: a.key, created: Timestamp(unixMillis: 1))
        let blocks = builder.takeBlocks()
        #expect(blocks.count > 3)
        #expect(blocks.allSatisfy { $0.bytes.count <= DeltaNode.maxBytes && DeltaNode.cid(of: $0.bytes) == $0.cid })
        let root = try PinsetSnapshot(decoding: made.bytes)
        #expect(root == made.root)
        #expect(root.hasValidSignature)
        #expect(root.elements == UInt64(count))
        // Every element comes back, in (key, id) order.
        let byCID = Dictionary(uniqueKeysWithValues: blocks.map { ($0.cid, $0.bytes) })
        let coveredBack = try root.covered.flatMap { try SnapshotCover.decode(byCID[$0]!) }
        #expect(Set(coveredBack) == Set(covered))
        var back: [(CID, PinElement)] = []
        for i in root.indexes { for c in try SnapshotIndex.decode(byCID[i]!) { back += try SnapshotChunk.decode(byCID[c]!) } }
        #expect(back.count == count)
        var state: [CID: [PinElement]] = [:]
        for (k, e) in back { state[k, default: []].append(e) }
        for (k, es) in state { #expect(es.sorted { $0.wins(over: $1) } == a.store.elements(of: k)) }
        // Every encoding is canonical DAG-CBOR.
        for bl in blocks + [(made.cid, made.bytes)] { #expect(try DagCBOR(decoding: bl.bytes).encoded() == bl.bytes) }
    }

    @Test func malformedSnapshotsAreRefused() throws {
        var a = replica(1)
        try a.commit([.pin(fixturePin(1))])
        var builder = SnapshotBuilder()
        builder.add(cid(1), a.store.elements(of: cid(1))[0])
        let made = try builder.finish(
            heads: [PinsetSnapshot.Head(cid: a.store.heads()[0], height: 1)], covered: [PinsetSnapshot.Head(cid: a.store.heads()[0], height: 1)],
            author: a.id, key: a.key, created: Timestamp(unixMillis: 5))
        for n in 0..<made.bytes.count {
            #expect(throws: PinsetError.self) { try PinsetSnapshot(decoding: Array(made.bytes.prefix(n))) }
        }
        var flipped = 0
        for i in made.bytes.indices {
            var t = made.bytes
            t[i] ^= 1
            if let r = try? PinsetSnapshot(decoding: t) {
                #expect(!r.hasValidSignature)
                flipped += 1
            }
        }
        #expect(flipped > 0)
        let chunk = try #require(builder.takeBlocks().first { (try? SnapshotChunk.decode($0.bytes)) != nil }).bytes
        #expect(try SnapshotChunk.decode(DagCBOR.map(["e": .list([])]).encoded()).isEmpty)
        // Elements out of (key, id) order, or repeated, are refused.
        var b2 = replica(2)
        try b2.commit([.pin(fixturePin(2))])
        let e1 = (cid(1), a.store.elements(of: cid(1))[0]), e2 = (cid(2), b2.store.elements(of: cid(2))[0])
        let (first, second) = cid(1).bytes.lexicographicallyPrecedes(cid(2).bytes) ? (e1, e2) : (e2, e1)
        #expect(try SnapshotChunk.decode(SnapshotChunk.encode([first, second])).count == 2)
        #expect(throws: PinsetError.self) { try SnapshotChunk.decode(SnapshotChunk.encode([second, first])) }
        #expect(throws: PinsetError.self) { try SnapshotChunk.decode(SnapshotChunk.encode([first, first])) }
        #expect(throws: PinsetError.self) { try SnapshotChunk.decode(chunk + [0]) }
        #expect(throws: PinsetError.self) { try SnapshotIndex.decode(DagCBOR.map(["c": .list([])]).encoded()) }
        // An empty pinset has no snapshot.
        var empty = SnapshotBuilder()
        #expect(throws: PinsetError.self) { try empty.finish(heads: [], covered: [], author: a.id, key: a.key, created: Timestamp(unixMillis: 0)) }
    }
}

extension PinsetVectorTests {
    struct SnapshotFile: Decodable {
        struct Snap: Decodable {
            let chunk: String
            let index: String
            let cover: String
            let root: String
            let root_cid: String
            let created_ms: Int64
        }
        let author_seed: String
        let nodes: [File.NodeVector]
        let pins: [File.PinVector]
        let snapshot: Snap
    }

    @Test func snapshotBlocksMatch() throws {
        let file = try Vectors.json("pinset.json", as: SnapshotFile.self)
        let key = try Ed25519.PrivateKey(seed: Hex.bytes(file.author_seed))
        let author = try PeerID(ed25519PublicKey: key.publicKey.bytes)
        let node1 = try CID(file.nodes[0].cid)
        var builder = SnapshotBuilder()
        builder.add(try CID(bytes: Hex.bytes(file.pins[0].cid)), PinElement(id: node1, priority: 1, pin: try Self.pin(file.pins[0])))
        let made = try builder.finish(
            heads: [PinsetSnapshot.Head(cid: node1, height: 1)], covered: [PinsetSnapshot.Head(cid: node1, height: 1)], author: author, key: key,
            created: Timestamp(unixMillis: file.snapshot.created_ms))
        let blocks = Set(builder.takeBlocks().map { Hex.string($0.bytes) })
        #expect(blocks == [file.snapshot.chunk, file.snapshot.index, file.snapshot.cover])
        #expect(Hex.string(made.bytes) == file.snapshot.root)
        #expect(made.cid.description == file.snapshot.root_cid)
        #expect(try PinsetSnapshot(decoding: Hex.bytes(file.snapshot.root)).hasValidSignature)
    }
}

extension PinsetVectorTests {
    struct ReallocationFile: Decodable {
        struct Reallocation: Decodable {
            let key: String
            let targets: [String]
            let allocations: [String]
            let value: String
            let unsigned: String
            let signature: String
            let encoded: String
            let cid: String
            let chunk: String
        }
        let author_seed: String
        let nodes: [File.NodeVector]
        let pins: [File.PinVector]
        let reallocation: Reallocation
    }

    /// `reallocation` in `Specs/vectors/pinset.json` (Tests/Compat/make_pinset_reallocation_vectors.py).
    @Test func aReallocationNodeAndItsChunkMatch() throws {
        let file = try Vectors.json("pinset.json", as: ReallocationFile.self)
        let v = file.reallocation
        let key = try Ed25519.PrivateKey(seed: Hex.bytes(file.author_seed))
        let author = try PeerID(ed25519PublicKey: key.publicKey.bytes)
        var pin = try Self.pin(file.pins[1])
        pin.allocations = try v.allocations.map { try PeerID(bytes: Hex.bytes($0)) }
        #expect(Hex.string(PinCodec.encode(pin)) == v.value)
        let node2 = try CID(file.nodes[1].cid)
        var node = DeltaNode(
            parents: [node2], height: file.nodes[1].height + 1, author: author, adds: [], removes: [],
            reallocations: [(try v.targets.map { try CID($0) }, pin)])
        #expect(Hex.string(node.unsignedEncoding) == v.unsigned)
        node.sign(with: key)
        #expect(Hex.string(node.signature) == v.signature)
        #expect(Hex.string(node.encoded()) == v.encoded)
        #expect(DeltaNode.cid(of: node.encoded()).description == v.cid)
        #expect(try DeltaNode(decoding: Hex.bytes(v.encoded)) == node)
        // Applied after the first two nodes: the pin stays, with the new allocations.
        var replica = PinsetReplica(seed: 0, store: MemoryPinsetStore())
        try replica.receive(file.nodes.map { Hex.bytes($0.encoded) } + [Hex.bytes(v.encoded)])
        let element = try #require(replica.store.elements(of: pin.cid).first)
        #expect(element.pin == pin)
        #expect(element.id == node2)
        #expect(element.overlay == PinElement.Overlay(id: try CID(v.cid), priority: node.height))
        #expect(Hex.string(SnapshotChunk.encode([(pin.cid, element)])) == v.chunk)
        #expect(try SnapshotChunk.decode(Hex.bytes(v.chunk)).map(\.element) == [element])
    }
}
