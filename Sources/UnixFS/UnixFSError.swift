public import Multiformats

/// A block, DAG or import that is malformed or over a limit, with what was wrong.
public struct UnixFSError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// Input ended inside a field.
        public static let truncated = Code(name: "truncated")
        /// A field out of the canonical order, repeated, unknown, or of the wrong wire type.
        public static let nonCanonical = Code(name: "nonCanonical")
        /// A required field is missing.
        public static let missingField = Code(name: "missingField")
        /// A value that is out of range or inconsistent (sizes that do not add up, unknown type).
        public static let invalidValue = Code(name: "invalidValue")
        /// Over a documented size limit.
        public static let tooLarge = Code(name: "tooLarge")
        /// A block whose bytes do not hash to its CID.
        public static let hashMismatch = Code(name: "hashMismatch")
        /// A block the DAG needs is not available.
        public static let missingBlock = Code(name: "missingBlock")
        /// A CID, multihash or other multiformat inside the data is malformed.
        public static let multiformat = Code(name: "multiformat")
        /// An option that is not supported (a chunker spec, a hash function, a profile).
        public static let unsupported = Code(name: "unsupported")
        /// Not a UnixFS node of the kind the operation needs (e.g. `cat` of a directory).
        public static let wrongType = Code(name: "wrongType")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    init(_ error: MultiformatsError, context: String) {
        self.init(.multiformat, "\(context): \(error.message)")
    }

    public var description: String { message }
}
