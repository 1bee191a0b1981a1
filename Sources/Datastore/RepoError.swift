public import CodedError

/// Why the embedded IPFS node's block or pin storage refused or failed an operation.
public struct RepoError: CodedError {
    public let code: ErrorCode<RepoError>
    public let message: String

    public init(_ code: ErrorCode<RepoError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension RepoError {
    /// A block that is not stored, in kubo's words (clients match on "could not find").
    public static func blockNotFound(_ cid: some CustomStringConvertible) -> RepoError {
        RepoError(.notFound, "block was not found locally (offline): ipld: could not find \(cid)")
    }
}

extension ErrorCode where Domain == RepoError {
    /// The block is not in the store.
    public static let notFound = Self("notFound")
    /// A stored block no longer matches its CID; it is reported and never served.
    public static let corrupt = Self("corrupt")
    /// Bytes offered for a CID do not hash to it.
    public static let hashMismatch = Self("hashMismatch")
    /// The CID uses a hash function PinMesh cannot verify.
    public static let unsupportedHash = Self("unsupportedHash")
    /// A block over the size limit.
    public static let tooLarge = Self("tooLarge")
    /// Writing would take the repository over `StorageMax`.
    public static let storageFull = Self("storageFull")
    /// The filesystem or database failed; the message names the path and the OS error.
    public static let io = Self("io")
    /// The CID is not pinned the way the operation needs.
    public static let notPinned = Self("notPinned")
    /// The pin exists in a mode that conflicts with the request.
    public static let pinConflict = Self("pinConflict")
}
