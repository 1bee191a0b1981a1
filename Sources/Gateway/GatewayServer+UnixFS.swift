import Hummingbird
import Multiformats
import NIOCore
import UnixFS

extension GatewayServer {
    /// The deserialized answer: a file's bytes, a directory's `index.html` or listing.
    func unixfs(_ path: GatewayPath, _ req: GatewayRequest) async throws(GatewayError) -> Response {
        let resolver = GatewayResolver(blocks: blocks)
        let r = try await resolver.resolve(path)
        switch r.node {
        case .file(let size):
            return try await file(r.cid, r.bytes, size: size, name: path.names.last, path: path, roots: r.roots, req)
        case .directory, .hamt:
            guard path.trailingSlash else {
                var h = HTTPFields()
                h[.location] = path.contentPath + "/" + (req.rawQuery.map { "?" + $0 } ?? "")
                return Response(status: .movedPermanently, headers: h, body: ResponseBody())
            }
            if let index = try await indexLink(r, resolver) {
                let bytes = try await blocks.get(index)
                if case .file(let size) = try GatewayNode.decode(index, bytes) {
                    return try await file(index, bytes, size: size, name: "index.html", path: path, roots: r.roots, req)
                }
            }
            let etag = "\"DirIndex-\(GatewayListing.version)_CID-\(r.cid)\""
            var h = Self.base(etag: etag, path: path, roots: r.roots)
            if Self.notModified(req, etag: etag) { return Self.notModifiedResponse(h) }
            let html = GatewayListing.html(path: path, cid: r.cid, entries: try await resolver.list(r.node))
            h[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
        case .symlink(let target):
            throw GatewayError(.notImplemented, "\(path.contentPath) is a symlink to \(target.debugDescription); the gateway does not follow symlinks")
        case .other(let codec):
            guard let type = Self.blockTypes[codec.rawValue] else {
                throw GatewayError(.notAcceptable, "\(r.cid) is \(codec), which the gateway does not render; ask for it with ?format=raw")
            }
            var h = Self.base(etag: "\"\(r.cid)\"", path: path, roots: r.roots)
            if Self.notModified(req, etag: h[.eTag]!) { return Self.notModifiedResponse(h) }
            h[.contentType] = type
            return Response(status: .ok, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: r.bytes)))
        }
    }

    /// Non-UnixFS codecs served as their block, with their media types.
    static let blockTypes: [UInt64: String] = [
        0x71: "application/vnd.ipld.dag-cbor", 0x0129: "application/vnd.ipld.dag-json", 0x0200: "application/json", 0x51: "application/cbor",
    ]

    /// The directory's `index.html` entry, if it has one.
    func indexLink(_ r: GatewayResolution, _ resolver: GatewayResolver) async throws(GatewayError) -> CID? {
        switch r.node {
        case .directory(let pb): return pb.links.first { $0.name == "index.html" }?.hash
        case .hamt(let pb, let data):
            var crossed: [Block] = []
            return try await resolver.hamtLink(pb, data, name: "index.html", at: "", blocks: &crossed)?.hash
        default: return nil
        }
    }

    /// A file's bytes (or the one `Range` asked), streamed block by block.
    func file(
        _ cid: CID, _ bytes: [UInt8], size: UInt64, name: String?, path: GatewayPath, roots: [CID], _ req: GatewayRequest
    ) async throws(GatewayError) -> Response {
        var h = Self.base(etag: "\"\(cid)\"", path: path, roots: roots)
        if Self.notModified(req, etag: "\"\(cid)\"") { return Self.notModifiedResponse(h) }
        let walk = GatewayFileWalk(blocks: blocks)
        let filename = req.query("filename")
        var type = GatewayContentType.byName(filename ?? "") ?? name.flatMap(GatewayContentType.byName)
        if type == nil {
            var head: [UInt8] = []
            do {
                try await walk.walk(cid, bytes, range: 0..<min(size, UInt64(GatewayContentType.sniffLength))) { _, s in head += s }
            } catch let e as GatewayError {
                throw e
            } catch {
                throw GatewayError(.internal, "\(error)")
            }
            type = GatewayContentType.sniff(head)
        }
        h[.contentType] = type
        h[.acceptRanges] = "bytes"
        if req.query("download") == "true" {
            h[Self.contentDisposition] = Self.disposition("attachment", filename: filename ?? name)
        } else if let filename {
            h[Self.contentDisposition] = Self.disposition("inline", filename: filename)
        }
        var range = 0..<size
        var status = HTTPResponse.Status.ok
        switch GatewayRange.resolve(req.header(.range), size: size) {
        case .whole: break
        case .partial(let a, let b):
            range = a..<b + 1
            status = .partialContent
            h[.contentRange] = "bytes \(a)-\(b)/\(size)"
        case .unsatisfiable: return Self.unsatisfiable(size: size)
        }
        let want = range
        return Response(
            status: status, headers: h,
            body: ResponseBody(contentLength: Int(want.count)) { out in
                var buffer = ByteBuffer()
                var sent: UInt64 = 0
                try await walk.walk(cid, bytes, range: want) { _, slice in
                    guard !slice.isEmpty else { return }
                    sent += UInt64(slice.count)
                    guard sent <= UInt64(want.count) else { throw GatewayError(.internal, "\(cid) holds more bytes than its size says") }
                    buffer.writeBytes(slice)
                    if buffer.readableBytes >= Self.flushBytes {
                        try await out.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await out.write(buffer) }
                guard sent == UInt64(want.count) else { throw GatewayError(.internal, "\(cid) holds fewer bytes than its size says") }
                try await out.finish(nil)
            })
    }
}
