public import ClusterModel

/// A deterministic discrete-event network of `count` nodes, for simulating protocols.
///
/// Events (deliveries and timers) run in (time, insertion) order off a manual clock; every
/// random choice (link latency, loss) comes from one seeded generator, so a seed replays
/// exactly. The network knows nothing of the protocol: the driver pops events with `next()`
/// and feeds them to its pure instances. Links have a latency drawn once per ordered pair
/// from `latency`; a send is lost with probability `loss`, or always across a partition or to
/// or from a crashed node.
public struct SimulatedNetwork<Message, Timer> {
    public enum Event {
        case deliver(from: Int, to: Int, Message)
        case timer(node: Int, Timer)
    }

    public struct Settings: Sendable {
        public var latency: ClosedRange<Duration>
        public var loss: Double
        /// Extra delay drawn per message from 0...jitter: messages on one link may overtake
        /// each other (zero keeps every link first-in first-out).
        public var jitter: Duration
        public init(latency: ClosedRange<Duration> = .milliseconds(10) ... .milliseconds(50), loss: Double = 0, jitter: Duration = .zero) {
            self.latency = latency
            self.loss = loss
            self.jitter = jitter
        }
    }

    /// Totals since the start.
    public struct Stats: Sendable {
        public var sent = 0
        public var lost = 0
        public var bytes = 0
        public var events = 0
    }

    public let count: Int
    public let settings: Settings
    public private(set) var now: Duration = .zero
    public private(set) var stats = Stats()
    public var rng: SplitMix64
    public private(set) var alive: [Bool]
    private var group: [Int]?
    private var heap = EventHeap<Event>()
    private var latencies: [Int: Duration] = [:]

    public init(count: Int, settings: Settings, seed: UInt64) {
        self.count = count
        self.settings = settings
        rng = SplitMix64(seed: seed)
        alive = Array(repeating: true, count: count)
    }

    /// The one-way latency of the link `a → b`, drawn on first use.
    public mutating func latency(_ a: Int, _ b: Int) -> Duration {
        let key = a * count + b
        if let d = latencies[key] { return d }
        let lo = settings.latency.lowerBound, hi = settings.latency.upperBound
        let span = (hi - lo) / .microseconds(1)
        let d = lo + .microseconds(Int64((Double.random(in: 0...1, using: &rng) * span).rounded()))
        latencies[key] = d
        return d
    }

    /// Sends `message` (`bytes` long, for the totals); it arrives after the link's latency unless lost.
    public mutating func send(from a: Int, to b: Int, _ message: Message, bytes: Int) {
        stats.sent += 1
        stats.bytes += bytes
        guard alive[a], alive[b], !separated(a, b), !rng.chance(settings.loss) else {
            stats.lost += 1
            return
        }
        var delay = latency(a, b)
        if settings.jitter > .zero {
            delay += .microseconds(Int64(Double.random(in: 0...1, using: &rng) * (settings.jitter / .microseconds(1))))
        }
        heap.push(now + delay, .deliver(from: a, to: b, message))
    }

    /// Schedules `timer` for `node` after `delay`.
    public mutating func schedule(_ timer: Timer, for node: Int, after delay: Duration) {
        heap.push(now + delay, .timer(node: node, timer))
    }

    /// The next event at or before `deadline`, advancing the clock to it; nil when there is none.
    /// Deliveries to a node that crashed since the send are dropped; its timers are not run.
    public mutating func next(until deadline: Duration) -> Event? {
        while let top = heap.peekTime, top <= deadline {
            let (time, event) = heap.pop()!
            now = time
            switch event {
            case .deliver(_, let to, _) where !alive[to]: stats.lost += 1; continue
            case .timer(let node, _) where !alive[node]: continue
            default:
                stats.events += 1
                return event
            }
        }
        now = max(now, deadline)
        return nil
    }

    // MARK: faults

    /// Splits the nodes into groups (`groupOf[i]`); sends between groups are lost until `heal()`.
    public mutating func partition(_ groupOf: [Int]) { group = groupOf }
    public mutating func heal() { group = nil }
    public func separated(_ a: Int, _ b: Int) -> Bool { group.map { $0[a] != $0[b] } ?? false }

    /// Stops a node: nothing reaches it or leaves it, its timers stop.
    public mutating func crash(_ node: Int) { alive[node] = false }
    /// Brings a crashed node back (the driver gives it a fresh instance and timers).
    public mutating func restart(_ node: Int) { alive[node] = true }
}

/// A binary min-heap of events ordered by (time, insertion). The heap moves small keys only;
/// the (possibly large) elements stay put in a slot array.
struct EventHeap<Element> {
    private struct Key {
        var time: Duration
        var seq: UInt64
        var slot: Int
        static func < (a: Key, b: Key) -> Bool { a.time < b.time || (a.time == b.time && a.seq < b.seq) }
    }

    private var keys: [Key] = []
    private var slots: [Element?] = []
    private var free: [Int] = []
    private var seq: UInt64 = 0

    var peekTime: Duration? { keys.first?.time }

    mutating func push(_ time: Duration, _ element: Element) {
        seq += 1
        let slot: Int
        if let f = free.popLast() {
            slot = f
            slots[f] = element
        } else {
            slot = slots.count
            slots.append(element)
        }
        keys.append(Key(time: time, seq: seq, slot: slot))
        var i = keys.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard keys[i] < keys[parent] else { break }
            keys.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Duration, Element)? {
        guard !keys.isEmpty else { return nil }
        keys.swapAt(0, keys.count - 1)
        let top = keys.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < keys.count, keys[l] < keys[m] { m = l }
            if r < keys.count, keys[r] < keys[m] { m = r }
            if m == i { break }
            keys.swapAt(i, m)
            i = m
        }
        let element = slots[top.slot].take()!
        free.append(top.slot)
        return (top.time, element)
    }
}
