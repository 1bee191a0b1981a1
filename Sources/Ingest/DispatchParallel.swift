import Dispatch
public import UnixFS

/// Parallel loops for the importer, on Dispatch's worker pool.
public enum DispatchParallel {
    /// Runs the iterations across every core.
    public static let allCores: ParallelFor = { count, body in
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Runs the iterations on at most `workers` threads at once (1: in the calling thread).
    public static func workers(_ workers: Int) -> ParallelFor {
        if workers <= 1 { return { count, body in for i in 0..<count { body(i) } } }
        return { count, body in
            // Stripe the iterations over `workers` lanes, each lane in order.
            DispatchQueue.concurrentPerform(iterations: min(workers, count)) { lane in
                var i = lane
                while i < count {
                    body(i)
                    i += workers
                }
            }
        }
    }
}
