import Foundation
import NIOCore
import ServiceLifecycle
import Synchronization

/// The daemon's HTTP listeners: the ready block is printed only once every one is bound
/// (``allBound()``), and one that cannot bind says which listener it is, its address and the
/// configuration key to change.
final class ListenerGate: Sendable {
    private struct State {
        var expected = 0
        var bound = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var abandoned = false
    }
    private let state = Mutex(State())

    /// A listener: `make` builds the service, given the callback to call once it listens.
    func listener(
        _ name: String, key: String, host: String, port: Int, _ make: (@escaping @Sendable (Int) async -> Void) throws -> any Service
    ) rethrows -> any Service {
        state.withLock { $0.expected += 1 }
        let inner = try make { _ in self.markBound() }
        return NamedListener(name: name, key: key, address: "\(host.contains(":") ? "[\(host)]" : host):\(port)", inner: inner)
    }

    private func markBound() {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.bound += 1
            guard s.bound >= s.expected else { return [] }
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in ready { w.resume() }
    }

    /// Returns true once every listener made so far is bound (at once when there are none),
    /// false when ``abandon()`` was called first (the daemon stops: a listener failed, or a
    /// signal came).
    func allBound() async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.bound >= s.expected || s.abandoned { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
        return state.withLock { !$0.abandoned && $0.bound >= $0.expected }
    }

    /// Wakes every ``allBound()`` waiter with false.
    func abandon() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.abandoned = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiting { w.resume() }
    }
}

/// A listener whose failure to start names it.
struct NamedListener: Service {
    let name: String
    let key: String
    let address: String
    let inner: any Service

    func run() async throws {
        do {
            try await inner.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw StartupError(
                description: "the \(name) cannot listen on \(address): another program uses that port. Stop it, or set \(key) to a free address")
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw StartupError(description: "the \(name) cannot listen on \(address): this host has no such address. Set \(key) to one of its addresses")
        } catch let error as IOError where error.errnoCode == EACCES {
            throw StartupError(description: "the \(name) cannot listen on \(address): a port below 1024 needs root. Set \(key) to a higher port")
        }
    }
}
