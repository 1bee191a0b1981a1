/// The multibase encodings PinMesh reads and writes: a one-character prefix, then the data.
///
/// Decoding is strict: no padding, no leftover bits, no characters outside the alphabet. Base16,
/// base32 and base36 are read case-insensitively, as the multibase spec asks; they are written
/// in the case their prefix names.
public enum Multibase: Character, Sendable, CaseIterable {
    case base16 = "f"
    case base16Upper = "F"
    case base32 = "b"
    case base32Upper = "B"
    case base36 = "k"
    case base36Upper = "K"
    case base58btc = "z"
    case base64 = "m"
    case base64url = "u"

    /// Longest text that the quadratic radix bases (base36, base58btc) will decode.
    public static let maxRadixTextLength = 4096

    /// The multibase name, as in the multibase table ("base32", "base58btc", ...).
    public var name: String {
        switch self {
        case .base16: "base16"
        case .base16Upper: "base16upper"
        case .base32: "base32"
        case .base32Upper: "base32upper"
        case .base36: "base36"
        case .base36Upper: "base36upper"
        case .base58btc: "base58btc"
        case .base64: "base64"
        case .base64url: "base64url"
        }
    }

    /// Looks a base up by its multibase name.
    public init?(name: String) {
        guard let b = Multibase.allCases.first(where: { $0.name == name }) else { return nil }
        self = b
    }

    /// `bytes` encoded in this base, without the prefix.
    public func encodeWithoutPrefix(_ bytes: [UInt8]) -> String {
        switch self {
        case .base16: BaseN.base16(bytes, upper: false)
        case .base16Upper: BaseN.base16(bytes, upper: true)
        case .base32: BaseN.encodeBits(bytes, alphabet: BaseN.base32Lower, bitsPerChar: 5)
        case .base32Upper: BaseN.encodeBits(bytes, alphabet: BaseN.base32Upper, bitsPerChar: 5)
        case .base36: BaseN.encodeRadix(bytes, alphabet: BaseN.base36Lower)
        case .base36Upper: BaseN.encodeRadix(bytes, alphabet: BaseN.base36Upper)
        case .base58btc: BaseN.encodeRadix(bytes, alphabet: BaseN.base58)
        case .base64: BaseN.encodeBits(bytes, alphabet: BaseN.base64Std, bitsPerChar: 6)
        case .base64url: BaseN.encodeBits(bytes, alphabet: BaseN.base64URL, bitsPerChar: 6)
        }
    }

    /// `bytes` encoded in this base, with its prefix.
    public func encode(_ bytes: [UInt8]) -> String {
        String(rawValue) + encodeWithoutPrefix(bytes)
    }

    /// Decodes text in this base that carries no prefix.
    public func decodeWithoutPrefix(_ text: Substring) throws(MultiformatsError) -> [UInt8] {
        let utf8 = Array(text.utf8)
        switch self {
        case .base16, .base16Upper: return try BaseN.decodeBase16(utf8)
        case .base32, .base32Upper: return try BaseN.decodeBits(utf8, table: BaseN.base32Table, bitsPerChar: 5, name: name)
        case .base36, .base36Upper: return try BaseN.decodeRadix(utf8, table: BaseN.base36Table, radix: 36, name: name)
        case .base58btc: return try BaseN.decodeRadix(utf8, table: BaseN.base58Table, radix: 58, name: name)
        case .base64: return try BaseN.decodeBits(utf8, table: BaseN.base64StdTable, bitsPerChar: 6, name: name)
        case .base64url: return try BaseN.decodeBits(utf8, table: BaseN.base64URLTable, bitsPerChar: 6, name: name)
        }
    }

    /// Decodes prefixed multibase text; returns the base it was in and the bytes.
    public static func decode(_ text: String) throws(MultiformatsError) -> (base: Multibase, bytes: [UInt8]) {
        guard let first = text.first else { throw MFError(.empty, "empty multibase string") }
        guard let base = Multibase(rawValue: first) else {
            throw MFError(.unsupportedBase, "unsupported multibase prefix '\(first)'; supported: \(Multibase.allCases.map { String($0.rawValue) }.joined(separator: " "))")
        }
        return (base, try base.decodeWithoutPrefix(text.dropFirst()))
    }
}

/// Alphabets and the codecs behind ``Multibase``.
enum BaseN {
    static let base32Lower = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let base32Upper = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    static let base36Lower = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
    static let base36Upper = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    static let base58 = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    static let base64Std = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let base64URL = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let hexLower = Array("0123456789abcdef".utf8)
    static let hexUpper = Array("0123456789ABCDEF".utf8)

    /// Reverse lookup: 255 marks a character outside the alphabet.
    static func table(_ alphabets: [UInt8]...) -> [UInt8] {
        var t = [UInt8](repeating: 255, count: 256)
        for alphabet in alphabets {
            for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        }
        return t
    }

    static let base32Table = table(base32Lower, base32Upper)
    static let base36Table = table(base36Lower, base36Upper)
    static let base58Table = table(base58)
    static let base64StdTable = table(base64Std)
    static let base64URLTable = table(base64URL)
    static let hexTable = table(hexLower, hexUpper)

