import Multiformats

/// DAG-JSON over the IPLD data model (``DagCBOR`` values), as go-ipld-prime's `dagjson`
/// codec writes and reads it (what kubo's `dag get` prints and `dag put` parses).
///
/// Encoding: map keys sorted bytewise; a link is `{"/":"<cid>"}`, bytes are
/// `{"/":{"bytes":"<base64, standard alphabet, no padding>"}}`; strings escaped as refmt does
/// (`\"`, `\\`, `\n`, `\r`, `\t`, other controls as `\u00XX`, U+2028/U+2029 as `\u202X`);
/// floats as ES6 number text (`1`, `0.5`, `1e-7`, `1e+21`). No whitespace.
///
/// Decoding is strict: one value filling the input (whitespace around tokens allowed), no
/// duplicate map keys, integers within Int64, finite floats, valid escapes and UTF-8, at most
/// ``maxBytes`` bytes and ``maxDepth`` levels. With `links: false` (plain `json`), maps with a
/// `"/"` key stay maps.
public enum DagJSON {
    public static let maxBytes = 2 * 1024 * 1024
    public static let maxDepth = 64

    // MARK: Encoding

    public static func encode(_ v: DagCBOR) -> [UInt8] {
        var out: [UInt8] = []
        encode(v, into: &out)
        return out
    }

