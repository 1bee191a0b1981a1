/// A stable, matchable error code of one error domain (``SodiumError``, `UnixFSError`, ...).
///
/// Each domain declares its codes as static members in `extension ErrorCode where Domain == …`,
/// so new codes can be added without breaking anyone matching on the existing ones.
public struct ErrorCode<Domain>: Hashable, Sendable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }
}

/// The shape of every public PinMesh error: a code to match on and a message that says what was
/// wrong and what to do about it.
public protocol CodedError: Error, Hashable, Sendable, CustomStringConvertible {
    var code: ErrorCode<Self> { get }
    var message: String { get }
}

extension CodedError {
    public var description: String { "\(code): \(message)" }
}
