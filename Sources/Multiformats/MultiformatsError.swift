public import CodedError

/// A value that failed to parse or validate, with what was wrong.
///
/// `code` is stable and can be matched; `message` says what was seen and what was expected.
public struct MultiformatsError: CodedError {
    public let code: ErrorCode<MultiformatsError>
    public let message: String

    public init(_ code: ErrorCode<MultiformatsError>, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension ErrorCode where Domain == MultiformatsError {
    /// Input ended before the value did.
    public static let truncated = Self("truncated")
    /// Bytes left after a value that must fill its input.
    public static let trailingBytes = Self("trailingBytes")
    /// A varint over 9 bytes or 63 bits.
    public static let varintOverflow = Self("varintOverflow")
    /// A varint with redundant trailing zero groups.
    public static let varintNotMinimal = Self("varintNotMinimal")
    /// A character outside the encoding's alphabet.
    public static let invalidCharacter = Self("invalidCharacter")
    /// Padding, leftover bits or a length no encoder produces.
    public static let nonCanonical = Self("nonCanonical")
    /// A multibase prefix we do not support.
    public static let unsupportedBase = Self("unsupportedBase")
    /// Input over a documented size limit.
    public static let tooLong = Self("tooLong")
    /// Empty input where a value is required.
    public static let empty = Self("empty")
    /// A digest whose length does not fit its hash function.
    public static let digestLength = Self("digestLength")
    /// A CID version other than 0 or 1, or a v0 that is not sha2-256.
    public static let invalidCID = Self("invalidCID")
    /// A multiaddr protocol we do not know.
    public static let unknownProtocol = Self("unknownProtocol")
    /// A multiaddr component value that is malformed.
    public static let invalidAddress = Self("invalidAddress")
    /// A peer ID that is not a libp2p peer ID.
    public static let invalidPeerID = Self("invalidPeerID")
    /// A key type we cannot use.
    public static let unsupportedKey = Self("unsupportedKey")
}

typealias MFError = MultiformatsError
