import Foundation
public import Hummingbird
public import NIOCore

/// One part's headers, as the parts of kubo clients' bodies carry them.
public struct PartHeaders {
    public var fields: [String: String] = [:]

    /// The file name: `filename` of `Content-Disposition` (`form-data; name="file";
    /// filename="a%2Fb"` or the older `file; filename="…"`), percent-decoded; "" when absent.
    public var fileName: String {
        let cd = fields["content-disposition"] ?? ""
        let params = Self.params(cd)
        let raw = params["filename"] ?? params["filename*"] ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    public var contentType: String { (fields["content-type"] ?? "application/octet-stream").lowercased() }

    static func params(_ header: String) -> [String: String] {
        var out: [String: String] = [:]
        for piece in header.split(separator: ";").dropFirst() {
            let kv = piece.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            var v = kv[1].trimmingCharacters(in: .whitespaces)
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
            out[kv[0].trimmingCharacters(in: .whitespaces).lowercased()] = v
        }
        return out
    }
}

/// Events of a streamed multipart body, delivered synchronously as the parser finds them.
public protocol PartSink: AnyObject {
    func begin(_ headers: PartHeaders) throws
    func data(_ bytes: UnsafeRawBufferPointer) throws
    func end() throws
}

/// A streaming `multipart/form-data` parser (RFC 2046 §5.1, RFC 7578): bytes in as they
/// arrive, part events out. Memory is bounded by one chunk, the part headers (16 KiB at most)
/// and a delimiter's length of carried bytes; the body is searched for the delimiter with
/// `memmem`, so each byte is looked at a constant number of times and handed on in runs as
/// long as the chunks that carried it.
///
/// (multipart-kit 4.7.1's parser, used first, copied every run of body bytes between two
/// carriage returns into a new buffer: for binary uploads one allocation per ~256 bytes and
/// about a quarter of `add`'s CPU time.)
struct MultipartStreamParser {
    static let maxHeaderBytes = 16 * 1024

    enum State { case preamble, afterDelimiter, headers, body, epilogue }
    private(set) var state = State.preamble
    /// `\r\n--<boundary>`: what ends a part's body.
    private let delimiter: [UInt8]
    /// Bytes seen but not yet consumed: a possible partial delimiter, or incomplete headers.
    private var carry: [UInt8]

    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        // The first delimiter may start the body without a preceding CRLF.
        carry = Array("\r\n".utf8)
    }

