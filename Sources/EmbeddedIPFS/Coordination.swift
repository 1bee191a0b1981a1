import Foundation
import Multiformats

/// Blocks that in-flight imports and pins have written or reached but not yet pinned. GC keeps
/// every block in here; an operation that finishes while a GC runs stays in here until that GC
/// ends, so a pin committed after GC's mark can never lose a block to its sweep.
final class InFlightBlocks: @unchecked Sendable {
    private let lock = NSLock()
    private var sets: [UInt64: Set<Multihash>] = [:]
    private var retained: [Set<Multihash>] = []
    private var nextID: UInt64 = 0
    private var gcRunning = false

    /// Starts an operation; blocks it names are protected until ``end(_:)``.
    func begin() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        nextID += 1
        sets[nextID] = []
        return nextID
    }

    func insert(_ token: UInt64, _ mh: Multihash) {
        lock.lock()
        sets[token]?.insert(mh)
        lock.unlock()
    }

    func end(_ token: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard let s = sets.removeValue(forKey: token) else { return }
        if gcRunning { retained.append(s) }
    }

    /// Marks the start of a GC; returns false when one is running already.
    func startGC() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if gcRunning { return false }
        gcRunning = true
        return true
    }

    func endGC() {
        lock.lock()
        gcRunning = false
        retained = []
        lock.unlock()
    }

    /// Runs `remove` unless an in-flight (or just finished) operation holds `mh`, atomically
    /// with respect to operations protecting blocks: a block an operation protects before it
    /// reads it is either kept, or gone before the read (which then fetches it again).
    func removeUnlessProtected(_ mh: Multihash, _ remove: () throws -> Bool) rethrows -> Bool {
        lock.lock()
        defer { lock.unlock() }
        for s in sets.values where s.contains(mh) { return false }
        for s in retained where s.contains(mh) { return false }
        return try remove()
    }
}

/// Tasks waiting for a block to arrive in the store (a pin whose blocks are still on their way).
final class BlockArrivals: @unchecked Sendable {
    private let lock = NSLock()
    private var waiters: [Multihash: [UInt64: CheckedContinuation<Void, any Error>]] = [:]
    private var nextID: UInt64 = 0
    private var wakes: UInt64 = 0

    /// How many times ``wakeAll()`` ran: read it before asking the fetcher, and pass it to
    /// ``wait(for:present:since:)`` so a wake between the two is not lost.
    var generation: UInt64 { lock.withLock { wakes } }

    /// Returns once `arrived(mh)` is called (or at once when `present()` says it is there, or
    /// when ``wakeAll()`` ran since `generation` was read); throws `CancellationError` when the
    /// waiting task is cancelled.
    func wait(for mh: Multihash, present: @Sendable () -> Bool, since generation: UInt64? = nil) async throws {
        let id = lock.withLock {
            nextID += 1
            return nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                lock.lock()
                if Task.isCancelled {
                    lock.unlock()
                    c.resume(throwing: CancellationError())
                    return
                }
                if let generation, generation != wakes {
                    lock.unlock()
                    c.resume()
                    return
                }
                waiters[mh, default: [:]][id] = c
                lock.unlock()
                // The block may have arrived between the caller's check and the registration.
                if present() { arrived(mh) }
            }
        } onCancel: {
            lock.lock()
            let c = waiters[mh]?.removeValue(forKey: id)
            if waiters[mh]?.isEmpty == true { waiters[mh] = nil }
            lock.unlock()
            c?.resume(throwing: CancellationError())
        }
    }

    /// Wakes every waiter (each then looks in the store and asks the fetcher again).
    func wakeAll() {
        lock.lock()
        let ws = waiters
        waiters = [:]
        wakes += 1
        lock.unlock()
        for (_, byID) in ws { for c in byID.values { c.resume() } }
    }

    func arrived(_ mh: Multihash) {
        lock.lock()
        let ws = waiters.removeValue(forKey: mh)
        lock.unlock()
        for c in ws?.values ?? [:].values { c.resume() }
    }

    var waiting: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiters.values.reduce(0) { $0 + $1.count }
    }
}