    static func base16(_ bytes: [UInt8], upper: Bool) -> String {
        let digits = upper ? hexUpper : hexLower
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decodeBase16(_ text: [UInt8]) throws(MultiformatsError) -> [UInt8] {
        guard text.count % 2 == 0 else {
            throw MFError(.nonCanonical, "base16 text has an odd number of digits (\(text.count))")
        }
        var out = [UInt8]()
        out.reserveCapacity(text.count / 2)
        var i = 0
        while i < text.count {
            let hi = hexTable[Int(text[i])], lo = hexTable[Int(text[i + 1])]
            guard hi != 255, lo != 255 else {
                let bad = hi == 255 ? text[i] : text[i + 1]
                throw MFError(.invalidCharacter, "invalid base16 character \(describe(bad)) at offset \(hi == 255 ? i : i + 1)")
            }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// RFC 4648 without padding, for 5- or 6-bit alphabets.
    static func encodeBits(_ bytes: [UInt8], alphabet: [UInt8], bitsPerChar: Int) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 8 + bitsPerChar - 1) / bitsPerChar)
        var buffer: UInt32 = 0
        var bits = 0
        let mask = UInt32(1 << bitsPerChar) - 1
        for b in bytes {
            buffer = buffer << 8 | UInt32(b)
            bits += 8
            while bits >= bitsPerChar {
                bits -= bitsPerChar
                out.append(alphabet[Int((buffer >> UInt32(bits)) & mask)])
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 {
            out.append(alphabet[Int((buffer << UInt32(bitsPerChar - bits)) & mask)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decodeBits(_ text: [UInt8], table: [UInt8], bitsPerChar: Int, name: String) throws(MultiformatsError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(text.count * bitsPerChar / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for (i, c) in text.enumerated() {
            let v = table[Int(c)]
            guard v != 255 else {
                throw MFError(.invalidCharacter, "invalid \(name) character \(describe(c)) at offset \(i)")
            }
            buffer = buffer << UInt32(bitsPerChar) | UInt32(v)
            bits += bitsPerChar
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // Lengths an unpadded encoder can produce: the last character must carry at least one
        // whole byte's worth of new bits.
        guard bits < bitsPerChar else {
            throw MFError(.nonCanonical, "\(name) text of \(text.count) characters has an impossible length")
        }
        guard buffer == 0 else {
            throw MFError(.nonCanonical, "\(name) text has non-zero leftover bits in its last character")
        }
        return out
    }

    /// Big-number radix encoding with leading zero bytes kept as leading zero digits.
    ///
    /// The number is kept in limbs of `radix^k` (the largest power for which a limb times 256
    /// still fits 64 bits: k = 9 for base58), so each input byte costs one pass over
    /// a ninth as many limbs as digits; peer IDs and CIDv0 print on every status line.
    static func encodeRadix(_ bytes: [UInt8], alphabet: [UInt8]) -> String {
        let radix = UInt64(alphabet.count)
        var k = 1
        var limbBase = radix
        while limbBase <= (UInt64.max >> 8) / radix { limbBase *= radix; k += 1 }
        let zeros = bytes.prefix(while: { $0 == 0 }).count
        // Limbs, least significant first.
        var limbs: [UInt64] = []
        limbs.reserveCapacity((bytes.count - zeros) * 138 / 100 / k + 2)
        for b in bytes[zeros...] {
            var carry = UInt64(b)
            for j in 0..<limbs.count {
                let v = limbs[j] << 8 | carry
                limbs[j] = v % limbBase
                carry = v / limbBase
            }
            while carry > 0 {
                limbs.append(carry % limbBase)
                carry /= limbBase
            }
        }
        // Digits, least significant first: k per limb, the top limb without its leading zeros.
        var digits: [UInt8] = []
        digits.reserveCapacity(limbs.count * k)
        for (i, limb) in limbs.enumerated() {
            var v = limb
            if i == limbs.count - 1 {
                while v > 0 {
                    digits.append(UInt8(v % radix))
                    v /= radix
                }
            } else {
                for _ in 0..<k {
                    digits.append(UInt8(v % radix))
                    v /= radix
                }
            }
        }
        var out = [UInt8](repeating: alphabet[0], count: zeros)
        out.reserveCapacity(zeros + digits.count)
        for d in digits.reversed() { out.append(alphabet[Int(d)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func decodeRadix(_ text: [UInt8], table: [UInt8], radix: UInt32, name: String) throws(MultiformatsError) -> [UInt8] {
        guard text.count <= Multibase.maxRadixTextLength else {
            throw MFError(.tooLong, "\(name) text of \(text.count) characters exceeds the limit of \(Multibase.maxRadixTextLength)")
        }
        var zeros = 0
        while zeros < text.count && table[Int(text[zeros])] == 0 { zeros += 1 }
        // Bytes, least significant first.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        for (i, c) in text.enumerated().dropFirst(zeros) {
            let v = table[Int(c)]
            guard v != 255 else {
                throw MFError(.invalidCharacter, "invalid \(name) character \(describe(c)) at offset \(i)")
            }
            var carry = UInt32(v)
            for j in 0..<bytes.count {
                carry += UInt32(bytes[j]) * radix
                bytes[j] = UInt8(truncatingIfNeeded: carry)
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(UInt8(truncatingIfNeeded: carry))
                carry >>= 8
            }
        }
        return [UInt8](repeating: 0, count: zeros) + bytes.reversed()
    }

    static func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7f ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(base16([c], upper: false))"
    }
}
