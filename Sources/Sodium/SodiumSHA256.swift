internal import CSodium

/// SHA-256 and HMAC-SHA-256 through libsodium: portable and slower than swift-crypto's
/// (about 0.25 GB/s here), meant for small inputs such as handshake transcripts.
public enum SodiumSHA256 {
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { _ = crypto_hash_sha256(o.baseAddress!, $0.baseAddress, UInt64($0.count)) }
        }
        return out
    }

    /// HMAC-SHA-256 with a key of any length (RFC 2104).
    public static func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        Sodium.ensureInitialized()
        var state = crypto_auth_hmacsha256_state()
        var out = [UInt8](repeating: 0, count: 32)
        // libsodium wants a pointer even for an empty key.
        let keyLength = key.count
        (key.isEmpty ? [0] : key).withUnsafeBufferPointer { _ = crypto_auth_hmacsha256_init(&state, $0.baseAddress!, keyLength) }
        data.withUnsafeBufferPointer { _ = crypto_auth_hmacsha256_update(&state, $0.baseAddress, UInt64($0.count)) }
        out.withUnsafeMutableBufferPointer { _ = crypto_auth_hmacsha256_final(&state, $0.baseAddress!) }
        withUnsafeMutableBytes(of: &state) { sodium_memzero($0.baseAddress!, $0.count) }
        return out
    }
}
