public import CodedError

/// Why a pubsub frame or a setting was refused.
public struct GossipError: CodedError {
    public let code: ErrorCode<GossipError>
    public let message: String

    public init(_ code: ErrorCode<GossipError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == GossipError {
    /// The frame ends in the middle of a field.
    public static let truncated = Self("truncated")
    /// A field has the wrong wire type, a bad value, or is not valid UTF-8.
    public static let malformed = Self("malformed")
    /// A frame, field or list is over its limit.
    public static let tooLarge = Self("tooLarge")
    /// A setting is out of range; the message names it.
    public static let invalidSetting = Self("invalidSetting")
}
