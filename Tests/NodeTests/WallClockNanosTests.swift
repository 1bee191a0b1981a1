import Foundation
import Testing

@testable import Node

/// Metric expiry times are nanoseconds since the Unix epoch, computed in integers: a Double
/// holds today's value only to about 256 ns.
@Suite struct WallClockNanosTests {
    static func realtime() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    @Test("the monitor's nanosecond time lies between two realtime clock readings taken around it, every time")
    func nowNanosIsExact() {
        var outside: [(Int64, Int64, Int64)] = []
        for _ in 0..<200 {
            let before = Self.realtime()
            let now = MonitorService.nowNanos
            let after = Self.realtime()
            if now < before || now > after { outside.append((before, now, after)) }
        }
        #expect(outside.isEmpty, "\(outside.count) of 200 readings outside their bracket, e.g. (before, read, after) = \(outside.first.map { "\($0)" } ?? "")")
    }
}
