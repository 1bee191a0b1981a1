public import CodedError

/// Why a libp2p peer's bytes were refused (multistream-select, Noise, yamux, identify, ping).
public struct Libp2pProtocolError: CodedError {
    public let code: ErrorCode<Libp2pProtocolError>
    public let message: String

    public init(_ code: ErrorCode<Libp2pProtocolError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == Libp2pProtocolError {
    /// Bytes that do not parse as the protocol's message.
    public static let malformed = Self("malformed")
    /// A length or count over the protocol's limit.
    public static let tooLarge = Self("tooLarge")
    /// The peer supports none of the protocols proposed.
    public static let noProtocol = Self("noProtocol")
    /// The peer's identity key, signature or peer ID is not acceptable.
    public static let badIdentity = Self("badIdentity")
    /// The peer's key type cannot be verified here.
    public static let unsupportedKey = Self("unsupportedKey")
    /// The peer proved an identity other than the one dialled.
    public static let unexpectedPeer = Self("unexpectedPeer")
    /// A message out of order, or against the protocol's rules.
    public static let protocolViolation = Self("protocolViolation")
    /// A message that failed authentication.
    public static let authenticationFailed = Self("authenticationFailed")
}
