public import CodedError

/// Why a bitswap message or a setting was refused.
public struct BitswapError: CodedError {
    public let code: ErrorCode<BitswapError>
    public let message: String

    public init(_ code: ErrorCode<BitswapError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == BitswapError {
    /// The message ends in the middle of a field.
    public static let truncated = Self("truncated")
    /// A field has the wrong wire type or a value no encoder produces (a bad CID, an unknown enum).
    public static let malformed = Self("malformed")
    /// A message, block, CID or list is over its limit.
    public static let tooLarge = Self("tooLarge")
    /// A setting is out of range; the message names it.
    public static let invalidSetting = Self("invalidSetting")
}
