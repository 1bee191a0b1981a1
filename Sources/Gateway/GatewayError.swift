public import CodedError

/// A gateway request that cannot be answered as asked, with the HTTP status it is answered with
/// and a message saying what was wrong and what to do.
public struct GatewayError: CodedError {
    public let code: ErrorCode<GatewayError>
    public let message: String

    public init(_ code: ErrorCode<GatewayError>, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The HTTP status this error is answered with.
    public var status: Int {
        switch code {
        case .badRequest: 400
        case .notFound: 404
        case .notAcceptable: 406
        case .preconditionFailed: 412
        case .rangeNotSatisfiable: 416
        case .notImplemented: 501
        case .timeout: 504
        default: 500
        }
    }
}

extension ErrorCode where Domain == GatewayError {
    /// A malformed path, CID, query parameter or header (400).
    public static let badRequest = Self("badRequest")
    /// The path names nothing in the DAG, or no one has a block it needs (404).
    public static let notFound = Self("notFound")
    /// The response format asked for cannot be produced for this content (406).
    public static let notAcceptable = Self("notAcceptable")
    /// `Cache-Control: only-if-cached` and the root block is not stored here (412).
    public static let preconditionFailed = Self("preconditionFailed")
    /// A `Range` that selects no byte of the content (416).
    public static let rangeNotSatisfiable = Self("rangeNotSatisfiable")
    /// A namespace or feature the gateway does not serve: `/ipns/`, pathing into dag-cbor (501).
    public static let notImplemented = Self("notImplemented")
    /// A block needed was not obtained within the gateway's bound (504).
    public static let timeout = Self("timeout")
    /// A stored block is corrupt or undecodable (500).
    public static let `internal` = Self("internal")
}
