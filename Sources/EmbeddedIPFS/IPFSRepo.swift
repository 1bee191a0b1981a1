public import Datastore
import Foundation
public import Multiformats
public import UnixFS

#if canImport(Glibc)
import Glibc
#endif

/// Where a pin gets blocks the store lacks: the node plugs in fetching from other PinMesh
/// peers over the cluster transport.
public protocol BlockFetcher: Sendable {
    /// The bytes of `cid` from elsewhere, or nil when nobody has it now (the pin then waits
    /// for the block to arrive by other means: `block/put`, an `add`, a later fetch).
    func fetch(_ cid: CID) async throws -> [UInt8]?
}

/// What `repo/stat` reports.
public struct RepoStat: Sendable, Equatable {
    public var repoSize: UInt64
    public var storageMax: UInt64
    public var numObjects: Int
    public var repoPath: String
    public var version: String
}

/// How a CID is pinned, as `pin/ls?arg=` answers.
public enum PinState: Sendable, Equatable {
    case pinned(IPFSPin)
    case indirect(through: CID)
    case notPinned
}

/// The embedded IPFS node's repository: blocks (flatfs), pins (SQLite), GC and the block
/// exchange hook. One process opens a repository at a time (`repo.lock`).
///
/// Layout of `<root>`: `config` (kubo's key names), `blocks/` (flatfs), `pins.sqlite`,
/// `repo.lock`.
public final class IPFSRepo: BlockGetter, @unchecked Sendable {
    public let root: String
    public let config: RepoConfig
    public let blocks: FlatfsBlockstore
    public let pins: IPFSPinStore
    public let peerID: PeerID
    let inFlight = InFlightBlocks()
    let arrivals = BlockArrivals()
    private let lock = NSLock()
    private var fetcher: (any BlockFetcher)?
    private var storedListeners: [@Sendable (CID) -> Void] = []
    private var pinnedListeners: [@Sendable ([CID]) -> Void] = []
    private var lockFD: Int32

    public static let repoVersion = "fs-repo@16"

