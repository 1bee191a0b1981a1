/// Tar headers as Go's `archive/tar` writes them for boxo's `TarWriter` (what kubo's `get`
/// streams): USTAR when every field fits, else PAX extended records (`path`, `linkpath`,
/// `size`, `mtime`); the footer is two zero blocks, no padding to a record size.
///
/// - `.unknown` (kubo's `--archive`): the mtime is rounded to whole seconds and USTAR is used
///   whenever it can hold the entry.
/// - `.pax` (kubo's transport when not archiving): a sub-second mtime is kept in a PAX record.
///
/// Pure: callers pass the time (boxo uses the node's mtime, or the current time when none).
public enum TarWriter {
    public enum Format: Sendable { case unknown, pax }

    public enum Kind: Sendable, Equatable {
        case file(size: UInt64)
        case directory
        case symlink(target: String)
    }

    public struct Entry: Sendable, Equatable {
        public var name: String
        public var kind: Kind
        /// Unix permission bits (with set-id and sticky bits), at most 0o7777.
        public var mode: UInt32
        public var seconds: Int64
        public var nanoseconds: Int

        public init(name: String, kind: Kind, mode: UInt32, seconds: Int64, nanoseconds: Int = 0) {
            self.name = name
            self.kind = kind
            self.mode = mode
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }
    }

    public struct TarError: Error, Equatable, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static let blockSize = 512
    /// What ends an archive: two zero blocks.
    public static let footer = [UInt8](repeating: 0, count: 1024)
    /// Go's limit on a PAX extended header's data.
    static let maxSpecialFileSize = 1 << 20

    /// Zero bytes that pad `size` bytes of content to a whole block.
    public static func padding(_ size: UInt64) -> [UInt8] {
        let r = Int(size % UInt64(blockSize))
        return r == 0 ? [] : [UInt8](repeating: 0, count: blockSize - r)
    }

    /// The header block(s) of `entry`: a PAX extended header first when one is needed.
    public static func header(_ entry: Entry, format: Format) throws(TarError) -> [UInt8] {
        guard !entry.name.isEmpty else { throw TarError(description: "tar entry with an empty name") }
        guard !entry.name.utf8.contains(0) else { throw TarError(description: "tar entry name contains a NUL byte") }
        guard entry.mode <= 0o7777 else { throw TarError(description: "tar mode \(String(entry.mode, radix: 8)) has bits beyond 0o7777") }
        guard entry.nanoseconds >= 0 && entry.nanoseconds < 1_000_000_000 else {
            throw TarError(description: "tar mtime nanoseconds \(entry.nanoseconds) out of range")
        }
        var e = entry
        if format == .unknown {
            // Go rounds to the nearest second (half away from zero) when no format is chosen.
            if e.nanoseconds >= 500_000_000 { e.seconds += 1 }
            e.nanoseconds = 0
        }
        let linkname: String
        let size: UInt64
        let flag: UInt8
        switch e.kind {
        case .file(let s): (linkname, size, flag) = ("", s, UInt8(ascii: "0"))
        case .directory: (linkname, size, flag) = ("", 0, UInt8(ascii: "5"))
        case .symlink(let t): (linkname, size, flag) = (t, 0, UInt8(ascii: "2"))
        }
        guard !linkname.utf8.contains(0) else { throw TarError(description: "tar link target contains a NUL byte") }

        // Which formats can hold the entry (Go's Header.allowedFormats, for the fields set here).
        var ustar = true
        var pax: [(String, String)] = []
        var prefix = ""
        var name = e.name
        let nameBytes = e.name.utf8.count
        if nameBytes > 100 || !isASCII(e.name) {
            if let (p, n) = splitUSTARPath(e.name) {
                prefix = p
                name = n
            } else {
                ustar = false
            }
            pax.append(("path", e.name))
        }
        if linkname.utf8.count > 100 || !isASCII(linkname) {
            ustar = false
            pax.append(("linkpath", linkname))
        }
        if size > 0o777_7777_7777 {
            ustar = false
            pax.append(("size", String(size)))
        }
        let mtimeFits = e.seconds >= 0 && e.seconds <= 0o777_7777_7777
        if !mtimeFits { ustar = false }
        if !mtimeFits || e.nanoseconds != 0 {
            // Sub-second precision makes Go prefer PAX; with `.unknown` it was rounded away.
            ustar = false
            pax.append(("mtime", paxTime(e.seconds, e.nanoseconds)))
        }

        if ustar {
            return headerBlock(
                name: name, prefix: prefix, linkname: linkname, mode: e.mode, size: size, mtime: e.seconds, flag: flag)
        }
        pax.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        var data = ""
        for (k, v) in pax {
            guard !k.utf8.contains(0) && !v.utf8.contains(0) else { throw TarError(description: "PAX record \(k) contains a NUL byte") }
            data += paxRecord(k, v)
        }
        guard data.utf8.count <= maxSpecialFileSize else { throw TarError(description: "PAX header of \(data.utf8.count) bytes exceeds 1 MiB") }
        var out: [UInt8] = []
        if !data.isEmpty {
            // Go names it <dir>/PaxHeaders.0/<file>, ASCII only, at most 100 bytes, no trailing '/'.
            let (dir, file) = splitDir(e.name)
            var xname = toASCII(joinPath(dir, "PaxHeaders.0", file))
            if xname.utf8.count > 100 { xname = String(decoding: xname.utf8.prefix(100), as: UTF8.self) }
            while xname.hasSuffix("/") { xname.removeLast() }
            out += headerBlock(name: xname, prefix: "", linkname: "", mode: 0, size: UInt64(data.utf8.count), mtime: 0, flag: UInt8(ascii: "x"), raw: true)
            out += Array(data.utf8)
            out += padding(UInt64(data.utf8.count))
        }
        // The main header in PAX form: fields that do not fit are cut (their PAX records rule).
        let clippedSize = size > 0o777_7777_7777 ? 0 : size
        let clippedTime = mtimeFits ? e.seconds : 0
        out += headerBlock(
            name: toASCII(e.name), prefix: "", linkname: toASCII(linkname), mode: e.mode, size: clippedSize, mtime: clippedTime, flag: flag)
        return out
    }

