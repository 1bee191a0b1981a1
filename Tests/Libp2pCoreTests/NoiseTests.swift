import ClusterTestKit
import Multiformats
import Sodium
import Testing
@testable import Libp2pCore

@Suite struct NoiseTests {
    let v = Libp2pVectors.shared.noise

    func identity(_ seed: String, _ staticKey: String) throws -> Libp2pNoiseIdentity {
        Libp2pNoiseIdentity(
            identity: try Ed25519.PrivateKey(seed: Hex.bytes(seed)),
            staticKey: try X25519.PrivateKey(rawRepresentation: Hex.bytes(staticKey)))
    }

    @Test("our handshake writes py-libp2p's bytes with the same keys and reads its payloads")
    func vectors() throws {
        let ini = try identity(v.init_identity_seed, v.init_static)
        let res = try identity(v.resp_identity_seed, v.resp_static)
        #expect(ini.peerID.description == v.init_peer_id)
        #expect(res.peerID.description == v.resp_peer_id)
        #expect(Hex.string(ini.payload) == v.payloads[2])
        #expect(Hex.string(res.payload) == v.payloads[1])
        var i = Libp2pNoiseHandshake(
            initiator: true, local: ini, ephemeral: try X25519.PrivateKey(rawRepresentation: Hex.bytes(v.init_ephemeral)),
            expectedPeer: try PeerID(v.resp_peer_id))
        var r = Libp2pNoiseHandshake(
            initiator: false, local: res, ephemeral: try X25519.PrivateKey(rawRepresentation: Hex.bytes(v.resp_ephemeral)))
        let framed = { (hex: String) in Libp2pNoiseHandshake.frame(Hex.bytes(hex)) }
        #expect(i.start() == framed(v.messages[0]))
        guard case .pending(let m2) = r.receive(framed(v.messages[0])) else { Issue.record("responder did not answer"); return }
        #expect(m2 == framed(v.messages[1]))
        guard case .complete(let m3, let rp, _, var it, _) = i.receive(m2) else { Issue.record("initiator did not finish"); return }
        #expect(m3 == framed(v.messages[2]))
        #expect(rp.description == v.resp_peer_id)
        guard case .complete(let none, let ip, _, var rt, _) = r.receive(m3) else { Issue.record("responder did not finish"); return }
        #expect(none.isEmpty)
        #expect(ip.description == v.init_peer_id)
        for t in v.transport {
            var out: [UInt8] = []
            if t.from == "initiator" { it.seal(Hex.bytes(t.plaintext), into: &out) } else { rt.seal(Hex.bytes(t.plaintext), into: &out) }
            #expect(out == framed(t.ciphertext))
            var plain: [UInt8] = []
            if t.from == "initiator" { try rt.open(out, into: &plain) } else { try it.open(out, into: &plain) }
            #expect(plain == Hex.bytes(t.plaintext))
        }
    }

    @Test("a dial to another peer ID fails with unexpectedPeer")
    func unexpectedPeer() throws {
        let ini = try identity(v.init_identity_seed, v.init_static)
        let res = try identity(v.resp_identity_seed, v.resp_static)
        var i = Libp2pNoiseHandshake(initiator: true, local: ini, ephemeral: .generate(), expectedPeer: ini.peerID)
        var r = Libp2pNoiseHandshake(initiator: false, local: res, ephemeral: .generate())
        guard case .pending(let m2) = r.receive(i.start()) else { Issue.record("no message 2"); return }
        guard case .failed(let e) = i.receive(m2) else { Issue.record("accepted the wrong peer"); return }
        #expect(e.code == .unexpectedPeer)
    }

    @Test("a tampered handshake message fails authentication")
    func tampered() throws {
        let ini = try identity(v.init_identity_seed, v.init_static)
        let res = try identity(v.resp_identity_seed, v.resp_static)
        var i = Libp2pNoiseHandshake(initiator: true, local: ini, ephemeral: .generate())
        var r = Libp2pNoiseHandshake(initiator: false, local: res, ephemeral: .generate())
        guard case .pending(var m2) = r.receive(i.start()) else { Issue.record("no message 2"); return }
        m2[50] ^= 1
        guard case .failed(let e) = i.receive(m2) else { Issue.record("accepted"); return }
        #expect(e.code == .authenticationFailed)
    }

