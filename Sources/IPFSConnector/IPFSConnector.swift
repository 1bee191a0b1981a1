public import CodedError
public import Multiformats
public import UnixFS

/// Why a call to the IPFS daemon failed.
public struct IPFSConnectorError: CodedError {
    public let code: ErrorCode<IPFSConnectorError>
    public let message: String

    public init(_ code: ErrorCode<IPFSConnectorError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == IPFSConnectorError {
    /// The daemon cannot be reached at its address (not running, wrong address).
    public static let unreachable = Self("unreachable")
    /// The call made no progress within its (inactivity) timeout.
    public static let timeout = Self("timeout")
    /// The CID is not pinned (or only indirectly).
    public static let notPinned = Self("notPinned")
    /// The daemon refused a CID or path as malformed.
    public static let badCID = Self("badCID")
    /// The daemon answered with an error; the message is its own.
    public static let daemon = Self("daemon")
    /// The daemon's answer is not what its API documents.
    public static let protocolError = Self("protocolError")
}

/// The daemon's identity, from `id`.
public struct IPFSID: Sendable, Equatable {
    public let id: String
    public let addresses: [String]
    public let agentVersion: String
}

/// How a CID is pinned in the daemon, from `pin/ls`.
public struct IPFSPinInfo: Sendable, Equatable {
    public enum PinType: Sendable, Equatable {
        case direct
        case recursive(maxDepth: Int?)
        case indirect(through: CID?)
    }
    public let cid: CID
    public let type: PinType
    public let name: String

    public init(cid: CID, type: PinType, name: String) {
        self.cid = cid
        self.type = type
        self.name = name
    }
}

/// What `repo/stat` reports.
public struct IPFSRepoStat: Sendable, Equatable {
    public let repoSize: UInt64
    public let storageMax: UInt64
    public let numObjects: Int

    /// What can still be stored (the monitor's `freespace`).
    public var freeSpace: UInt64 { storageMax > repoSize ? storageMax - repoSize : 0 }
}

/// What a garbage collection removed: every block counted, the first ones listed.
public struct IPFSRepoGC: Sendable, Equatable {
    public var removed: Int
    public var keys: [CID]
    public init(removed: Int, keys: [CID]) {
        self.removed = removed
        self.keys = keys
    }
}

/// What the node needs from its IPFS daemon: kubo, or PinMesh's embedded node, over kubo's
/// RPC API.
public protocol IPFSConnector: Sendable {
    func id() async throws -> IPFSID
    /// Pins `cid` (recursively to `maxDepth` levels, nil: all; 0 pins the block alone).
    /// `progress` gets the number of blocks fetched so far; the call is cancelled when no
    /// progress is seen for `inactivityTimeout` (a total timeout would cut big, healthy pins).
    func pin(_ cid: CID, maxDepth: Int?, name: String, inactivityTimeout: Duration, progress: @escaping @Sendable (Int) -> Void) async throws
    func unpin(_ cid: CID) async throws
    /// The pin of one CID, or nil when it is not pinned.
    func pinStatus(_ cid: CID) async throws -> IPFSPinInfo?
    /// Calls `body` with every recursive pin (or every pin), as the listing streams in: the
    /// next is read only once `body` returned, so memory does not grow with the pin count.
    func forEachPin(recursiveOnly: Bool, _ body: @Sendable (IPFSPinInfo) async throws -> Void) async throws
    func pinUpdate(from: CID, to: CID, unpin: Bool) async throws
    /// Stores blocks in as few requests as their formats allow, streaming the bodies; returns
    /// how many were stored.
    func blockPut<S: AsyncSequence & Sendable>(_ blocks: S) async throws -> Int where S.Element == Block
    func blockGet(_ cid: CID) async throws -> [UInt8]
    /// The size of a stored block, or nil when the daemon does not have it.
    func blockStat(_ cid: CID) async throws -> Int?
    func repoStat() async throws -> IPFSRepoStat
    /// Runs GC; returns how many blocks were removed and the first `keepKeys` of them.
    func repoGC(keepKeys: Int) async throws -> IPFSRepoGC
    func swarmConnect(_ address: String) async throws
    func resolve(_ path: String) async throws -> CID
}
