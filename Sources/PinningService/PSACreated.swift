import ClusterModel

/// Request creation times: Unix nanoseconds, unique cluster-wide, written as RFC 3339 with
/// nine fractional digits.
///
/// - A peer never issues the same microsecond twice (each new time is at least one
///   microsecond after its last); the last three digits are the peer's tag (0–999, from its ID),
///   so two peers that issue in the same microsecond still differ unless their tags collide.
/// - `before`/`after` accept any RFC 3339 time (fractional digits beyond nine are ignored).
public struct PSACreated: Sendable {
    public let tag: Int64
    private(set) var lastMicros: Int64 = 0

    /// `peerBytes`: the peer ID's bytes; their FNV-1a hash modulo 1000 is the tag.
    public init(peerBytes: [UInt8]) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in peerBytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        tag = Int64(h % 1000)
    }

    /// The next creation time at `nowNanos` (Unix nanoseconds from the wall clock).
    public mutating func next(nowNanos: Int64) -> Int64 {
        let micros = max(nowNanos / 1000, lastMicros + 1)
        lastMicros = micros
        return micros * 1000 + tag
    }

    /// RFC 3339 in UTC with nanoseconds (`2026-12-03T17:20:01.123456789Z`).
    public static func format(_ nanos: Int64) -> String {
        let (seconds, fraction) = nanos.quotientAndRemainder(dividingBy: 1_000_000_000)
        let (s, f) = fraction < 0 ? (seconds - 1, fraction + 1_000_000_000) : (seconds, fraction)
        let whole = Timestamp(unixMillis: s * 1000).rfc3339  // …:SS.000Z
        let digits = String(f)
        return whole.dropLast(4) + String(repeating: "0", count: 9 - digits.count) + digits + "Z"
    }

    /// Unix nanoseconds of an RFC 3339 time; nil when it is not one.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        // Cut the fraction out, let Timestamp parse the rest to whole seconds.
        var i = 19
        var nanos: Int64 = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 9)..<9 { nanos *= 10 }
        }
        let rest = String(decoding: b[0..<19] + b[i...], as: UTF8.self)
        guard let t = Timestamp(rfc3339: rest) else { return nil }
        let (seconds, overflow) = (t.unixMillis / 1000).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (sum, o2) = seconds.addingReportingOverflow(nanos)
        return o2 ? nil : sum
    }
}
