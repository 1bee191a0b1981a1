import ClusterTestKit
import Multiformats
import Testing
@testable import Libp2pCore

@Suite struct IdentifyTests {
    @Test("py-libp2p's identify message decodes to its fields")
    func vector() throws {
        let v = Libp2pVectors.shared.identify
        let m = try IdentifyMessage(decoding: Hex.bytes(v.encoded))
        #expect(m.agentVersion == v.agent_version)
        #expect(m.protocolVersion == v.protocol_version)
        #expect(m.protocols == v.protocols)
        #expect(m.listenAddresses.map(\.description) == v.listen_addrs)
        #expect(m.observedAddress?.description == v.observed_addr)
        let key = try LibP2PPublicKey(protobuf: try #require(m.publicKey))
        #expect(try Libp2pKeyVerifier.peerID(of: key).description == v.peer_id)
        #expect(try IdentifyMessage(decoding: m.encoded) == m)
    }

    @Test("every truncation of a message is refused or reads a prefix of its fields, never crashes")
    func truncated() throws {
        let m = IdentifyMessage(
            publicKey: [1, 2], listenAddresses: [try Multiaddr("/ip4/127.0.0.1/tcp/1")], protocols: ["/a", "/b"],
            observedAddress: try Multiaddr("/ip4/127.0.0.1/tcp/2"), agentVersion: "x")
        let bytes = m.encoded
        var refused = 0
        for n in 0..<bytes.count {
            if (try? IdentifyMessage(decoding: Array(bytes.prefix(n)))) == nil { refused += 1 }
        }
        #expect(refused > 0)
    }

    @Test("the protocol and size limits hold at the limit and refuse one over")
    func limits() throws {
        let atLimit = IdentifyMessage(
            publicKey: nil, listenAddresses: [], protocols: (0..<IdentifyMessage.maxProtocols).map { "/p\($0)" }, observedAddress: nil, agentVersion: nil)
        #expect(try IdentifyMessage(decoding: atLimit.encoded).protocols.count == IdentifyMessage.maxProtocols)
        var over = atLimit
        over.protocols.append("/one-more")
        #expect(throws: Libp2pProtocolError.self) { try IdentifyMessage(decoding: over.encoded) }
        let longName = IdentifyMessage(
            publicKey: nil, listenAddresses: [], protocols: [String(repeating: "p", count: IdentifyMessage.maxProtocolBytes + 1)],
            observedAddress: nil, agentVersion: nil)
        #expect(throws: Libp2pProtocolError.self) { try IdentifyMessage(decoding: longName.encoded) }
        #expect(throws: Libp2pProtocolError.self) { try IdentifyMessage(decoding: [UInt8](repeating: 0x08, count: IdentifyMessage.maxBytes + 1)) }
        #expect(throws: Libp2pProtocolError.self) { try IdentifyMessage(decoding: [0x1a, 0x01, 0xff]) }  // protocol not UTF-8
        #expect(throws: Libp2pProtocolError.self) { try IdentifyMessage(decoding: [0x1d, 0, 0, 0, 0]) }  // wire type 5 for a string... read as fixed32, then typed access fails
    }

    @Test("an address this node cannot parse is dropped, not fatal")
    func unknownAddress() throws {
        var w = ProtobufWriter()
        w.bytes(2, [0xff, 0xff, 0x03, 1, 2, 3])
        w.string(6, "agent")
        let m = try IdentifyMessage(decoding: w.bytes)
        #expect(m.listenAddresses.isEmpty)
        #expect(m.agentVersion == "agent")
    }
}
