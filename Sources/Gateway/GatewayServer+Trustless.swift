import Hummingbird
import Multiformats
import NIOCore
import UnixFS

extension GatewayServer {
    /// `format=raw`: the one block named by the CID, verified, as `application/vnd.ipld.raw`
    /// (a single `Range` honoured, like a file).
    func raw(_ path: GatewayPath, _ req: GatewayRequest) async throws(GatewayError) -> Response {
        guard path.names.isEmpty else {
            throw GatewayError(.badRequest, "format=raw answers /ipfs/<cid> only; to get a block under a path, ask for the path with format=car&dag-scope=block")
        }
        let bytes = try await blocks.get(path.cid)
        var h = Self.base(etag: "\"\(path.cid).raw\"", path: path, roots: [path.cid])
        if Self.notModified(req, etag: h[.eTag]!) { return Self.notModifiedResponse(h) }
        h[.contentType] = "application/vnd.ipld.raw"
        h[Self.xContentTypeOptions] = "nosniff"
        h[Self.contentDisposition] = Self.disposition("attachment", filename: req.query("filename") ?? "\(path.cid).bin")
        h[.acceptRanges] = "bytes"
        switch GatewayRange.resolve(req.header(.range), size: UInt64(bytes.count)) {
        case .whole:
            return Response(status: .ok, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .partial(let a, let b):
            h[.contentRange] = "bytes \(a)-\(b)/\(bytes.count)"
            return Response(status: .partialContent, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes[Int(a)...Int(b)])))
        case .unsatisfiable:
            return Self.unsatisfiable(size: UInt64(bytes.count))
        }
    }

    /// `format=car`: a CARv1 stream of the path's blocks and the terminal's `dag-scope`.
    func car(_ path: GatewayPath, _ req: GatewayRequest, dups: Bool) async throws(GatewayError) -> Response {
        let scope = try GatewayDAGScope.parse(req.query("dag-scope"))
        let entityBytes = try req.query("entity-bytes").map { t throws(GatewayError) in try GatewayEntityBytes.parse(t) }
        let r = try await GatewayResolver(blocks: blocks).resolve(path)
        if let eb = entityBytes, case .file(let size) = r.node, eb.from >= 0, UInt64(eb.from) >= size, size > 0 {
            throw GatewayError(.badRequest, "entity-bytes \(eb.from):… starts at or past the end of the \(size)-byte file")
        }
        let scopeText = entityBytes == nil ? scope.rawValue : "entity"
        let ebText = entityBytes.map { ".\($0.from)-\($0.to.map(String.init) ?? "*")" } ?? ""
        let tail = path.contentPath.dropFirst("/ipfs/".count)
        var h = Self.base(etag: "\"\(tail).car.dfs.\(dups ? "y" : "n").\(scopeText)\(ebText)\"", path: path, roots: r.roots)
        if Self.notModified(req, etag: h[.eTag]!) { return Self.notModifiedResponse(h) }
        h[.contentType] = "application/vnd.ipld.car; version=1; order=dfs; dups=\(dups ? "y" : "n")"
        h[Self.xContentTypeOptions] = "nosniff"
        h[.acceptRanges] = "none"
        h[Self.contentDisposition] = Self.disposition("attachment", filename: req.query("filename") ?? "\(path.cid).car")
        let writer = GatewayCAR(blocks: blocks)
        let root = path.cid
        return Response(
            status: .ok, headers: h,
            body: ResponseBody { out in
                var buffer = ByteBuffer()
                try await writer.write(root: root, r, scope: scope, entityBytes: entityBytes, dups: dups) { bytes in
                    buffer.writeBytes(bytes)
                    if buffer.readableBytes >= Self.flushBytes {
                        try await out.write(buffer)
                        buffer = ByteBuffer()
                    }
                }
                if buffer.readableBytes > 0 { try await out.write(buffer) }
                try await out.finish(nil)
            })
    }

    /// Output is written in pieces of about this size.
    static let flushBytes = 256 << 10

    static func unsatisfiable(size: UInt64) -> Response {
        var r = text(.rangeNotSatisfiable, "416 Range Not Satisfiable: the range selects no byte of this \(size)-byte content")
        r.headers[.contentRange] = "bytes */\(size)"
        r.headers[.cacheControl] = immutable
        return r
    }
}
