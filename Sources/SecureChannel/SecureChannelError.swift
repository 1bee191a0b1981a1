/// Why a handshake, record or datagram was refused.
public struct SecureChannelError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// A tag did not verify: wrong cluster secret, tampering, or a replayed handshake message.
        public static let authenticationFailed = Code(name: "authenticationFailed")
        /// The peer's identity payload is malformed or its signature does not verify.
        public static let badIdentity = Code(name: "badIdentity")
        /// The peer proved an identity other than the one dialled.
        public static let unexpectedPeer = Code(name: "unexpectedPeer")
        /// A message of the wrong size or shape for this step.
        public static let malformed = Code(name: "malformed")
        /// The peer speaks another protocol version or shares no record cipher.
        public static let incompatible = Code(name: "incompatible")
        /// The handshake did not finish before its deadline.
        public static let timeout = Code(name: "timeout")
        /// A length over the protocol's limit.
        public static let tooLarge = Code(name: "tooLarge")
        /// A datagram counter already seen or too old.
        public static let replayed = Code(name: "replayed")
        /// A message after the handshake finished or failed, or out of order.
        public static let unexpectedMessage = Code(name: "unexpectedMessage")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
