import ClusterTestKit
import Multiformats
import Sodium
import Testing
@testable import SecureChannel

struct NoiseVectors: Decodable {
    struct Transport: Decodable { let from, plaintext, ciphertext: String }
    struct Vector: Decodable {
        let prologue, psk, init_static, init_ephemeral, resp_static, resp_ephemeral, handshake_hash: String
        let payloads, messages: [String]
        let transport: [Transport]
    }
    let vectors: [Vector]
}

/// Known answers computed by an independent Noise implementation (Specs/vectors/noise-xxpsk0.json).
@Suite struct NoiseVectorTests {
    let v: NoiseVectors = try! Vectors.json("noise-xxpsk0.json")

    @Test func handshakeAndTransportBytesMatch() throws {
        for c in v.vectors {
            let psk = SecureBytes(Hex.bytes(c.psk))
            var i = NoiseHandshake(
                initiator: true, prologue: Hex.bytes(c.prologue), psk: psk,
                staticKey: try X25519.PrivateKey(rawRepresentation: Hex.bytes(c.init_static)),
                ephemeral: try X25519.PrivateKey(rawRepresentation: Hex.bytes(c.init_ephemeral)))
            var r = NoiseHandshake(
                initiator: false, prologue: Hex.bytes(c.prologue), psk: psk,
                staticKey: try X25519.PrivateKey(rawRepresentation: Hex.bytes(c.resp_static)),
                ephemeral: try X25519.PrivateKey(rawRepresentation: Hex.bytes(c.resp_ephemeral)))
            let m1 = try i.write(Hex.bytes(c.payloads[0]))
            #expect(Hex.string(m1) == c.messages[0])
            #expect(try r.read(m1) == Hex.bytes(c.payloads[0]))
            let m2 = try r.write(Hex.bytes(c.payloads[1]))
            #expect(Hex.string(m2) == c.messages[1])
            #expect(try i.read(m2) == Hex.bytes(c.payloads[1]))
            let m3 = try i.write(Hex.bytes(c.payloads[2]))
            #expect(Hex.string(m3) == c.messages[2])
            #expect(try r.read(m3) == Hex.bytes(c.payloads[2]))
            #expect(Hex.string(i.handshakeHash) == c.handshake_hash)
            #expect(i.handshakeHash == r.handshakeHash)
            // The split keys under Noise's transport framing (ChaChaPoly, nonce 0, empty AD).
            let (k1, k2) = i.split()
            for t in c.transport {
                let aead = try AEAD(.chacha20Poly1305, key: t.from == "initiator" ? k1 : k2)
                #expect(Hex.string(try aead.seal(Hex.bytes(t.plaintext), nonce: SymmetricState.nonceBytes(0))) == t.ciphertext)
            }
        }
    }
}
