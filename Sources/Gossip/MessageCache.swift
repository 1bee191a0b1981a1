import Multiformats

/// Recent messages by heartbeat window, for IWANT answers and IHAVE gossip.
struct MessageCache: Sendable {
    private struct Entry: Sendable {
        var message: GossipMessage
        /// Times this message was sent to each peer in answer to IWANT.
        var transmissions: [PeerID: Int] = [:]
    }

    private var entries: [MessageID: Entry] = [:]
    /// Newest window first; each holds (id, topic) in arrival order.
    private var windows: [[(id: MessageID, topic: String)]]
    private let gossipWindows: Int

    init(history: Int, gossip: Int) {
        windows = Array(repeating: [], count: history)
        gossipWindows = gossip
    }

    mutating func put(_ id: MessageID, _ message: GossipMessage) {
        guard entries[id] == nil else { return }
        entries[id] = Entry(message: message)
        windows[0].append((id, message.topic))
    }

    func contains(_ id: MessageID) -> Bool { entries[id] != nil }

    /// The message, counting one more transmission to `peer`; nil when absent or sent `limit` times already.
    mutating func getForIWant(_ id: MessageID, peer: PeerID, limit: Int) -> GossipMessage? {
        guard var entry = entries[id] else { return nil }
        let sent = entry.transmissions[peer, default: 0]
        guard sent < limit else { return nil }
        entry.transmissions[peer] = sent + 1
        entries[id] = entry
        return entry.message
    }

    /// IDs of `topic` in the gossip windows, oldest first.
    func gossipIDs(topic: String) -> [MessageID] {
        windows.prefix(gossipWindows).reversed().flatMap { $0.lazy.filter { $0.topic == topic }.map(\.id) }
    }

    /// IDs of `topic` in every window, oldest first (catch-up for a peer that just joined the topic).
    func historyIDs(topic: String) -> [MessageID] {
        windows.reversed().flatMap { $0.lazy.filter { $0.topic == topic }.map(\.id) }
    }

    /// Starts a new window and forgets the oldest.
    mutating func shift() {
        for old in windows.removeLast() { entries[old.id] = nil }
        windows.insert([], at: 0)
    }
}

/// IDs remembered until an expiry, forgotten in arrival order (their TTL is constant).
struct ExpiringSet<Key: Hashable & Sendable>: Sendable {
    private var expiry: [Key: Duration] = [:]
    private var queue: [(key: Key, at: Duration)] = []
    private var head = 0

    func contains(_ key: Key) -> Bool { expiry[key] != nil }

    /// Inserts; false when already present.
    @discardableResult
    mutating func insert(_ key: Key, expires: Duration) -> Bool {
        guard expiry[key] == nil else { return false }
        expiry[key] = expires
        queue.append((key, expires))
        return true
    }

    /// Forgets every key expired at `now` and returns them.
    @discardableResult
    mutating func purge(now: Duration) -> [Key] {
        var removed: [Key] = []
        while head < queue.count, queue[head].at <= now {
            expiry[queue[head].key] = nil
            removed.append(queue[head].key)
            head += 1
        }
        if head > 1024, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return removed
    }

    /// Drops the oldest entries beyond `limit`.
    mutating func trim(to limit: Int) {
        while expiry.count > limit, head < queue.count {
            expiry[queue[head].key] = nil
            head += 1
        }
    }
}
