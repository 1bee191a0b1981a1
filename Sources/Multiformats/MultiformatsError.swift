/// A value that failed to parse or validate, with what was wrong.
///
/// `code` is stable and can be matched; `message` says what was seen and what was expected.
public struct MultiformatsError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// Input ended before the value did.
        public static let truncated = Code(name: "truncated")
        /// Bytes left after a value that must fill its input.
        public static let trailingBytes = Code(name: "trailingBytes")
        /// A varint over 9 bytes or 63 bits.
        public static let varintOverflow = Code(name: "varintOverflow")
        /// A varint with redundant trailing zero groups.
        public static let varintNotMinimal = Code(name: "varintNotMinimal")
        /// A character outside the encoding's alphabet.
        public static let invalidCharacter = Code(name: "invalidCharacter")
        /// Padding, leftover bits or a length no encoder produces.
        public static let nonCanonical = Code(name: "nonCanonical")
        /// A multibase prefix we do not support.
        public static let unsupportedBase = Code(name: "unsupportedBase")
        /// Input over a documented size limit.
        public static let tooLong = Code(name: "tooLong")
        /// Empty input where a value is required.
        public static let empty = Code(name: "empty")
        /// A digest whose length does not fit its hash function.
        public static let digestLength = Code(name: "digestLength")
        /// A CID version other than 0 or 1, or a v0 that is not sha2-256.
        public static let invalidCID = Code(name: "invalidCID")
        /// A multiaddr protocol we do not know.
        public static let unknownProtocol = Code(name: "unknownProtocol")
        /// A multiaddr component value that is malformed.
        public static let invalidAddress = Code(name: "invalidAddress")
        /// A peer ID that is not a libp2p peer ID.
        public static let invalidPeerID = Code(name: "invalidPeerID")
        /// A key type we cannot use.
        public static let unsupportedKey = Code(name: "unsupportedKey")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

typealias MFError = MultiformatsError
