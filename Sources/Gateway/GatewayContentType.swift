/// The `Content-Type` of a file the gateway serves: by the name's extension, else by its first
/// bytes as Go's `http.DetectContentType` does for the common types (HTML, XML, PDF, PostScript,
/// images, audio and video containers, archives, fonts, WebAssembly, UTF-8/16 text), else
/// `application/octet-stream`. An SVG is `image/svg+xml`, never `text/xml`.
public enum GatewayContentType {
    /// Bytes looked at by ``sniff(_:)`` (as Go: the first 512).
    public static let sniffLength = 512

    static let byExtension: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8", "json": "application/json",
        "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
        "xml": "text/xml; charset=utf-8", "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "ico": "image/vnd.microsoft.icon", "bmp": "image/bmp",
        "pdf": "application/pdf", "wasm": "application/wasm", "zip": "application/zip", "gz": "application/gzip",
        "tar": "application/x-tar", "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "ogg": "audio/ogg",
        "wav": "audio/wav", "flac": "audio/flac", "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "car": "application/vnd.ipld.car", "wat": "text/plain; charset=utf-8",
    ]

    /// The type for `name`'s extension (case-insensitive), or nil.
    public static func byName(_ name: String) -> String? {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        return byExtension[name[name.index(after: dot)...].lowercased()]
    }

    /// The type of `name` with first bytes `head`: by extension, then sniffed.
    public static func of(name: String?, head: [UInt8]) -> String {
        if let name, let t = byName(name) { return t }
        return sniff(head)
    }

    /// Go's `DetectContentType` for the common signatures (only the first ``sniffLength`` bytes count).
    public static func sniff(_ bytes: [UInt8]) -> String {
        let data = Array(bytes.prefix(sniffLength))
        func starts(_ sig: [UInt8], at offset: Int = 0) -> Bool {
            data.count >= offset + sig.count && Array(data[offset..<offset + sig.count]) == sig
        }
        func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }
        if starts([0xFE, 0xFF]) || starts([0xFF, 0xFE]) { return "text/plain; charset=utf-16" + (data[0] == 0xFE ? "be" : "le") }
        if starts([0xEF, 0xBB, 0xBF]) { return "text/plain; charset=utf-8" }
        let ws: Set<UInt8> = [0x09, 0x0A, 0x0C, 0x0D, 0x20]
        let firstNonWS = data.firstIndex { !ws.contains($0) } ?? data.count
        let rest = Array(data[firstNonWS...])
        if let html = htmlType(rest) { return html }
        if lowerStarts(rest, "<?xml") {
            return containsLower(data, "<svg") ? "image/svg+xml" : "text/xml; charset=utf-8"
        }
        if lowerStarts(rest, "<svg") { return "image/svg+xml" }
        let table: [([UInt8], Int, String)] = [
            (ascii("%PDF-"), 0, "application/pdf"), (ascii("%!PS-Adobe-"), 0, "application/postscript"),
            (ascii("GIF87a"), 0, "image/gif"), (ascii("GIF89a"), 0, "image/gif"),
            ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], 0, "image/png"), ([0xFF, 0xD8, 0xFF], 0, "image/jpeg"),
            (ascii("BM"), 0, "image/bmp"), ([0, 0, 1, 0], 0, "image/x-icon"), ([0, 0, 2, 0], 0, "image/x-icon"),
            (ascii("OggS\u{0}"), 0, "application/ogg"), (ascii("ID3"), 0, "audio/mpeg"), (ascii("fLaC"), 0, "audio/flac"),
            ([0x1A, 0x45, 0xDF, 0xA3], 0, "video/webm"), (ascii("wOFF"), 0, "font/woff"), (ascii("wOF2"), 0, "font/woff2"),
            ([0x00, 0x01, 0x00, 0x00], 0, "font/ttf"), (ascii("OTTO"), 0, "font/otf"),
            ([0x1F, 0x8B, 0x08], 0, "application/x-gzip"), (ascii("PK\u{3}\u{4}"), 0, "application/zip"),
            (ascii("Rar!\u{1A}\u{7}"), 0, "application/x-rar-compressed"), ([0x00, 0x61, 0x73, 0x6D], 0, "application/wasm"),
            (ascii("ustar"), 257, "application/x-tar"),
        ]
        for (sig, offset, type) in table where starts(sig, at: offset) { return type }
        if starts(ascii("RIFF")) && starts(ascii("WEBP"), at: 8) { return "image/webp" }
        if starts(ascii("RIFF")) && starts(ascii("WAVE"), at: 8) { return "audio/wave" }
        if starts(ascii("RIFF")) && starts(ascii("AVI "), at: 8) { return "video/avi" }
        if starts(ascii("ftyp"), at: 4), data.count >= 12 {
            return String(decoding: data[8..<12], as: UTF8.self) == "avif" ? "image/avif" : "video/mp4"
        }
        // Text: no control bytes other than whitespace and ESC (Go's "binary data" bytes).
        return data.contains(where: isBinaryByte) ? "application/octet-stream" : "text/plain; charset=utf-8"
    }

    static let htmlTags = ["<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div", "<font", "<table", "<a", "<style",
        "<title", "<b", "<body", "<br", "<p", "<!--"]

    /// Go's HTML signatures: a tag name followed by a space or `>` (a comment needs nothing after).
    static func htmlType(_ rest: [UInt8]) -> String? {
        for tag in htmlTags where lowerStarts(rest, tag) {
            let n = tag.utf8.count
            if tag == "<!--" { return "text/html; charset=utf-8" }
            if rest.count > n, rest[n] == 0x20 || rest[n] == UInt8(ascii: ">") { return "text/html; charset=utf-8" }
        }
        return nil
    }

    /// Go's bytes that mark binary data: controls other than TAB, LF, FF, CR and ESC.
    static func isBinaryByte(_ b: UInt8) -> Bool {
        if b <= 0x08 || b == 0x0B { return true }
        if b >= 0x0E && b <= 0x1A { return true }
        return b >= 0x1C && b <= 0x1F
    }

    static func lowerStarts(_ data: [UInt8], _ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        guard data.count >= p.count else { return false }
        for i in p.indices where lower(data[i]) != p[i] { return false }
        return true
    }

    static func containsLower(_ data: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard data.count >= n.count else { return false }
        for i in 0...(data.count - n.count) where lowerStarts(Array(data[i..<i + n.count]), needle) { return true }
        return false
    }

    static func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }
}
