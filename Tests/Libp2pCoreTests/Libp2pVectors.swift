import ClusterTestKit

/// Specs/vectors/libp2p.json (made by Tests/Compat/make_libp2p_vectors.py with py-libp2p).
struct Libp2pVectors: Decodable {
    struct Text: Decodable { let text, encoded: String }
    struct Transport: Decodable { let from, plaintext, ciphertext: String }
    struct Noise: Decodable {
        let init_identity_seed, resp_identity_seed, init_static, init_ephemeral, resp_static, resp_ephemeral: String
        let init_peer_id, resp_peer_id, handshake_hash: String
        let payloads, messages: [String]
        let transport: [Transport]
    }
    struct Signature: Decodable { let type, key, signature, peer_id: String; let verifies: Bool }
    struct Signatures: Decodable { let static_public, signed: String; let keys: [Signature] }
    struct Yamux: Decodable { let type: String; let flags: UInt16; let stream, length: UInt32; let encoded: String }
    struct Identify: Decodable {
        let encoded, agent_version, protocol_version, observed_addr, peer_id: String
        let listen_addrs, protocols: [String]
    }
    let multistream: [Text]
    let noise: Noise
    let signatures: Signatures
    let yamux: [Yamux]
    let identify: Identify

    static let shared: Libp2pVectors = try! Vectors.json("libp2p.json")
}
