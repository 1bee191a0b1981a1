public import CodedError

/// Why a pinset node, operation or setting was refused.
public struct PinsetError: CodedError {
    public let code: ErrorCode<PinsetError>
    public let message: String

    public init(_ code: ErrorCode<PinsetError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == PinsetError {
    /// A node or pin value is not the canonical encoding the spec defines.
    public static let malformed = Self("malformed")
    /// A node, list or batch is over its limit.
    public static let tooLarge = Self("tooLarge")
    /// The signature does not verify against the author's key.
    public static let badSignature = Self("badSignature")
    /// The author is not a trusted peer; its deltas never change the state.
    public static let untrusted = Self("untrusted")
    /// A parent of the node has not been applied yet; fetch the ancestors first.
    public static let missingParents = Self("missingParents")
    /// The node claims a height its parents do not give it.
    public static let badHeight = Self("badHeight")
    /// The write queue is full; retry later or raise `batching.max_queue`.
    public static let queueFull = Self("queueFull")
    /// The storage below the pinset failed; the message says how.
    public static let storage = Self("storage")
}
