public import CodedError

/// Why a ``KuboPeer`` could not start or a request to it failed.
public struct KuboPeerError: CodedError {
    public let code: ErrorCode<KuboPeerError>
    public let message: String

    public init(_ code: ErrorCode<KuboPeerError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == KuboPeerError {
    /// python3, the harness script or the kubo library is missing.
    public static let unavailable = ErrorCode("kubo.unavailable")
    /// The process did not start or did not report ready in time.
    public static let startFailed = ErrorCode("kubo.startFailed")
    /// No reply within the bound.
    public static let timedOut = ErrorCode("kubo.timedOut")
    /// The process is gone (it exited, or stdout closed).
    public static let exited = ErrorCode("kubo.exited")
    /// kubo answered that the request failed.
    public static let refused = ErrorCode("kubo.refused")
    /// A reply that does not have the fields the request promises.
    public static let badReply = ErrorCode("kubo.badReply")
}