    @Test("RSA and ECDSA identities signed by py-libp2p and cryptography verify; secp256k1 is refused as unsupported; a bad signature fails")
    func otherKeyTypes() throws {
        let s = Libp2pVectors.shared.signatures
        for k in s.keys {
            let key = try LibP2PPublicKey(protobuf: Hex.bytes(k.key))
            #expect(try Libp2pKeyVerifier.peerID(of: key).description == k.peer_id)
            let result = Result { () throws(Libp2pProtocolError) in
                try Libp2pKeyVerifier.verify(key, signature: Hex.bytes(k.signature), message: Hex.bytes(s.signed))
            }
            switch (k.type, k.verifies, result) {
            case (_, true, .success): break
            case ("secp256k1", false, .failure(let e)): #expect(e.code == .unsupportedKey)
            case (_, false, .failure(let e)): #expect(e.code == .badIdentity)
            default: Issue.record("\(k.type) verifies=\(k.verifies) gave \(result)")
            }
        }
    }

    @Test("payloads: round trip with muxers, every truncation refused, required fields, field limits")
    func payloadCodec() throws {
        let p = NoiseHandshakePayload(identityKey: [1, 2, 3], identitySignature: [4, 5], streamMuxers: ["/yamux/1.0.0"])
        #expect(try NoiseHandshakePayload(decoding: p.encoded) == p)
        let bytes = p.encoded
        let withoutExtensions = NoiseHandshakePayload(identityKey: [1, 2, 3], identitySignature: [4, 5]).encoded.count
        for n in 1..<bytes.count where n != withoutExtensions {
            #expect(throws: Libp2pProtocolError.self) { try NoiseHandshakePayload(decoding: Array(bytes.prefix(n))) }
        }
        #expect(throws: Libp2pProtocolError.self) { try NoiseHandshakePayload(decoding: []) }
        let atLimit = NoiseHandshakePayload(identityKey: [UInt8](repeating: 1, count: NoiseHandshakePayload.maxKeyBytes), identitySignature: [1])
        #expect(try NoiseHandshakePayload(decoding: atLimit.encoded) == atLimit)
        let over = NoiseHandshakePayload(identityKey: [UInt8](repeating: 1, count: NoiseHandshakePayload.maxKeyBytes + 1), identitySignature: [1])
        #expect(throws: Libp2pProtocolError.self) { try NoiseHandshakePayload(decoding: over.encoded) }
        #expect(throws: Libp2pProtocolError.self) { try NoiseHandshakePayload(decoding: [0x0b, 0x01]) }  // wire type 3
        #expect(throws: Libp2pProtocolError.self) { try NoiseHandshakePayload(decoding: [UInt8](repeating: 0, count: NoiseHandshakePayload.maxBytes + 1)) }
        let muxers = NoiseHandshakePayload(identityKey: [1], identitySignature: [1], streamMuxers: (0...NoiseHandshakePayload.maxMuxers).map { "/m\($0)" })
        #expect(throws: Libp2pProtocolError.self) { try NoiseHandshakePayload(decoding: muxers.encoded) }
    }

    @Test("transport: plaintext splits into 65519-byte chunks, partial frames wait, a flipped bit fails")
    func transportFrames() throws {
        var a = NoiseTransportCipher(send: SecureBytes([UInt8](repeating: 7, count: 32)), receive: SecureBytes([UInt8](repeating: 8, count: 32)))
        var b = NoiseTransportCipher(send: SecureBytes([UInt8](repeating: 8, count: 32)), receive: SecureBytes([UInt8](repeating: 7, count: 32)))
        let data = (0..<(NoiseTransportCipher.maxPlaintext * 2 + 5)).map { UInt8($0 & 0xff) }
        var wire: [UInt8] = []
        a.seal(data, into: &wire)
        #expect(wire.count == data.count + 3 * 18)
        #expect(Int(wire[0]) << 8 | Int(wire[1]) == NoiseTransportCipher.maxFrame)
        var plain: [UInt8] = []
        for piece in stride(from: 0, to: wire.count, by: 4099) { try b.open(Array(wire[piece..<min(piece + 4099, wire.count)]), into: &plain) }
        #expect(plain == data)
        var more: [UInt8] = []
        a.seal([1, 2, 3], into: &more)
        more[5] ^= 1
        #expect(throws: Libp2pProtocolError.self) { try b.open(more, into: &plain) }
        var c = NoiseTransportCipher(send: SecureBytes([UInt8](repeating: 8, count: 32)), receive: SecureBytes([UInt8](repeating: 7, count: 32)))
        #expect(throws: Libp2pProtocolError.self) { try c.open([0, 3, 1, 2, 3], into: &plain) }
    }
}
