public import ClusterModel
public import CodedError
public import Multiformats

/// Why the tracker refused an operation.
public struct PinTrackerError: CodedError {
    public let code: ErrorCode<PinTrackerError>
    public let message: String

    public init(_ code: ErrorCode<PinTrackerError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == PinTrackerError {
    /// The queue holds `maxQueued` operations already.
    public static let queueFull = Self("queueFull")
}

/// What the tracker is doing about one CID on this peer.
public struct TrackedOperation: Sendable, Equatable {
    public enum Kind: String, Sendable { case pin, unpin }
    public enum Phase: String, Sendable { case queued, inProgress, error }

    public let kind: Kind
    public let pin: Pin
    public internal(set) var phase: Phase
    /// Failed attempts so far.
    public internal(set) var attempts: Int
    public internal(set) var error: String
    public internal(set) var priority: Bool
    public internal(set) var updated: Timestamp
    /// Distinguishes this operation from a later one on the same CID: a worker's result for a
    /// replaced operation is ignored.
    public let id: UInt64
}

/// The stateless pin tracker's pure core: the operations in flight, nothing else (the pinset
/// lives in the shared state, pins in the IPFS daemon). Two FIFO queues: priority (new pins,
/// young and rarely failed) before the rest (retries, old pins), so a backlog of failing
/// pins never delays a fresh one. A finished operation is forgotten; a failed one stays, with
/// its error and attempt count, until it is retried or replaced.
public struct PinTrackerInstance: Sendable {
    public struct Settings: Sendable {
        /// Pins submitted longer ago than this are not priority.
        public var priorityMaxAgeMillis: Int64 = 24 * 3_600_000
        /// Pins that failed more often than this are not priority.
        public var priorityMaxRetries = 5
        /// Queued operations at most (both queues); more is refused.
        public var maxQueued = 1_000_000
        public init() {}
    }

    public let settings: Settings
    private var operations: [CID: TrackedOperation] = [:]
    private var priorityQueue = FIFO<CID>()
    private var normalQueue = FIFO<CID>()
    private var nextID: UInt64 = 1
    public private(set) var queuedCount = 0

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// Queues pinning or unpinning `pin.cid`. Returns the id of an operation this one replaces
    /// while it runs (the caller cancels that work), if any. An identical operation already
    /// queued or running is left alone.
    @discardableResult
    public mutating func enqueue(_ kind: TrackedOperation.Kind, _ pin: Pin, now: Timestamp) throws(PinTrackerError) -> UInt64? {
        var attempts = 0
        var replaced: UInt64?
        var freed = 0
        if let old = operations[pin.cid] {
            if old.kind == kind && old.phase != .error && old.pin == pin { return nil }
            if old.kind == kind && old.phase == .error { attempts = old.attempts }
            if old.phase == .inProgress { replaced = old.id }
            if old.phase == .queued { freed = 1 }
        }
        // Refused before anything changes: the operation it would replace stays as it was.
        guard queuedCount - freed < settings.maxQueued else {
            throw PinTrackerError(.queueFull, "the pin queue holds \(settings.maxQueued) operations already; wait for it to drain or raise the limit")
        }
        queuedCount -= freed
        let young = now.unixMillis - pin.timestamp.unixMillis <= settings.priorityMaxAgeMillis
        let priority = kind == .pin && young && attempts <= settings.priorityMaxRetries
        let op = TrackedOperation(
            kind: kind, pin: pin, phase: .queued, attempts: attempts, error: "", priority: priority, updated: now, id: nextID)
        nextID += 1
        operations[pin.cid] = op
        queuedCount += 1
        if priority { priorityQueue.push(pin.cid) } else { normalQueue.push(pin.cid) }
        return replaced
    }

    /// The next queued operation, now in progress; nil when both queues are empty.
    public mutating func next(now: Timestamp) -> TrackedOperation? {
        while let cid = priorityQueue.pop() ?? normalQueue.pop() {
            // Entries of replaced or cancelled operations are skipped.
            guard var op = operations[cid], op.phase == .queued else { continue }
            op.phase = .inProgress
            op.updated = now
            operations[cid] = op
            queuedCount -= 1
            return op
        }
        return nil
    }

    /// The worker's result for operation `id`. Success forgets the operation; failure keeps it
    /// as an error with one more attempt. A result for a replaced operation is ignored.
    public mutating func finish(_ cid: CID, id: UInt64, error: String?, now: Timestamp) {
        guard var op = operations[cid], op.id == id, op.phase == .inProgress else { return }
        guard let error else {
            operations[cid] = nil
            return
        }
        op.phase = .error
        op.error = error
        op.attempts += 1
        op.updated = now
        operations[cid] = op
    }

    /// Forgets the operation on `cid`; returns its id when it was running (to cancel it).
    @discardableResult
    public mutating func cancel(_ cid: CID) -> UInt64? {
        guard let op = operations.removeValue(forKey: cid) else { return nil }
        if op.phase == .queued { queuedCount -= 1 }
        return op.phase == .inProgress ? op.id : nil
    }

    /// Queues a failed operation again (its attempts carry over). False when `cid` has no
    /// failed operation.
    public mutating func retry(_ cid: CID, now: Timestamp) throws(PinTrackerError) -> Bool {
        guard let op = operations[cid], op.phase == .error else { return false }
        try enqueue(op.kind, op.pin, now: now)
        return true
    }

    /// Queues again every failed operation whose backoff has passed at `now`: after its n-th
    /// failure an operation waits `interval` × 2^(n−1), at most 8 × `interval` (with a tenth of
    /// `interval` of slack, so a round every `interval` is not missed by a few milliseconds).
    /// Returns how many were queued, in CID order.
    public mutating func retryDue(now: Timestamp, intervalMillis: Int64) -> Int {
        var n = 0
        for cid in failed {
            guard let op = operations[cid] else { continue }
            let wait = intervalMillis * Int64(1 << min(max(op.attempts - 1, 0), 3)) - intervalMillis / 10
            guard now.unixMillis - op.updated.unixMillis >= wait, (try? retry(cid, now: now)) == true else { continue }
            n += 1
        }
        return n
    }

    public func operation(_ cid: CID) -> TrackedOperation? { operations[cid] }

    /// The CIDs of failed operations, sorted.
    public var failed: [CID] { operations.values.filter { $0.phase == .error }.map(\.pin.cid).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) } }