    static func encode(_ v: DagCBOR, into out: inout [UInt8]) {
        switch v {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .int(let i): out += Array(String(i).utf8)
        case .float(let d): out += Array(formatFloat(d).utf8)
        case .string(let s): encodeString(s, into: &out)
        case .bytes(let b):
            out += Array("{\"/\":{\"bytes\":\"".utf8)
            out += Array(Multibase.base64.encodeWithoutPrefix(b).utf8)
            out += Array("\"}}".utf8)
        case .link(let cid):
            out += Array("{\"/\":\"\(cid)\"}".utf8)
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                encode(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .map(let m):
            out.append(UInt8(ascii: "{"))
            for (i, k) in m.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                encodeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                encode(m[k]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static let hex = Array("0123456789abcdef".utf8)

    static func encodeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for u in s.unicodeScalars {
            switch u.value {
            case 0x22: out += [0x5c, 0x22]
            case 0x5c: out += [0x5c, 0x5c]
            case 0x0a: out += [0x5c, UInt8(ascii: "n")]
            case 0x0d: out += [0x5c, UInt8(ascii: "r")]
            case 0x09: out += [0x5c, UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(u.value >> 4)], hex[Int(u.value & 0xf)]]
            case 0x2028, 0x2029: out += Array("\\u202".utf8) + [hex[Int(u.value & 0xf)]]
            default: out += Array(String(u).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// ES6 number text, as Go's encoding/json and refmt print a float64.
    public static func formatFloat(_ d: Double) -> String {
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        // Swift's description is the shortest text that reads back as `d`: take its digits.
        let text = "\(d.magnitude)"
        var mantissa = text, exp = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exp = Int(text[text.index(after: e)...])!
        }
        var intPart = mantissa, frac = ""
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = String(mantissa[..<dot])
            frac = String(mantissa[mantissa.index(after: dot)...])
        }
        var digits = intPart + frac
        var point = intPart.count + exp  // digits before the decimal point
        let lead = digits.prefix { $0 == "0" }.count
        digits.removeFirst(lead)
        point -= lead
        while digits.hasSuffix("0") { digits.removeLast() }
        if digits.isEmpty { return "0" }
        let sign = d.sign == .minus ? "-" : ""
        let magnitude = d.magnitude
        if magnitude < 1e-6 || magnitude >= 1e21 {
            let e = point - 1
            var m = String(digits.first!)
            if digits.count > 1 { m += "." + digits.dropFirst() }
            return sign + m + "e" + (e < 0 ? "-" : "+") + String(abs(e))
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) }
        let i = digits.index(digits.startIndex, offsetBy: point)
        return sign + digits[..<i] + "." + digits[i...]
    }

    // MARK: Decoding

    /// Decodes one DAG-JSON value (with `links: false`, plain JSON: no links or bytes).
    public static func decode(_ bytes: [UInt8], links: Bool = true) throws(UnixFSError) -> DagCBOR {
        guard bytes.count <= maxBytes else { throw UnixFSError(.tooLarge, "dag-json input of \(bytes.count) bytes exceeds \(maxBytes)") }
        var p = Parser(b: bytes, links: links)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw UnixFSError(.invalidValue, "dag-json: unexpected data after the value at offset \(p.i)") }
        return v
    }

    struct Parser {
        let b: [UInt8]
        let links: Bool
        var i = 0

        init(b: [UInt8], links: Bool) {
            self.b = b
            self.links = links
        }

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
        }

        func fail(_ what: String) -> UnixFSError {
            i >= b.count
                ? UnixFSError(.truncated, "dag-json: input ends inside a value (\(what))")
                : UnixFSError(.invalidValue, "dag-json: \(what) at offset \(i)")
        }

        mutating func expect(_ c: UInt8) throws(UnixFSError) {
            guard i < b.count, b[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
            i += 1
        }

        mutating func literal(_ s: String) throws(UnixFSError) {
            let l = Array(s.utf8)
            guard b.count - i >= l.count, Array(b[i..<i + l.count]) == l else { throw fail("invalid literal") }
            i += l.count
        }

        mutating func value(depth: Int) throws(UnixFSError) -> DagCBOR {
            guard depth < DagJSON.maxDepth else { throw UnixFSError(.tooLarge, "dag-json: nested deeper than \(DagJSON.maxDepth)") }
            guard i < b.count else { throw fail("expected a value") }
            switch b[i] {
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                i += 1
                var items: [DagCBOR] = []
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "]") {
                    i += 1
                    return .list(items)
                }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < b.count else { throw fail("unterminated list") }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    try expect(UInt8(ascii: "]"))
                    return .list(items)
                }
            case UInt8(ascii: "{"): return try map(depth: depth)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func map(depth: Int) throws(UnixFSError) -> DagCBOR {
            i += 1
            var entries: [String: DagCBOR] = [:]
            var order: [String] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") {
                i += 1
                return .map(entries)
            }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string map key") }
                let key = try string()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                let v = try value(depth: depth + 1)
                guard entries[key] == nil else { throw UnixFSError(.invalidValue, "dag-json: duplicate map key \"\(key)\"") }
                entries[key] = v
                order.append(key)
                skipSpace()
                guard i < b.count else { throw fail("unterminated map") }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                try expect(UInt8(ascii: "}"))
                break
            }
            if links && entries.count == 1, let slash = entries["/"] {
                switch slash {
                case .string(let text):
                    do throws(MultiformatsError) {
                        return .link(try CID(text))
                    } catch {
                        throw UnixFSError(error, context: "dag-json link")
                    }
                case .map(let inner) where inner.count == 1:
                    if case .string(let b64)? = inner["bytes"] {
                        do throws(MultiformatsError) {
                            return .bytes(try Multibase.base64.decodeWithoutPrefix(Substring(b64)))
                        } catch {
                            throw UnixFSError(error, context: "dag-json bytes")
                        }
                    }
                default: break
                }
            }
            return .map(entries)
        }

        mutating func string() throws(UnixFSError) -> String {
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    break
                }
                guard c >= 0x20 else { throw fail("control character in a string") }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    i += 1
                    continue
                }
                i += 1
                guard i < b.count else { throw fail("unterminated escape") }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard b.count - i >= 2, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate in \\u escape")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid low surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    out += Array(String(Unicode.Scalar(code)!).utf8)
                default: throw fail("invalid escape")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw UnixFSError(.invalidValue, "dag-json: string is not valid UTF-8") }
            return s
        }

        mutating func hex4() throws(UnixFSError) -> UInt32 {
            guard b.count - i >= 4 else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("invalid hex digit in \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        /// JSON's number grammar; an integer when it has no fraction or exponent.
        mutating func number() throws(UnixFSError) -> DagCBOR {
            let start = i
            if b[i] == UInt8(ascii: "-") { i += 1 }
            func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
            guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
            if b[i] == UInt8(ascii: "0") {
                i += 1
                if i < b.count, isDigit(b[i]) { throw fail("number with a leading zero") }
            } else {
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
            var isFloat = false
            if i < b.count, b[i] == UInt8(ascii: ".") {
                isFloat = true
                i += 1
                guard i < b.count, isDigit(b[i]) else { throw fail("invalid fraction") }
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                isFloat = true
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard i < b.count, isDigit(b[i]) else { throw fail("invalid exponent") }
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
            let text = String(decoding: b[start..<i], as: UTF8.self)
            if isFloat {
                guard let d = Double(text), d.isFinite else { throw UnixFSError(.invalidValue, "dag-json: float \(text) is out of range") }
                return .float(d)
            }
            guard let n = Int64(text) else { throw UnixFSError(.invalidValue, "dag-json: integer \(text) is out of the 64-bit range") }
            return .int(n)
        }
    }
}
