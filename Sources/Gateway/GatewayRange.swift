/// The `Range` request header (RFC 9110 §14.1.2, unit `bytes`) resolved against the content's size.
///
/// Rules: a single satisfiable range is served as 206; a header that is not a `bytes=` range set
/// (another unit, bad syntax, more than ``maxRanges`` parts) is ignored (200 whole, as RFC 9110
/// allows); several ranges are answered 200 whole (multipart answers are optional in the path
/// gateway spec); a range set none of whose parts selects a byte is 416.
public enum GatewayRange: Hashable, Sendable {
    /// Serve everything with 200.
    case whole
    /// Serve bytes `first...last` (inclusive) with 206.
    case partial(first: UInt64, last: UInt64)
    /// Nothing of the content is selected: 416 with `Content-Range: bytes */<size>`.
    case unsatisfiable

    public static let maxRanges = 32
    public static let maxHeaderBytes = 1024

    /// The answer to `header` (nil: no `Range` header) for content of `size` bytes.
    public static func resolve(_ header: String?, size: UInt64) -> GatewayRange {
        guard let header, header.utf8.count <= maxHeaderBytes else { return .whole }
        let t = header.gatewayTrimmed
        guard t.lowercased().hasPrefix("bytes=") else { return .whole }
        let specs = t.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false).map { String($0).gatewayTrimmed }
        guard !specs.isEmpty, specs.count <= maxRanges else { return .whole }
        var satisfiable: [(UInt64, UInt64)] = []
        for spec in specs {
            guard let parsed = parseSpec(spec) else { return .whole }
            if let r = parsed.clamp(size: size) { satisfiable.append(r) }
        }
        guard !satisfiable.isEmpty else { return .unsatisfiable }
        guard specs.count == 1 else { return .whole }
        return .partial(first: satisfiable[0].0, last: satisfiable[0].1)
    }

    enum Spec {
        case from(UInt64, to: UInt64?)
        case suffix(UInt64)

        func clamp(size: UInt64) -> (UInt64, UInt64)? {
            switch self {
            case .from(let a, let b):
                guard a < size else { return nil }
                return (a, min(b ?? size - 1, size - 1))
            case .suffix(let n):
                guard n > 0, size > 0 else { return nil }
                return (size - min(n, size), size - 1)
            }
        }
    }

    /// `a-b`, `a-` or `-n`, digits only; nil when malformed (a > b included).
    static func parseSpec(_ s: String) -> Spec? {
        guard let dash = s.firstIndex(of: "-") else { return nil }
        let a = s[..<dash], b = s[s.index(after: dash)...]
        if a.isEmpty {
            guard let n = digits(b) else { return nil }
            return .suffix(n)
        }
        guard let first = digits(a) else { return nil }
        if b.isEmpty { return .from(first, to: nil) }
        guard let last = digits(b), last >= first else { return nil }
        return .from(first, to: last)
    }

    /// A non-empty decimal number of at most 19 digits (so it fits in UInt64).
    static func digits(_ s: Substring) -> UInt64? {
        guard !s.isEmpty, s.utf8.count <= 19, s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(s)
    }
}

/// The trustless gateway's `entity-bytes=from:to` parameter.
///
/// `from` and `to` are byte offsets, inclusive; a negative value counts from the end of the
/// entity; `to` may be `*` (the end). Malformed values are refused with 400.
public struct GatewayEntityBytes: Hashable, Sendable {
    public let from: Int64
    /// nil: `*`.
    public let to: Int64?

    public static let maxTextBytes = 64

    public init(from: Int64, to: Int64?) {
        self.from = from
        self.to = to
    }

    public static func parse(_ text: String) throws(GatewayError) -> GatewayEntityBytes {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard text.utf8.count <= maxTextBytes, parts.count == 2, let from = integer(parts[0]) else {
            throw GatewayError(.badRequest, "entity-bytes \(text.debugDescription) is not from:to (integers, to may be *), e.g. entity-bytes=0:1023")
        }
        if parts[1] == "*" { return GatewayEntityBytes(from: from, to: nil) }
        guard let to = integer(parts[1]) else {
            throw GatewayError(.badRequest, "entity-bytes \(text.debugDescription): the end must be an integer or *")
        }
        if from >= 0 && to >= 0 && to < from {
            throw GatewayError(.badRequest, "entity-bytes \(text.debugDescription): the end comes before the start")
        }
        return GatewayEntityBytes(from: from, to: to)
    }

    static func integer(_ s: Substring) -> Int64? {
        let body = s.hasPrefix("-") ? s.dropFirst() : s
        guard !body.isEmpty, body.utf8.count <= 18, body.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int64(s)
    }

    /// The half-open byte range `[start, end)` selected in an entity of `size` bytes; nil when
    /// empty (then only the entity's root block is sent, as `dag-scope=block`).
    public func resolve(size: UInt64) -> Range<UInt64>? {
        let s = Int64(clamping: size)
        let start = from < 0 ? max(0, s + from) : min(from, s)
        let last = to.map { $0 < 0 ? s + $0 : min($0, s - 1) } ?? s - 1
        guard last >= start, start < s else { return nil }
        return UInt64(start)..<UInt64(last + 1)
    }
}

extension String {
    var gatewayTrimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