    /// Creates a repository at `root` (its `config` with a fresh identity); returns the
    /// config. An existing repository is left as it is and its config returned.
    @discardableResult
    public static func initialize(
        at root: String, api: String = RepoConfig.defaultAPI, storageMax: String = RepoConfig.defaultStorageMax, swarm: [String] = RepoConfig.defaultSwarm
    ) throws -> RepoConfig {
        let configPath = root + "/config"
        if FileManager.default.fileExists(atPath: configPath) { return try RepoConfig.load(configPath) }
        _ = try RepoConfig.parseBytes(storageMax, key: "Datastore.StorageMax")
        guard (try? Multiaddr(api)) != nil else {
            throw RepoConfig.ConfigError(description: "Addresses.API: \(api.debugDescription) is not a multiaddr; write it as /ip4/127.0.0.1/tcp/5091")
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let config = try RepoConfig.generate(api: api, storageMax: storageMax, swarm: swarm)
        try config.write(configPath)
        return config
    }

    /// Opens the repository at `root` (made by ``initialize(at:api:storageMax:)``).
    /// - Parameter storageMax: overrides `Datastore.StorageMax` when given.
    public init(root: String, storageMax: UInt64? = nil) throws {
        self.root = root
        config = try RepoConfig.load(root + "/config")
        peerID = try config.peerID
        lockFD = open(root + "/repo.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw RepoError(.io, "cannot open \(root)/repo.lock: \(String(cString: strerror(errno)))") }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(lockFD)
            throw RepoError(.io, "the repository \(root) is in use by another process (repo.lock is held); stop that daemon first")
        }
        do {
            blocks = try FlatfsBlockstore(directory: root + "/blocks", storageMax: try storageMax ?? config.storageMaxBytes)
            pins = try IPFSPinStore(path: root + "/pins.sqlite")
        } catch {
            close(lockFD)
            throw error
        }
    }

    deinit { if lockFD >= 0 { close(lockFD) } }

    /// Releases `repo.lock` now (another `IPFSRepo` may then open the directory); the
    /// repository must not be used afterwards.
    public func releaseLock() {
        lock.lock()
        defer { lock.unlock() }
        guard lockFD >= 0 else { return }
        _ = Glibc.close(lockFD)
        lockFD = -1
    }

    /// Plugs in (or removes) where missing blocks come from.
    public func setFetcher(_ f: (any BlockFetcher)?) {
        lock.lock()
        fetcher = f
        lock.unlock()
    }

    /// Asks the fetcher again for every block a pin waits for: call it when a peer that may
    /// hold them (re)connects, since a fetch that found nobody is otherwise not repeated.
    public func retryFetches() { arrivals.wakeAll() }

    /// How many waits for a missing block are in progress (pins and reads waiting for blocks).
    public var waitingForBlocks: Int { arrivals.waiting }

    private var currentFetcher: (any BlockFetcher)? {
        lock.lock()
        defer { lock.unlock() }
        return fetcher
    }

    // MARK: blocks

    /// The verified bytes of a stored block (`BlockGetter`).
    public func block(_ cid: CID) throws -> [UInt8] { try blocks.get(cid) }

    /// Stores a block (checked against its CID) and wakes pins waiting for it.
    /// `hashed`: the caller computed the CID from these bytes (see ``FlatfsBlockstore/put(_:_:allowBig:hashed:)``).
    public func put(_ block: Block, allowBig: Bool = false, hashed: Bool = false) throws(RepoError) {
        try blocks.put(block.cid, block.bytes, allowBig: allowBig, hashed: hashed)
        arrivals.arrived(block.cid.multihash)
        for f in lock.withLock({ storedListeners }) { f(block.cid) }
    }

    /// Calls `listener` with every block stored from now on (bitswap tells peers that want it).
    public func onBlockStored(_ listener: @escaping @Sendable (CID) -> Void) {
        lock.withLock { storedListeners.append(listener) }
    }

    /// Calls `listener` with the roots of every pin recorded from now on (the DHT announces them).
    public func onPinned(_ listener: @escaping @Sendable ([CID]) -> Void) {
        lock.withLock { pinnedListeners.append(listener) }
    }

    /// The stored, verified block, or nil when it is not here (or cannot be read).
    public func localBlock(_ cid: CID) -> [UInt8]? { try? stored(cid) }

    /// An import or pin in progress: the blocks it writes or reaches are safe from GC until
    /// ``Operation/end()`` (and, if a GC is running then, until that GC finishes).
    public struct Operation: Sendable {
        let repo: IPFSRepo
        let token: UInt64

        /// Stores a block on behalf of this operation.
        public func put(_ block: Block, allowBig: Bool = false, hashed: Bool = false) throws(RepoError) {
            repo.inFlight.insert(token, block.cid.multihash)
            try repo.put(block, allowBig: allowBig, hashed: hashed)
        }

        /// Protects a block this operation relies on (one it found already stored).
        public func protect(_ cid: CID) { repo.inFlight.insert(token, cid.multihash) }

        public func end() { repo.inFlight.end(token) }
    }

    public func beginOperation() -> Operation { Operation(repo: self, token: inFlight.begin()) }

    /// The block, fetched or awaited when missing. Throws `CancellationError` when the caller
    /// is cancelled while waiting.
    func obtain(_ cid: CID, op: Operation, offline: Bool) async throws -> [UInt8] {
        op.protect(cid)
        while true {
            if let bytes = try stored(cid) { return bytes }
            if offline { throw RepoError.blockNotFound(cid) }
            let generation = arrivals.generation
            if let f = currentFetcher, let bytes = try await f.fetch(cid) {
                try op.put(Block(cid: cid, bytes: bytes), allowBig: true)
                return bytes
            }
            let store = blocks
            try await arrivals.wait(for: cid.multihash, present: { store.has(cid) }, since: generation)
        }
    }

    /// A block from the fetcher, checked against its CID and not stored (a read of content
    /// this node does not pin: `cat` of a sharded file). Nil when nobody has it.
    public func fetchForRead(_ cid: CID) async throws -> [UInt8]? {
        guard let f = currentFetcher, let bytes = try await f.fetch(cid) else { return nil }
        guard cid.multihash.verifies(bytes) == true else {
            throw RepoError(.hashMismatch, "a peer sent bytes for \(cid) that do not hash to it (or its hash cannot be checked)")
        }
        return bytes
    }

    /// The stored, verified block, or nil when it is not stored.
    func stored(_ cid: CID) throws(RepoError) -> [UInt8]? {
        do {
            return try blocks.get(cid)
        } catch {
            if error.code == .notFound { return nil }
            throw error
        }
    }

    /// The links of a block that a pin follows (dag-pb, dag-cbor; none for raw and others).
    static func links(_ cid: CID, _ bytes: [UInt8]) throws(RepoError) -> [CID] {
        do {
            return try CAR.links(of: cid, bytes: bytes)
        } catch {
            throw RepoError(.corrupt, "block \(cid) cannot be decoded as \(cid.codec): \(error.message)")
        }
    }

    // MARK: pins

    /// Pins `cids` once every block the pins need is stored (fetched or awaited when missing);
    /// blocks are flushed to disk before the pins are recorded, so an acknowledged pin never
    /// lacks a block after a crash. `progress` gets the number of blocks reached so far.
    /// With `offline`, a missing block fails the pin at once instead of being awaited.
    public func pin(
        _ cids: [CID], mode: IPFSPinMode, name: String = "", offline: Bool = false, progress: @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let op = beginOperation()
        defer { op.end() }
        var count = 0
        for root in cids {
            let depth: Int
            switch mode {
            case .direct: depth = 0
            case .recursive(let d): depth = d ?? Int.max
            }
            try await walk(root, depth: depth, op: op, offline: offline) {
                count += 1
                progress(count)
            }
        }
        try blocks.sync()
        try recordPins(cids.map { IPFSPin(cid: $0, mode: mode, name: name) })
    }

    /// Records pins whose blocks are stored and durable, and tells the ``onPinned(_:)`` listeners.
    public func recordPins(_ list: [IPFSPin]) throws(RepoError) {
        try pins.add(list)
        let roots = list.map(\.cid)
        for l in lock.withLock({ pinnedListeners }) { l(roots) }
    }

    /// Blocks obtained at once while a pin walks its DAG: a missing block costs a round trip to
    /// whoever has it, so the walk keeps this many fetches in flight instead of one.
    static let walkWindow = 32

    /// Obtains every block of `root` down to `depth` links, breadth-first with up to
    /// ``walkWindow`` blocks obtained at once, each CID once per depth (the most remaining
    /// depth seen wins); `reached` is called once per distinct block.
    private func walk(_ root: CID, depth: Int, op: Operation, offline: Bool, reached: () -> Void) async throws {
        var seen: [CID: Int] = [root: depth]
        var counted = Set<CID>()
        var queue: [(CID, Int)] = [(root, depth)]
        var next = 0
        try await withThrowingTaskGroup(of: (CID, Int, [UInt8]).self) { g in
            var running = 0
            while true {
                while running < Self.walkWindow, next < queue.count {
                    let (c, remain) = queue[next]
                    next += 1
                    g.addTask { (c, remain, try await self.obtain(c, op: op, offline: offline)) }
                    running += 1
                }
                if next == queue.count && next > 4096 {
                    queue.removeAll(keepingCapacity: true)
                    next = 0
                }
                guard let (c, remain, bytes) = try await g.next() else { return }
                running -= 1
                if counted.insert(c).inserted { reached() }
                guard remain > 0 else { continue }
                let r = remain == Int.max ? remain : remain - 1
                for l in try Self.links(c, bytes) {
                    if let s = seen[l], s >= r { continue }
                    seen[l] = r
                    queue.append((l, r))
                }
            }
        }
    }

    /// Removes pins (`recursive: false` refuses to remove a recursive pin, as kubo).
    public func unpin(_ cids: [CID], recursive: Bool = true) throws(RepoError) {
        for c in cids { try pins.remove(c, recursive: recursive) }
    }

    /// Pins `to` like `from` (fetching what it lacks), then drops `from` when `unpin`.
    public func updatePin(from: CID, to: CID, unpin: Bool, progress: @Sendable (Int) -> Void = { _ in }) async throws {
        guard let old = try pins.get(from), case .recursive(let depth) = old.mode else {
            throw RepoError(.notPinned, "'from' cid was not recursively pinned already")
        }
        try await pin([to], mode: .recursive(maxDepth: depth), name: old.name, progress: progress)
        if unpin && from != to { try pins.remove(from, recursive: true) }
    }

    /// How `cid` is pinned: its own pin, or the first recursive pin that reaches it.
    public func pinState(_ cid: CID) throws -> PinState {
        if let p = try pins.get(cid) { return .pinned(p) }
        var found: CID?
        try pins.forEach(.recursive) { p in
            guard found == nil, case .recursive(let d) = p.mode else { return }
            if try reaches(p.cid, target: cid, depth: d ?? Int.max) { found = p.cid }
        }
        return found.map { .indirect(through: $0) } ?? .notPinned
    }

    private func reaches(_ root: CID, target: CID, depth: Int) throws -> Bool {
        var seen: [CID: Int] = [:]
        var stack: [(CID, Int)] = [(root, depth)]
        while let (c, remain) = stack.popLast() {
            if c != root && c == target { return true }
            if let s = seen[c], s >= remain { continue }
            seen[c] = remain
            guard remain > 0, let bytes = try? blocks.get(c) else { continue }
            for l in try Self.links(c, bytes) { stack.append((l, remain == Int.max ? remain : remain - 1)) }
        }
        return false
    }

    /// Calls `body` with every CID below a recursive pin (each once), walking only stored
    /// blocks. Memory grows with the number of distinct blocks reached, as in kubo.
    public func forEachIndirect(_ body: (CID) throws -> Void) throws {
        var seen = Set<CID>()
        try pins.forEach(.recursive) { p in
            guard case .recursive(let d) = p.mode else { return }
            var stack: [(CID, Int)] = [(p.cid, d ?? Int.max)]
            while let (c, remain) = stack.popLast() {
                guard remain > 0, let bytes = try? blocks.get(c) else { continue }
                for l in try Self.links(c, bytes) where seen.insert(l).inserted {
                    try body(l)
                    stack.append((l, remain == Int.max ? remain : remain - 1))
                }
            }
        }
    }

    /// The blocks a DAG reaches, in depth-first order (for `refs`, `dag/export`, `pin/verify`):
    /// `body` gets each block's CID, its bytes (nil when missing or corrupt, with the error),
    /// and its parent. `unique` visits each CID once.
    public func walk(
        _ root: CID, maxDepth: Int? = nil, unique: Bool = true,
        _ body: (_ cid: CID, _ bytes: [UInt8]?, _ error: RepoError?, _ parent: CID?) throws -> Void
    ) throws {
        var seen = Set<CID>()
        var stack: [(CID, Int, CID?)] = [(root, maxDepth ?? Int.max, nil)]
        while let (c, remain, parent) = stack.popLast() {
            if unique && !seen.insert(c).inserted { continue }
            let bytes: [UInt8]
            do {
                bytes = try blocks.get(c)
            } catch {
                try body(c, nil, error, parent)
                continue
            }
            try body(c, bytes, nil, parent)
            if remain > 0 {
                for l in try Self.links(c, bytes).reversed() { stack.append((l, remain == Int.max ? remain : remain - 1, c)) }
            }
        }
    }

    // MARK: GC and stats

    /// Removes every block that no pin keeps and no in-flight operation holds. `removed` gets
    /// each removed block (as a raw CIDv1 of its multihash, as kubo reports). Pinned blocks that
    /// are missing or corrupt are skipped in the mark phase and passed to `problem`.
    public func collectGarbage(
        removed: (CID) async throws -> Void, problem: (CID, RepoError) -> Void = { _, _ in }
    ) async throws -> (blocks: Int, bytes: UInt64) {
        guard inFlight.startGC() else {
            throw RepoError(.io, "a garbage collection is already running; wait for it to finish")
        }
        defer { inFlight.endGC() }
        // Blocks written after this instant are never swept by this run.
        let start = Date().addingTimeInterval(-1)
        // Every kept block, with the most levels below it kept so far: a block a depth-limited
        // pin reached near its limit is walked again when a deeper pin reaches it.
        var marked: [Multihash: Int] = [:]
        try pins.forEach { p in
            var stack: [(CID, Int)]
            switch p.mode {
            case .direct: stack = [(p.cid, 0)]
            case .recursive(let d): stack = [(p.cid, d ?? Int.max)]
            }
            while let (c, remain) = stack.popLast() {
                if let seen = marked[c.multihash], seen >= remain { continue }
                marked[c.multihash] = remain
                // Raw and identity blocks have no links: marked without reading them.
                guard remain > 0, c.codec != .raw, c.multihash.code != .identity else { continue }
                let bytes: [UInt8]
                do throws(RepoError) {
                    bytes = try blocks.get(c)
                } catch {
                    problem(c, error)
                    continue
                }
                for l in try Self.links(c, bytes) { stack.append((l, remain == Int.max ? remain : remain - 1)) }
            }
        }
        var count = 0
        var bytes: UInt64 = 0
        for shard in blocks.shards() {
            for (mh, modified) in blocks.blocks(inShard: shard) {
                guard marked[mh] == nil, modified < start else { continue }
                let cid = CID.v1(codec: .raw, mh)
                let size = blocks.size(cid) ?? 0
                let store = blocks
                if try inFlight.removeUnlessProtected(mh, { try store.delete(mh) }) {
                    count += 1
                    bytes += UInt64(size)
                    try await removed(cid)
                }
            }
        }
        return (count, bytes)
    }

    public func stat() -> RepoStat {
        let u = blocks.usage
        return RepoStat(repoSize: u.bytes, storageMax: blocks.storageMax, numObjects: u.objects, repoPath: root, version: Self.repoVersion)
    }

    /// Bytes that can still be stored: the smaller of what `StorageMax` leaves and what the
    /// disk has free (the monitor's `freespace` metric).
    public func freeSpace() -> UInt64 {
        let u = blocks.usage
        let byQuota = blocks.storageMax > 0 ? blocks.storageMax - min(blocks.storageMax, u.bytes) : UInt64.max
        var fs = statvfs()
        let byDisk = statvfs(blocks.directory, &fs) == 0 ? UInt64(fs.f_bavail) * UInt64(fs.f_frsize) : UInt64.max
        return min(byQuota, byDisk)
    }
}
