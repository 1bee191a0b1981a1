/// The last `capacity` distinct values inserted, oldest forgotten first (a ring, so each
/// insert costs the same however full it is).
public struct RecentSet<T: Hashable & Sendable>: Sendable {
    private var ring: [T?]
    private var next = 0
    private var members: Set<T> = []

    public init(capacity: Int) { ring = Array(repeating: nil, count: capacity) }

    /// Adds `value`; false when it is among the last `capacity` values already.
    public mutating func insert(_ value: T) -> Bool {
        guard members.insert(value).inserted else { return false }
        if let old = ring[next] { members.remove(old) }
        ring[next] = value
        next = (next + 1) % ring.count
        return true
    }

    public func contains(_ value: T) -> Bool { members.contains(value) }
}