    /// Parses `chunk`; calls `sink` for every part boundary, header block and body run found.
    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ sink: any PartSink) throws {
        if carry.isEmpty {
            let used = try process(chunk, sink)
            carry = Array(chunk[used...])
        } else {
            var joined = carry
            joined.append(contentsOf: chunk)
            let used = try joined.withUnsafeBytes { try process($0, sink) }
            carry = Array(joined[used...])
        }
        // Headers still incomplete (their CRLF CRLF not seen) may be the limit plus 3 bytes.
        if state == .headers && carry.count > Self.maxHeaderBytes + 3 {
            throw KuboError.client("multipart part headers are over \(Self.maxHeaderBytes) bytes")
        }
    }

    /// Checks the body ended after its closing delimiter.
    func finish() throws {
        switch state {
        case .epilogue: return
        case .body: throw KuboError.client("multipart body ended inside a part (the upload was cut short)")
        default: throw KuboError.client("multipart body ended without its closing boundary")
        }
    }

    /// Consumes what it can of `b`; returns how many bytes were consumed.
    private mutating func process(_ b: UnsafeRawBufferPointer, _ sink: any PartSink) throws -> Int {
        var i = 0
        while true {
            switch state {
            case .preamble:
                guard let at = find(delimiter, in: b, from: i) else { return max(i, b.count - (delimiter.count - 1)) }
                i = at + delimiter.count
                state = .afterDelimiter
            case .afterDelimiter:
                // "--" closes the body; otherwise optional whitespace then CRLF opens a part.
                var j = i
                while j < b.count && (b[j] == 0x20 || b[j] == 0x09) { j += 1 }
                guard j + 1 < b.count else { return i }
                if b[i] == 0x2d && b[i + 1] == 0x2d {
                    state = .epilogue
                    return b.count
                }
                guard b[j] == 0x0d && b[j + 1] == 0x0a else {
                    throw KuboError.client("malformed multipart body: a boundary is not followed by CRLF or '--'")
                }
                i = j + 2
                state = .headers
            case .headers:
                // An empty header block is the CRLF alone.
                let end: Int
                let next: Int
                if b.count - i >= 2 && b[i] == 0x0d && b[i + 1] == 0x0a {
                    end = i
                    next = i + 2
                } else {
                    guard let at = find(Self.crlfcrlf, in: b, from: i) else { return i }
                    end = at
                    next = at + 4
                }
                if end - i > Self.maxHeaderBytes {
                    throw KuboError.client("multipart part headers are over \(Self.maxHeaderBytes) bytes")
                }
                try sink.begin(try Self.headers(UnsafeRawBufferPointer(rebasing: b[i..<end])))
                i = next
                state = .body
            case .body:
                if let at = find(delimiter, in: b, from: i) {
                    if at > i { try sink.data(UnsafeRawBufferPointer(rebasing: b[i..<at])) }
                    try sink.end()
                    i = at + delimiter.count
                    state = .afterDelimiter
                } else {
                    // Keep what could be the start of a delimiter split across chunks.
                    let safe = max(i, b.count - (delimiter.count - 1))
                    if safe > i { try sink.data(UnsafeRawBufferPointer(rebasing: b[i..<safe])) }
                    return safe
                }
            case .epilogue:
                return b.count
            }
        }
    }

    private static let crlfcrlf: [UInt8] = [0x0d, 0x0a, 0x0d, 0x0a]

    private func find(_ needle: [UInt8], in b: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard b.count - from >= needle.count else { return nil }
        return needle.withUnsafeBytes { n -> Int? in
            guard let p = memmem(b.baseAddress! + from, b.count - from, n.baseAddress!, n.count) else { return nil }
            return UnsafeRawPointer(p) - b.baseAddress!
        }
    }

    static func headers(_ raw: UnsafeRawBufferPointer) throws -> PartHeaders {
        var h = PartHeaders()
        let text = String(decoding: raw, as: UTF8.self)
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else {
                throw KuboError.client("malformed multipart part header \(String(line.prefix(80)).debugDescription)")
            }
            h.fields[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        return h
    }
}

/// Reads a request body as multipart parts into a sink; nothing is buffered beyond the chunk
/// at hand, so any body size takes bounded memory. Used by one request's task at a time.
public final class MultipartReader: @unchecked Sendable {
    private var parser: MultipartStreamParser
    private let sink: CountingSink

    /// - Throws: a client error when the request is not `multipart/…` with a boundary.
    public init(contentType: String?, sink: any PartSink) throws(KuboError) {
        guard let ct = contentType, ct.lowercased().hasPrefix("multipart/") else {
            throw .client("request body must be multipart/form-data (got \(contentType ?? "none"))")
        }
        guard let boundary = PartHeaders.params(ct)["boundary"], !boundary.isEmpty, boundary.count <= 200 else {
            throw .client("multipart request has no boundary in its Content-Type")
        }
        parser = MultipartStreamParser(boundary: boundary)
        self.sink = CountingSink(sink)
    }

    /// Parts begun so far.
    public var parts: Int { sink.parts }

    /// Feeds one chunk of the body.
    public func feed(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { try parser.feed($0, sink) }
    }

    /// Reads the whole body, calling `after` after each chunk (to flush output).
    public func consume(_ body: RequestBody, after: () async throws -> Void = {}) async throws {
        for try await buffer in body {
            try feed(buffer)
            try await after()
        }
        try parser.finish()
    }
}

/// Counts the parts a sink was given.
final class CountingSink: PartSink {
    let inner: any PartSink
    var parts = 0
    init(_ inner: any PartSink) { self.inner = inner }
    func begin(_ headers: PartHeaders) throws {
        parts += 1
        try inner.begin(headers)
    }
    func data(_ bytes: UnsafeRawBufferPointer) throws { try inner.data(bytes) }
    func end() throws { try inner.end() }
}

/// glibc's `memmem(3)`, which the Glibc module does not export (it needs `_GNU_SOURCE`).
@_silgen_name("memmem")
private func memmem(_ haystack: UnsafeRawPointer, _ haystackLength: Int, _ needle: UnsafeRawPointer, _ needleLength: Int) -> UnsafeMutableRawPointer?
