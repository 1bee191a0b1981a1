internal import CSodium
public import CodedError

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
public struct SodiumError: CodedError {
    public let code: ErrorCode<SodiumError>
    public let message: String

    public init(_ code: ErrorCode<SodiumError>, _ message: String) {
        self.code = code
        self.message = message
    }

    static func length(_ what: String, expected: Int, got: Int) -> SodiumError {
        SodiumError(.invalidLength, "\(what) must be \(expected) bytes, got \(got)")
    }
}

extension ErrorCode where Domain == SodiumError {
    public static let invalidKeyLength = Self("invalidKeyLength")
    public static let invalidNonceLength = Self("invalidNonceLength")
    public static let invalidLength = Self("invalidLength")
    public static let authenticationFailed = Self("authenticationFailed")
    public static let weakPublicKey = Self("weakPublicKey")
    public static let streamFinished = Self("streamFinished")
    public static let unavailable = Self("unavailable")
}
