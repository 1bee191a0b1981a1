public import CodedError

/// An error of the Pinning Service API: its HTTP status, the spec's `reason` (a code for
/// machines) and `details` (what was wrong and what to do), answered as
/// `{"error":{"reason":"…","details":"…"}}`.
public struct PSAError: CodedError {
    public let code: ErrorCode<PSAError>
    public let status: Int
    public let message: String

    public init(_ code: ErrorCode<PSAError>, status: Int, _ message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    /// The spec's `reason`: the code's name.
    public var reason: String { code.name }

    public static func badRequest(_ message: String) -> PSAError { PSAError(.badRequest, status: 400, message) }
    public static func notFound(_ message: String) -> PSAError { PSAError(.notFound, status: 404, message) }
}

extension ErrorCode where Domain == PSAError {
    public static let badRequest = Self("BAD_REQUEST")
    public static let unauthorized = Self("UNAUTHORIZED")
    public static let notFound = Self("NOT_FOUND")
    /// The cluster cannot hold the pin: not enough peers with room (the spec's 409).
    public static let insufficientFunds = Self("INSUFFICIENT_FUNDS")
    /// The CID's pin holds as many requests as its metadata can store (409).
    public static let tooManyRequests = Self("TOO_MANY_REQUESTS_FOR_CID")
    /// The request's name, meta and origins do not fit the stored record (400).
    public static let requestTooLarge = Self("PIN_REQUEST_TOO_LARGE")
    /// The peer is stopping, or the pinset refused the write for now (503).
    public static let unavailable = Self("SERVICE_UNAVAILABLE")
    /// This peer may not write the pinset (not in its own trusted peers) (403).
    public static let forbidden = Self("FORBIDDEN")
    public static let internalError = Self("INTERNAL_SERVER_ERROR")
}
