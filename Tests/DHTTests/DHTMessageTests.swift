import Multiformats
import Testing
@testable import DHT

@Suite struct DHTMessageTests {
    static let a = try! PeerID("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
    static let b = try! PeerID("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
    static let mh = Multihash.sha256(Array("hello".utf8))

    @Test func roundTripsEveryField() throws {
        let m = DHTMessage(
            type: .getProviders, key: Self.mh.bytes, record: .init(key: [1, 2], value: [3], timeReceived: "2026-12-04T00:00:00Z"),
            closerPeers: [.init(id: Self.a, addresses: [try Multiaddr("/ip4/10.0.0.1/tcp/4001")], connection: .connected)],
            providerPeers: [.init(id: Self.b, addresses: [try Multiaddr("/ip6/::1/tcp/1")])], clusterLevel: 3)
        #expect(try DHTMessage(decoding: m.encoded()) == m)
        // proto3 defaults are not written: a PUT_VALUE with nothing else is empty.
        #expect(DHTMessage(type: .putValue).encoded() == [])
        #expect(try DHTMessage(decoding: []) == DHTMessage(type: .putValue))
    }

    /// Bytes as go-libp2p-kad-dht (gogo protobuf) writes a FIND_NODE request for a peer key:
    /// field 1 (type) = 4, field 2 (key) = the peer ID's bytes, field 10 omitted when zero.
    @Test func matchesGoEncodingOfAFindNode() throws {
        let key = Self.a.bytes
        let expected: [UInt8] = [0x08, 0x04, 0x12, UInt8(key.count)] + key
        #expect(DHTMessage(type: .findNode, key: key).encoded() == expected)
        #expect(try DHTMessage(decoding: expected).key == key)
    }

    @Test func malformedMessagesAreRefused() throws {
        let good = DHTMessage(type: .findNode, key: Self.a.bytes, closerPeers: [.init(id: Self.b, addresses: [])]).encoded()
        // Every truncation fails or yields a message (never a crash).
        for n in 0..<good.count { _ = try? DHTMessage(decoding: Array(good[..<n])) }
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: [0x08, 0x09]) }  // unknown type
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: [0x0A, 0x01, 0x00]) }  // type as bytes
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: [0x42, 0x00]) }  // a peer without id
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: [0x42, 0x03, 0x0A, 0x01, 0xFF]) }  // a bad peer id
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: [0x12, 0x05, 0x01]) }  // key overruns
        // A key at the limit is taken, one byte over refused.
        var w = ProtobufWriter()
        w.bytes(2, [UInt8](repeating: 1, count: DHTMessage.maxKeyBytes))
        #expect(try DHTMessage(decoding: w.bytes).key.count == DHTMessage.maxKeyBytes)
        var over = ProtobufWriter()
        over.bytes(2, [UInt8](repeating: 1, count: DHTMessage.maxKeyBytes + 1))
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: over.bytes) }
        // At most maxPeers peers.
        let peer = DHTMessage.Peer(id: Self.a, addresses: [])
        let full = DHTMessage(type: .findNode, closerPeers: Array(repeating: peer, count: DHTMessage.maxPeers)).encoded()
        #expect(try DHTMessage(decoding: full).closerPeers.count == DHTMessage.maxPeers)
        let tooMany = DHTMessage(type: .findNode, closerPeers: Array(repeating: peer, count: DHTMessage.maxPeers + 1)).encoded()
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: tooMany) }
        // An address that does not parse is dropped, the peer kept.
        var p = ProtobufWriter()
        p.message(8) { m in
            m.bytes(1, Self.a.bytes)
            m.bytes(2, [0xFF, 0xFF, 0x03])
        }
        #expect(try DHTMessage(decoding: p.bytes).closerPeers == [.init(id: Self.a, addresses: [])])
        #expect(throws: MultiformatsError.self) { try DHTMessage(decoding: [UInt8](repeating: 0, count: DHTMessage.maxBytes + 1)) }
    }
}
