import Foundation

/// Replies of one kubo_peer process, matched to waiters by sequence number; every wait bounded.
///
/// - A waiter announces its number with `expect(_:)` before its request is written, so a reply
///   that comes first is kept; a reply nobody expects (one that came after its waiter gave up)
///   is dropped.
/// - The first outcome of a number wins: a reply, `.closed` (stdout ended), `.exited` (slot
///   ``exitSlot``, filled by the process's termination handler) or `.timedOut`.
/// - Fed from the reader thread and the termination handler; never blocks a caller's thread.
final class KuboPeerInbox: @unchecked Sendable {
    enum Outcome: Sendable {
        case reply(KuboPeerReply)
        case closed
        case exited(Int32)
        case timedOut
    }

    private enum Slot {
        case pending
        case settled(Outcome)
        case waiting(CheckedContinuation<Outcome, Never>)
    }

    /// The ready line's number (it carries none).
    static let readySlot = 0
    /// Filled with the exit status when the process ends.
    static let exitSlot = -1

    private let lock = NSLock()
    private var slots: [Int: Slot] = [:]
    private var closed = false
    private var exitStatus: Int32?

    /// Starts keeping the outcome for `seq`.
    func expect(_ seq: Int) {
        lock.withLock {
            if seq == Self.exitSlot, let status = exitStatus {
                slots[seq] = .settled(.exited(status))
            } else if seq != Self.exitSlot, closed {
                slots[seq] = .settled(.closed)
            } else {
                slots[seq] = .pending
            }
        }
    }

    /// Settles `seq` with `outcome` unless it is settled already or nobody expects it.
    func resolve(_ seq: Int, _ outcome: Outcome) {
        let waiter: CheckedContinuation<Outcome, Never>? = lock.withLock {
            switch slots[seq] {
            case .pending:
                slots[seq] = .settled(outcome)
                return nil
            case .waiting(let continuation):
                slots[seq] = nil
                return continuation
            case .settled, nil:
                return nil
            }
        }
        waiter?.resume(returning: outcome)
    }

    /// A line read from stdout.
    func deliver(line: Data) {
        let text = String(decoding: line, as: UTF8.self)
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return }
        let decoder = JSONDecoder()
        let seq = (try? decoder.decode(KuboPeerSeq.self, from: line))?.seq ?? Self.readySlot
        do {
            resolve(seq, .reply(try decoder.decode(KuboPeerReply.self, from: line)))
        } catch {
            resolve(seq, .reply(.undecodable(text, error)))
        }
    }

    /// stdout ended: every pending request is answered `.closed`.
    func closeOutput() {
        let open: [Int] = lock.withLock {
            closed = true
            return slots.keys.filter { $0 != Self.exitSlot }
        }
        for seq in open { resolve(seq, .closed) }
    }

    /// The process ended with `status`.
    func processExited(_ status: Int32) {
        lock.withLock { exitStatus = status }
        resolve(Self.exitSlot, .exited(status))
    }

    /// The outcome for `seq` (which must be expected), or `.timedOut` after `limit`.
    func wait(for seq: Int, within limit: Duration) async -> Outcome {
        let timer = Task { [self] in
            try? await Task.sleep(for: limit)
            if !Task.isCancelled { resolve(seq, .timedOut) }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let ready: Outcome? = lock.withLock {
                switch slots[seq] {
                case .settled(let outcome):
                    slots[seq] = nil
                    return outcome
                case .pending, .waiting:
                    slots[seq] = .waiting(continuation)
                    return nil
                case nil:
                    return .timedOut
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
