import Foundation

/// Admits the API's requests while the peer runs and refuses them once it stops, so no request
/// ever meets a half-stopped peer or a closed database.
///
/// - ``enter()`` admits a request (true) until ``close()``; each admitted request calls
///   ``leave()`` once, when its answer is written.
/// - ``ClusterPeer/stop()`` closes the gate first, then waits for the admitted requests
///   (``drained(within:)``, bounded), then stops the components and closes the database.
/// - A closed gate stays closed: every later request is refused ("shutting down").
public final class RequestGate: @unchecked Sendable {
    private let lock = NSLock()
    private var closed = false
    private var inFlight = 0
    private var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    private var nextWaiter: UInt64 = 0
    /// Waits whose bound passed before they were registered.
    private var expired: Set<UInt64> = []

    public init() {}

    /// Admits a request: false once the gate is closed.
    public func enter() -> Bool {
        lock.withLock {
            guard !closed else { return false }
            inFlight += 1
            return true
        }
    }

    /// An admitted request is done.
    public func leave() {
        let done: [CheckedContinuation<Bool, Never>] = lock.withLock {
            inFlight -= 1
            guard inFlight == 0 else { return [] }
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        for w in done { w.resume(returning: true) }
    }

    /// Refuses every request from now on.
    public func close() { lock.withLock { closed = true } }

    public var isClosed: Bool { lock.withLock { closed } }

    /// Requests admitted and not done.
    public var running: Int { lock.withLock { inFlight } }

    /// Waits until no admitted request runs (true) or `bound` passes (false).
    public func drained(within bound: Duration) async -> Bool {
        let id: UInt64? = lock.withLock {
            guard inFlight > 0 else { return nil }
            nextWaiter += 1
            return nextWaiter
        }
        guard let id else { return true }
        let timer = Task {
            try? await Task.sleep(for: bound)
            let w: CheckedContinuation<Bool, Never>? = self.lock.withLock {
                guard let w = self.waiters.removeValue(forKey: id) else {
                    self.expired.insert(id)
                    return nil
                }
                return w
            }
            w?.resume(returning: false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { c in
            let now: Bool? = lock.withLock {
                if expired.remove(id) != nil { return false }
                guard inFlight > 0 else { return true }
                waiters[id] = c
                return nil
            }
            if let now { c.resume(returning: now) }
        }
    }
}
