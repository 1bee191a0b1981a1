/// Durations written as Go writes them (`time.Duration`'s `String` and `ParseDuration`):
/// ipfs-cluster's `service.json` and kubo's `timeout` option use this form ("30s", "1m30s",
/// "250ms", "1h0m0s").
public enum GoDuration {
    /// Parses "300ms", "1.5h", "2h45m", "-1s" is refused; "0" is zero. Nil when malformed or
    /// past Go's limit (about 292 years).
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let num = rest.prefix { $0.isNumber || $0 == "." }
            guard let n = Double(num) else { return nil }
            rest = rest.dropFirst(num.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return nil
            }
            total += n * scale
        }
        guard total.isFinite, total < 9.223372036e9 else { return nil }
        return .nanoseconds(Int64((total * 1e9).rounded()))
    }

    /// Go's text for a duration: "0s", "250ms", "1.5s", "5m0s", "1h0m0s".
    public static func format(_ d: Duration) -> String {
        let (s, atto) = d.components
        var ns = s * 1_000_000_000 + atto / 1_000_000_000
        if ns == 0 { return "0s" }
        let negative = ns < 0
        if negative { ns = -ns }
        var out: String
        if ns < 1_000_000_000 {
            // Below a second Go uses the largest unit that keeps an integer part.
            if ns < 1_000 {
                out = "\(ns)ns"
            } else if ns < 1_000_000 {
                out = fraction(ns, 1_000) + "µs"
            } else {
                out = fraction(ns, 1_000_000) + "ms"
            }
        } else {
            let h = ns / 3_600_000_000_000
            let m = (ns / 60_000_000_000) % 60
            let secNs = ns % 60_000_000_000
            out = fraction(secNs, 1_000_000_000) + "s"
            if h > 0 || m > 0 { out = "\(m)m" + out }
            if h > 0 { out = "\(h)h" + out }
        }
        return negative ? "-" + out : out
    }

    private static func fraction(_ value: Int64, _ unit: Int64) -> String {
        let whole = value / unit
        var frac = value % unit
        guard frac > 0 else { return "\(whole)" }
        var digits = String(frac)
        let width = String(unit - 1).count
        digits = String(repeating: "0", count: width - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        frac = 0
        return "\(whole).\(digits)"
    }
}
