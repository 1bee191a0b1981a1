internal import CSodium

/// BLAKE2b (RFC 7693) through libsodium's `crypto_generichash`.
public struct Blake2b: ~Copyable {
    public static let minOutputBytes = 16
    public static let maxOutputBytes = 64
    public static let maxKeyBytes = 64

    /// libsodium's state is 64-byte aligned, so Swift sees it as opaque: it lives on the heap.
    private let state: UnsafeMutableRawPointer
    private let stateBytes: Int
    private let outputBytes: Int

    /// Starts a hash of `outputBytes` (16...64) bytes, keyed when `key` is non-empty (at most 64 bytes).
    public init(outputBytes: Int = 32, key: [UInt8] = []) throws(SodiumError) {
        guard (Blake2b.minOutputBytes...Blake2b.maxOutputBytes).contains(outputBytes) else {
            throw SodiumError(.invalidLength, "BLAKE2b output must be 16 to 64 bytes, got \(outputBytes)")
        }
        guard key.count <= Blake2b.maxKeyBytes else {
            throw SodiumError(.invalidKeyLength, "BLAKE2b key must be at most 64 bytes, got \(key.count)")
        }
        Sodium.ensureInitialized()
        self.outputBytes = outputBytes
        stateBytes = crypto_generichash_statebytes()
        state = .allocate(byteCount: stateBytes, alignment: 64)
        let st = OpaquePointer(state)
        key.withUnsafeBufferPointer { k in
            _ = crypto_generichash_init(st, k.baseAddress, k.count, outputBytes)
        }
    }

    /// Feeds `bytes`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        _ = crypto_generichash_update(OpaquePointer(state), bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    /// Feeds `bytes`.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest; consumes the hasher.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputBytes)
        let (n, st) = (outputBytes, OpaquePointer(state))
        out.withUnsafeMutableBufferPointer { _ = crypto_generichash_final(st, $0.baseAddress!, n) }
        return out
    }

    /// The BLAKE2b digest of `bytes` in one call.
    public static func hash(_ bytes: [UInt8], outputBytes: Int = 32, key: [UInt8] = []) throws(SodiumError) -> [UInt8] {
        var h = try Blake2b(outputBytes: outputBytes, key: key)
        h.update(bytes)
        return h.finalize()
    }

    deinit {
        sodium_memzero(state, stateBytes)
        state.deallocate()
    }
}