    // MARK: Go's field formats

    /// One header block. `raw`: a PAX extended header as Go's writeRawFile makes it (no
    /// device numbers written).
    static func headerBlock(
        name: String, prefix: String, linkname: String, mode: UInt32, size: UInt64, mtime: Int64, flag: UInt8, raw: Bool = false
    ) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: blockSize)
        putString(&b, 0, 100, name)
        putOctal(&b, 100, 8, UInt64(mode))
        putOctal(&b, 108, 8, 0)  // uid
        putOctal(&b, 116, 8, 0)  // gid
        putOctal(&b, 124, 12, size)
        putOctal(&b, 136, 12, UInt64(mtime))
        b[156] = flag
        putString(&b, 157, 100, linkname)
        putString(&b, 257, 6, "ustar\0")
        putString(&b, 263, 2, "00")
        // uname, gname empty; devmajor, devminor as Go writes zero: octal digits and a NUL.
        if !raw {
            putOctal(&b, 329, 8, 0)
            putOctal(&b, 337, 8, 0)
        }
        putString(&b, 345, 155, prefix)
        // Checksum: the sum of the bytes with the field as spaces, as 6 octal digits, NUL, space.
        for i in 148..<156 { b[i] = UInt8(ascii: " ") }
        let sum = b.reduce(0) { $0 + Int($1) }
        putOctal(&b, 148, 7, UInt64(sum))
        b[155] = UInt8(ascii: " ")
        return b
    }

    /// Go's formatString: the bytes, NUL-terminated when shorter than the field, cut when longer.
    static func putString(_ b: inout [UInt8], _ at: Int, _ width: Int, _ s: String) {
        let bytes = Array(s.utf8)
        for (i, c) in bytes.prefix(width).enumerated() { b[at + i] = c }
        if bytes.count < width { b[at + bytes.count] = 0 }
    }

    /// Go's formatOctal: zero-padded octal leaving room for a NUL.
    static func putOctal(_ b: inout [UInt8], _ at: Int, _ width: Int, _ v: UInt64) {
        var s = String(v, radix: 8)
        if s.count < width - 1 { s = String(repeating: "0", count: width - 1 - s.count) + s }
        putString(&b, at, width, s)
    }

    static func isASCII(_ s: String) -> Bool { s.utf8.allSatisfy { $0 < 0x80 } }

    static func toASCII(_ s: String) -> String { String(decoding: s.utf8.filter { $0 < 0x80 }, as: UTF8.self) }

    /// Go's splitUSTARPath: a prefix (≤ 155 bytes) and a name (≤ 100 bytes) split at a '/'.
    static func splitUSTARPath(_ name: String) -> (String, String)? {
        let b = Array(name.utf8)
        var length = b.count
        if length <= 100 || !isASCII(name) { return nil }
        if length > 156 { length = 156 } else if b[length - 1] == UInt8(ascii: "/") { length -= 1 }
        guard let i = b[..<length].lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let nlen = b.count - i - 1
        if i <= 0 || nlen > 100 || nlen == 0 || i > 155 { return nil }
        return (String(decoding: b[..<i], as: UTF8.self), String(decoding: b[(i + 1)...], as: UTF8.self))
    }

    /// Go's path.Split: everything up to and including the last '/', and the rest.
    static func splitDir(_ p: String) -> (String, String) {
        let b = Array(p.utf8)
        guard let i = b.lastIndex(of: UInt8(ascii: "/")) else { return ("", p) }
        return (String(decoding: b[...i], as: UTF8.self), String(decoding: b[(i + 1)...], as: UTF8.self))
    }

    /// Go's path.Join of the three parts (cleaned; `dir` may be empty).
    static func joinPath(_ dir: String, _ mid: String, _ file: String) -> String {
        let parts = (dir.split(separator: "/").map(String.init) + [mid] + (file.isEmpty ? [] : [file]))
        let lead = dir.hasPrefix("/") ? "/" : ""
        return lead + parts.joined(separator: "/")
    }

    /// A PAX record: "<len> <key>=<value>\n" where len counts the whole record.
    static func paxRecord(_ k: String, _ v: String) -> String {
        let body = " \(k)=\(v)\n"
        var size = body.utf8.count + 1
        while String(size).utf8.count + body.utf8.count != size { size = String(size).utf8.count + body.utf8.count }
        return String(size) + body
    }

    /// Go's formatPAXTime: seconds, and the fraction without trailing zeros.
    static func paxTime(_ secs: Int64, _ nanos: Int) -> String {
        guard nanos != 0 else { return String(secs) }
        var s = secs, n = nanos, sign = ""
        if s < 0 {
            sign = "-"
            s = -(s + 1)
            n = 1_000_000_000 - n
        }
        var frac = String(n)
        frac = String(repeating: "0", count: 9 - frac.count) + frac
        while frac.hasSuffix("0") { frac.removeLast() }
        return "\(sign)\(s).\(frac)"
    }
}
