public import CodedError

/// Why a dial, a stream or the host failed, in words a user can act on.
public struct Libp2pError: CodedError {
    public let code: ErrorCode<Libp2pError>
    public let message: String

    public init(_ code: ErrorCode<Libp2pError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == Libp2pError {
    /// The address cannot be dialled (not /ip4|ip6|dns*/…/tcp/N[/p2p/ID]).
    public static let badAddress = Self("badAddress")
    /// TCP failed: refused, unreachable, name not resolved.
    public static let dialFailed = Self("dialFailed")
    /// A phase of the dial or handshake did not finish in time.
    public static let timeout = Self("timeout")
    /// The peer broke a protocol (multistream, Noise, yamux) or proved another identity.
    public static let handshakeFailed = Self("handshakeFailed")
    /// The peer supports none of the protocols asked for.
    public static let protocolNotSupported = Self("protocolNotSupported")
    /// No connection to the peer and no known address to dial.
    public static let notConnected = Self("notConnected")
    /// The stream was reset or its connection closed.
    public static let streamClosed = Self("streamClosed")
    /// A message over the reader's limit.
    public static let tooLarge = Self("tooLarge")
    /// Too many streams on the connection, or the peer is going away.
    public static let limitReached = Self("limitReached")
    /// The host is not started, or shut down.
    public static let notRunning = Self("notRunning")
}
