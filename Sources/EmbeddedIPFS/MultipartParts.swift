import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// One part's headers, as the parts of kubo clients' bodies carry them.
struct PartHeaders {
    var fields: [String: String] = [:]

    /// The file name: `filename` of `Content-Disposition` (`form-data; name="file";
    /// filename="a%2Fb"` or the older `file; filename="…"`), percent-decoded; else its `name`.
    var fileName: String {
        let cd = fields["content-disposition"] ?? ""
        let params = Self.params(cd)
        let raw = params["filename"] ?? params["filename*"] ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    var contentType: String { (fields["content-type"] ?? "application/octet-stream").lowercased() }

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
protocol PartSink: AnyObject {
    func begin(_ headers: PartHeaders) throws
    func data(_ bytes: UnsafeRawBufferPointer) throws
    func end() throws
}

/// Drives multipart-kit's streaming parser over a request body: nothing is buffered beyond
/// the chunk at hand, so any body size takes bounded memory.
/// Used by one request's task at a time.
final class MultipartReader: @unchecked Sendable {
    private let parser: MultipartParser
    private var headers = PartHeaders()
    private var inPart = false
    private var failure: (any Error)?
    private(set) var parts = 0

    /// - Throws: a client error when the request is not `multipart/form-data` with a boundary.
    init(contentType: String?, sink: any PartSink) throws(KuboError) {
        guard let ct = contentType, ct.lowercased().hasPrefix("multipart/") else {
            throw .client("request body must be multipart/form-data (got \(contentType ?? "none"))")
        }
        guard let boundary = PartHeaders.params(ct)["boundary"], !boundary.isEmpty, boundary.count <= 200 else {
            throw .client("multipart request has no boundary in its Content-Type")
        }
        parser = MultipartParser(boundary: boundary)
        self.sink = sink
        parser.onHeader = { [unowned self] name, value in
            if self.inPart { self.close() }
            self.headers.fields[name.lowercased()] = value
        }
        parser.onBody = { [unowned self] buf in
            guard self.failure == nil else { return }
            if !self.inPart { self.open() }
            guard self.failure == nil else { return }  // the part's headers were refused
            buf.withUnsafeReadableBytes { raw in
                do { try sink.data(raw) } catch { self.failure = error }
            }
        }
        parser.onPartComplete = { [unowned self] in
            guard self.failure == nil else { return }
            if !self.inPart { self.open() }
            self.close()
        }
    }

    private let sink: any PartSink

    private func open() {
        inPart = true
        parts += 1
        do { try sink.begin(headers) } catch { failure = error }
        headers = PartHeaders()
    }

    private func close() {
        guard inPart else { return }
        inPart = false
        do { try sink.end() } catch { if failure == nil { failure = error } }
    }

    /// Feeds one chunk of the body.
    func feed(_ buffer: ByteBuffer) throws {
        do {
            try parser.execute(buffer)
        } catch {
            throw KuboError.client("malformed multipart body: \(error)")
        }
        if let failure { throw failure }
    }

    /// Reads the whole body, calling `after` after each chunk (to flush output).
    func consume(_ body: RequestBody, after: () async throws -> Void = {}) async throws {
        for try await buffer in body {
            try feed(buffer)
            try await after()
        }
        if inPart { throw KuboError.client("multipart body ended inside a part (the upload was cut short)") }
    }
}
