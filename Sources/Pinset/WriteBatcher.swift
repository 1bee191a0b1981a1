import Multiformats

/// Collects local writes until a batch is due: `maxItems` operations, or the oldest waiting
/// `maxAge`. Time is passed in (milliseconds of any monotonic clock). A later operation on a
/// key replaces an earlier one still waiting, so pin-then-unpin in one batch is one unpin; a
/// re-allocation never replaces a waiting pin or unpin (it was computed before them) and is
/// dropped instead.
public struct WriteBatcher: Sendable {
    public struct Settings: Hashable, Sendable {
        public var maxItems = 1_000
        public var maxAgeMillis: Int64 = 50
        /// More waiting operations than this are refused with `.queueFull`.
        public var maxQueue = 100_000

        public init() {}
    }

    public let settings: Settings
    private var order: [CID] = []
    private var waiting: [CID: PinsetOperation] = [:]
    private var oldest: Int64?

    public init(settings: Settings = Settings()) { self.settings = settings }

    public var count: Int { waiting.count }

    /// Queues one operation.
    public mutating func add(_ op: PinsetOperation, now: Int64) throws(PinsetError) {
        if case .reallocate = op, let w = waiting[op.key] {
            if case .reallocate = w {} else { return }
        }
        if waiting[op.key] == nil {
            guard waiting.count < settings.maxQueue else {
                throw PinsetError(
                    .queueFull,
                    "the pinset write queue holds \(settings.maxQueue) operations; retry later or raise batching.max_queue")
            }
            order.append(op.key)
        }
        waiting[op.key] = op
        if oldest == nil { oldest = now }
    }

    /// When the current batch becomes due (`nil` when nothing waits).
    public var dueAt: Int64? {
        guard let oldest else { return nil }
        return waiting.count >= settings.maxItems ? oldest : oldest + settings.maxAgeMillis
    }

    /// Takes the waiting operations, oldest first, if a batch is due at `now` (or `force`).
    public mutating func take(now: Int64, force: Bool = false) -> [PinsetOperation] {
        guard let due = dueAt, force || now >= due else { return [] }
        let ops = order.compactMap { waiting[$0] }
        order.removeAll(keepingCapacity: true)
        waiting.removeAll(keepingCapacity: true)
        oldest = nil
        return ops
    }
}