    /// How many operations failed and wait for a retry.
    public var failedCount: Int { operations.values.reduce(0) { $0 + ($1.phase == .error ? 1 : 0) } }

    /// Every operation (queued, running or failed), for listing.
    public var all: [TrackedOperation] { Array(operations.values) }

    // MARK: status

    /// Whether `me` should hold `pin` in its IPFS daemon: allocated to it, or pinned
    /// everywhere (empty allocations with replication -1).
    public static func isAllocated(_ pin: Pin, to me: PeerID) -> Bool {
        pin.allocations.contains(me) || (pin.allocations.isEmpty && pin.isPinEverywhere)
    }

    /// The status of one CID on this peer: the operation in flight if any, else from the
    /// shared state and whether the IPFS daemon has it pinned.
    public static func status(pin: Pin?, me: PeerID, operation: TrackedOperation?, pinnedInIPFS: Bool) -> TrackerStatus {
        if let op = operation {
            // Every peer not allocated a pin unpins it in case it held it before (as
            // ipfs-cluster's remote operation does); until that ends, the pin is `remote`.
            if op.kind == .unpin, op.phase != .error, let pin, !isAllocated(pin, to: me), pin.type != .meta { return .remote }
            switch (op.kind, op.phase) {
            case (.pin, .queued): return .pinQueued
            case (.pin, .inProgress): return .pinning
            case (.pin, .error): return .pinError
            case (.unpin, .queued): return .unpinQueued
            case (.unpin, .inProgress): return .unpinning
            case (.unpin, .error): return .unpinError
            }
        }
        guard let pin else { return .unpinned }
        if pin.type == .meta { return .sharded }
        guard isAllocated(pin, to: me) else { return .remote }
        return pinnedInIPFS ? .pinned : .unexpectedlyUnpinned
    }
}

/// A queue with amortised O(1) push and pop.
struct FIFO<T: Sendable>: Sendable {
    private var items: [T] = []
    private var head = 0

    mutating func push(_ x: T) { items.append(x) }

    mutating func pop() -> T? {
        guard head < items.count else { return nil }
        let x = items[head]
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return x
    }

    var count: Int { items.count - head }
}
