internal import CSodium

/// Safe Swift access to libsodium.
///
/// Every entry point in this module calls ``Sodium/ensureInitialized()`` first, so callers never
/// see an uninitialised library. No C pointer escapes this module: inputs are Swift arrays or
/// buffers borrowed for the duration of a call, and outputs are Swift-owned.
public enum Sodium {
    private static let initResult: Int32 = sodium_init()

    /// Initialises libsodium once per process (idempotent, thread-safe).
    public static func ensureInitialized() {
        precondition(initResult >= 0, "libsodium failed to initialise (sodium_init returned \(initResult))")
    }

    /// The libsodium version string, e.g. "1.0.18".
    public static var versionString: String {
        ensureInitialized()
        return String(cString: sodium_version_string())
    }

    /// Compares two byte sequences in time that depends only on their length.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        ensureInitialized()
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
        }
    }
}

/// An error from a libsodium operation.
public struct SodiumError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable identifier.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }
        public static let invalidKeyLength = Code(name: "invalidKeyLength")
        public static let invalidNonceLength = Code(name: "invalidNonceLength")
        public static let invalidLength = Code(name: "invalidLength")
        public static let authenticationFailed = Code(name: "authenticationFailed")
        public static let weakPublicKey = Code(name: "weakPublicKey")
        public static let streamFinished = Code(name: "streamFinished")
        public static let unavailable = Code(name: "unavailable")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func length(_ what: String, expected: Int, got: Int) -> SodiumError {
        SodiumError(.invalidLength, "\(what) must be \(expected) bytes, got \(got)")
    }
}
