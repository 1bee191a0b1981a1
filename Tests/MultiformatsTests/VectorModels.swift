import ClusterTestKit

struct ErrorCase: Decodable {
    let error: String
    let hex: String?
    let text: String?
}

struct VarintVectors: Decodable {
    struct Valid: Decodable { let hex: String; let value: UInt64 }
    let valid: [Valid]
    let invalid: [ErrorCase]
}

struct MultibaseVectors: Decodable {
    struct Valid: Decodable { let hex: String; let encodings: [String: String] }
    struct DecodeOnly: Decodable { let text, hex: String }
    let valid: [Valid]
    let decode_only: [DecodeOnly]
    let invalid: [ErrorCase]
}

struct MultihashVectors: Decodable {
    struct Valid: Decodable { let name: String; let code: UInt64; let digest, hex: String; let data_hex: String? }
    let valid: [Valid]
    let invalid: [ErrorCase]
}

struct CIDVectors: Decodable {
    struct Valid: Decodable {
        let text: String
        let version: Int
        let codec: UInt64
        let multihash_hex, binary_hex, v1_base32, v1_base36, v1_base58btc, v0: String?
    }
    let valid: [Valid]
    let invalid: [ErrorCase]
}

struct PeerIDVectors: Decodable {
    struct Ed: Decodable { let seed, public_key, public_key_protobuf, peer_id, cid_base32, cid_base36: String }
    struct Legacy: Decodable { let peer_id: String }
    let ed25519: [Ed]
    let legacy_sha256: [Legacy]
    let invalid: [ErrorCase]
}

struct MultiaddrVectors: Decodable {
    struct Valid: Decodable { let text, hex: String }
    struct Canonical: Decodable { let text, canonical: String }
    let valid: [Valid]
    let canonicalised: [Canonical]
    let invalid: [ErrorCase]
    let invalid_binary: [ErrorCase]
}
