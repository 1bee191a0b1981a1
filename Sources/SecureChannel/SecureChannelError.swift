public import CodedError

/// Why a handshake, record or datagram was refused.
public struct SecureChannelError: CodedError {
    public let code: ErrorCode<SecureChannelError>
    public let message: String

    public init(_ code: ErrorCode<SecureChannelError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == SecureChannelError {
    /// A tag did not verify: wrong cluster secret, tampering, or a replayed handshake message.
    public static let authenticationFailed = Self("authenticationFailed")
    /// The peer's identity payload is malformed or its signature does not verify.
    public static let badIdentity = Self("badIdentity")
    /// The peer proved an identity other than the one dialled.
    public static let unexpectedPeer = Self("unexpectedPeer")
    /// A message of the wrong size or shape for this step.
    public static let malformed = Self("malformed")
    /// The peer speaks another protocol version or shares no record cipher.
    public static let incompatible = Self("incompatible")
    /// The handshake did not finish before its deadline.
    public static let timeout = Self("timeout")
    /// A length over the protocol's limit.
    public static let tooLarge = Self("tooLarge")
    /// A datagram counter already seen or too old.
    public static let replayed = Self("replayed")
    /// A message after the handshake finished or failed, or out of order.
    public static let unexpectedMessage = Self("unexpectedMessage")
}
