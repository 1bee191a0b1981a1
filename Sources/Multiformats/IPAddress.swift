/// An IPv4 address, parsed strictly from dotted-decimal text (no leading zeros, no shorthand).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(MultiformatsError) {
        guard bytes.count == 4 else {
            throw MFError(.invalidAddress, "an IPv4 address is 4 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    public init(_ text: Substring) throws(MultiformatsError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            throw MFError(.invalidAddress, "invalid IPv4 address \"\(text)\": expected 4 dot-separated numbers")
        }
        var out: [UInt8] = []
        for p in parts {
            guard let v = IPv4Address.octet(p) else {
                throw MFError(.invalidAddress, "invalid IPv4 address \"\(text)\": \"\(p)\" is not a number from 0 to 255 without leading zeros")
            }
            out.append(v)
        }
        bytes = out
    }

    static func octet(_ p: Substring) -> UInt8? {
        guard (1...3).contains(p.utf8.count), p.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard p.utf8.count == 1 || p.utf8.first != 0x30, let v = Int(p), v <= 255 else { return nil }
        return UInt8(v)
    }

    public var description: String { bytes.map(String.init).joined(separator: ".") }
}

/// An IPv6 address, parsed from RFC 4291 text (with `::` and a trailing dotted IPv4 allowed,
/// no zone) and printed in RFC 5952 canonical form.
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(MultiformatsError) {
        guard bytes.count == 16 else {
            throw MFError(.invalidAddress, "an IPv6 address is 16 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    public init(_ text: Substring) throws(MultiformatsError) {
        func bad(_ why: String) -> MultiformatsError {
            MFError(.invalidAddress, "invalid IPv6 address \"\(text)\": \(why)")
        }
        guard !text.isEmpty, text.utf8.count <= 45 else { throw bad("wrong length") }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { throw bad("'::' may appear once") }

        func groups(_ s: Substring, allowIPv4Tail: Bool) throws(MultiformatsError) -> [UInt16] {
            if s.isEmpty { return [] }
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (i, p) in parts.enumerated() {
                if allowIPv4Tail && i == parts.count - 1 && p.contains(".") {
                    let v4 = try IPv4Address(p)
                    out.append(UInt16(v4.bytes[0]) << 8 | UInt16(v4.bytes[1]))
                    out.append(UInt16(v4.bytes[2]) << 8 | UInt16(v4.bytes[3]))
                    continue
                }
                guard (1...4).contains(p.utf8.count), let v = UInt16(p, radix: 16),
                      p.utf8.allSatisfy({ BaseN.hexTable[Int($0)] != 255 }) else {
                    throw bad("\"\(p)\" is not a group of 1 to 4 hex digits")
                }
                out.append(v)
            }
            return out
        }

        var words: [UInt16]
        if halves.count == 2 {
            let head = try groups(halves[0], allowIPv4Tail: false)
            let tail = try groups(halves[1], allowIPv4Tail: true)
            guard head.count + tail.count <= 7 else { throw bad("'::' must stand for at least one group") }
            words = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            words = try groups(halves[0], allowIPv4Tail: true)
            guard words.count == 8 else { throw bad("expected 8 groups, got \(words.count)") }
        }
        bytes = words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups as `::`.
    /// IPv4-mapped addresses print as `::ffff:a.b.c.d`.
    public var description: String {
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return "::ffff:" + bytes[12...].map(String.init).joined(separator: ".")
        }
        let words = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if words[i] == 0 {
                var j = i
                while j < 8 && words[j] == 0 { j += 1 }
                if j - i > bestLength { bestStart = i; bestLength = j - i }
                i = j
            } else {
                i += 1
            }
        }
        let hex = words.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return hex.joined(separator: ":") }
        let head = hex[0..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
