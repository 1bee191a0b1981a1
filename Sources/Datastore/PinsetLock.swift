public import CodedError
import Foundation
public import Pinset

/// An exclusive `flock` on `pinset.lock` in a peer's directory, beside its pinset database: one
/// process at a time writes the pinset, so an offline `state import` or `state cleanup` cannot
/// run under a daemon (what it wrote would not be replicated until a restart, or the database
/// would vanish under it). The kernel drops the lock when the process exits, `kill -9`
/// included, so a crash never leaves the directory locked.
///
/// `flock` locks are per open file: a second lock of the same directory fails in the same
/// process too, until the first is released (``release()``, or deinit).
public final class PinsetLock: @unchecked Sendable {
    public static let fileName = "pinset.lock"
    /// The directory locked.
    public let directory: String
    private let guardFD = NSLock()
    private var fd: Int32

    /// Takes the lock of `directory` at once, or throws `inUse` naming the directory.
    public init(directory: String) throws(PinsetError) {
        self.directory = directory
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PinsetError(.storage, "cannot open \(path): \(String(cString: strerror(errno))). Check the directory and its permissions")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            fd = -1
            throw PinsetError(
                .inUse,
                "the peer's directory \(directory) is in use by a running pinmesh daemon (it holds \(Self.fileName)): stop the daemon first, then run the command again"
            )
        }
    }

    deinit { release() }

    /// Releases the lock now (another process may then take it); later calls do nothing.
    public func release() {
        guardFD.lock()
        defer { guardFD.unlock() }
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }
}

extension ErrorCode where Domain == PinsetError {
    /// Another process (a running daemon) holds the peer's directory; stop it first.
    public static let inUse = Self("inUse")
}
