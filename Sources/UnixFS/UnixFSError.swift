import Multiformats
public import CodedError

/// A block, DAG or import that is malformed or over a limit, with what was wrong.
public struct UnixFSError: CodedError {
    public let code: ErrorCode<UnixFSError>
    public let message: String

    public init(_ code: ErrorCode<UnixFSError>, _ message: String) {
        self.code = code
        self.message = message
    }

    init(_ error: MultiformatsError, context: String) {
        self.init(.multiformat, "\(context): \(error.message)")
    }

    public var description: String { message }
}

extension ErrorCode where Domain == UnixFSError {
    /// Input ended inside a field.
    public static let truncated = Self("truncated")
    /// A field out of the canonical order, repeated, unknown, or of the wrong wire type.
    public static let nonCanonical = Self("nonCanonical")
    /// A required field is missing.
    public static let missingField = Self("missingField")
    /// A value that is out of range or inconsistent (sizes that do not add up, unknown type).
    public static let invalidValue = Self("invalidValue")
    /// Over a documented size limit.
    public static let tooLarge = Self("tooLarge")
    /// A block whose bytes do not hash to its CID.
    public static let hashMismatch = Self("hashMismatch")
    /// A block the DAG needs is not available.
    public static let missingBlock = Self("missingBlock")
    /// A CID, multihash or other multiformat inside the data is malformed.
    public static let multiformat = Self("multiformat")
    /// An option that is not supported (a chunker spec, a hash function, a profile).
    public static let unsupported = Self("unsupported")
    /// Not a UnixFS node of the kind the operation needs (e.g. `cat` of a directory).
    public static let wrongType = Self("wrongType")
}
