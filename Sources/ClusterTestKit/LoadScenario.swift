import Foundation
import NIOConcurrencyHelpers

/// A bounded load on a cluster's API: `streams` clients each reading a stream over and over,
/// while pins are submitted at `pinsPerSecond`, for `duration`; the process's resident memory
/// sampled every second. The operations are the caller's (the REST client's calls), so the
/// same driver serves the test and `pinmesh-bench load`.
public struct LoadScenario: Sendable {
    public var streams: Int
    public var pinsPerSecond: Int
    public var duration: Duration
    /// Pins in flight at most (a slow API makes the rate fall behind instead of piling up).
    public var maxPinsInFlight = 256

    public init(streams: Int, pinsPerSecond: Int, duration: Duration) {
        self.streams = streams
        self.pinsPerSecond = pinsPerSecond
        self.duration = duration
    }

    public struct Result: Sendable {
        public var pinsDone = 0
        public var pinErrors = 0
        public var streamsRead = 0
        public var streamLines = 0
        public var streamErrors = 0
        public var firstError: String?
        /// Resident memory (MB) each second, from the start.
        public var rssMB: [Double] = []
        public var seconds = 0.0
        /// From the start to the last pin's completion (the streams open at the deadline run
        /// on after it, so `seconds` is longer).
        public var pinSeconds = 0.0
        /// Each pin's time from submission to answer, in seconds.
        public var pinLatencies: [Double] = []
    }


    /// Runs the load: `pin(i)` submits pin number i; `stream()` reads one whole stream and
    /// returns its line count.
    public func run(pin: @escaping @Sendable (Int) async throws -> Void, stream: @escaping @Sendable () async throws -> Int) async -> Result {
        let state = NIOLockedValueBox(Result())
        let start = ContinuousClock.now
        let end = start + duration
        func failed(_ error: any Error, stream: Bool) {
            state.withLockedValue { r in
                if stream { r.streamErrors += 1 } else { r.pinErrors += 1 }
                r.firstError = r.firstError ?? "\(error)"
            }
        }
        await withTaskGroup(of: Void.self) { group in
            // Memory, every second.
            group.addTask {
                var next = start
                while ContinuousClock.now < end {
                    state.withLockedValue { $0.rssMB.append(ProcessMemory.megabytes("VmRSS")) }
                    next += .seconds(1)
                    try? await Task.sleep(until: next, clock: .continuous)
                }
            }
            for _ in 0..<streams {
                group.addTask {
                    while ContinuousClock.now < end {
                        do {
                            let lines = try await stream()
                            state.withLockedValue {
                                $0.streamsRead += 1
                                $0.streamLines += lines
                            }
                        } catch {
                            failed(error, stream: true)
                        }
                    }
                }
            }
            // Pins on a fixed schedule: number i is due at start + i / rate.
            group.addTask {
                await withTaskGroup(of: Void.self) { pins in
                    var i = 0
                    var inFlight = 0
                    while true {
                        let due = start + .nanoseconds(Int64(i) * 1_000_000_000 / Int64(max(1, pinsPerSecond)))
                        guard due < end else { break }
                        if inFlight >= maxPinsInFlight {
                            _ = await pins.next()
                            inFlight -= 1
                        }
                        try? await Task.sleep(until: due, clock: .continuous)
                        let n = i
                        pins.addTask {
                            let submitted = ContinuousClock.now
                            do {
                                try await pin(n)
                                let now = ContinuousClock.now
                                state.withLockedValue {
                                    $0.pinsDone += 1
                                    $0.pinSeconds = max($0.pinSeconds, Self.seconds(now - start))
                                    $0.pinLatencies.append(Self.seconds(now - submitted))
                                }
                            } catch {
                                failed(error, stream: false)
                            }
                        }
                        inFlight += 1
                        i += 1
                    }
                }
            }
        }
        var r = state.withLockedValue { $0 }
        r.seconds = Self.seconds(ContinuousClock.now - start)
        return r
    }

    static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}

/// Memory figures of a process from `/proc/<pid>/status` (Linux), in MB; 0 when unreadable.
public enum ProcessMemory {
    /// `field`: `VmRSS` (resident now) or `VmHWM` (peak resident); `pid` nil: this process.
    public static func megabytes(_ field: String, pid: Int32? = nil) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") })
        else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "") ?? 0) / 1024
    }
}
