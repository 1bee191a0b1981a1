internal import CSodium

/// Secret bytes (keys, seeds, session secrets) that are zeroed when released.
///
/// Immutable after creation. Equality is constant-time. `description` never prints the bytes.
public final class SecureBytes: @unchecked Sendable, Equatable, CustomStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    /// The number of bytes held.
    public var count: Int { trimmedCount }

    /// Copies `bytes`; the caller remains responsible for its own copy.
    public init(_ bytes: some Collection<UInt8>) {
        Sodium.ensureInitialized()
        storage = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
        _ = UnsafeMutableRawBufferPointer(rebasing: storage[0..<bytes.count]).initializeMemory(as: UInt8.self, from: bytes)
        if bytes.isEmpty { storage[0] = 0 }
        trimmedCount = bytes.count
    }

    /// Creates `count` bytes filled by `fill`, which receives a buffer of exactly that size.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ensureInitialized()
        storage = .allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        trimmedCount = count
        try fill(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// `count` random bytes from libsodium's CSPRNG.
    public static func random(count: Int) -> SecureBytes {
        SecureBytes(count: count) { buf in
            if buf.count > 0 { randombytes_buf(buf.baseAddress!, buf.count) }
        }
    }

    private let trimmedCount: Int

    /// Borrows the bytes for the duration of `body`; the pointer must not escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<trimmedCount]))
    }

    /// A copy of the bytes as an array (for serialisation into a protected file, or tests).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    deinit {
        sodium_memzero(storage.baseAddress!, storage.count)
        storage.deallocate()
    }

    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool {
        guard lhs.trimmedCount == rhs.trimmedCount else { return false }
        if lhs.trimmedCount == 0 { return true }
        return sodium_memcmp(lhs.storage.baseAddress!, rhs.storage.baseAddress!, lhs.trimmedCount) == 0
    }

    public var description: String { "SecureBytes(\(trimmedCount) bytes, redacted)" }
}

/// Random bytes from libsodium's CSPRNG.
public enum SodiumRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 { out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) } }
        return out
    }

    /// A uniformly random integer in `0..<upperBound` (upperBound > 0).
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        precondition(upperBound > 0, "upperBound must be positive")
        Sodium.ensureInitialized()
        return randombytes_uniform(upperBound)
    }
}
