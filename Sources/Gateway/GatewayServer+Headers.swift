import Hummingbird
import Multiformats
import NIOCore

extension GatewayServer {
    static let serviceWorker = HTTPFields.Element.Name("Service-Worker")!
    static let contentLocation = HTTPFields.Element.Name("Content-Location")!
    static let contentDisposition = HTTPFields.Element.Name("Content-Disposition")!
    static let xIpfsPath = HTTPFields.Element.Name("X-Ipfs-Path")!
    static let xIpfsRoots = HTTPFields.Element.Name("X-Ipfs-Roots")!
    static let xContentTypeOptions = HTTPFields.Element.Name("X-Content-Type-Options")!
    static let retryAfter = HTTPFields.Element.Name("Retry-After")!
    /// Every answer under /ipfs/ is immutable (path gateway spec: MUST).
    static let immutable = "public, max-age=29030400, immutable"

    /// The headers every successful /ipfs/ answer carries.
    static func base(etag: String, path: GatewayPath, roots: [CID]?) -> HTTPFields {
        var h = HTTPFields()
        h[.eTag] = etag
        h[.cacheControl] = immutable
        h[xIpfsPath] = path.contentPath
        if let roots { h[xIpfsRoots] = roots.map(\.description).joined(separator: ",") }
        return h
    }

    /// Whether `If-None-Match` names `etag` (weak comparison, `*` matches anything).
    static func notModified(_ req: GatewayRequest, etag: String) -> Bool {
        guard let inm = req.header(.ifNoneMatch) else { return false }
        func bare(_ t: String) -> String { t.hasPrefix("W/") ? String(t.dropFirst(2)) : t }
        return inm.split(separator: ",").contains { item in
            let t = String(item).gatewayTrimmed
            return t == "*" || bare(t) == bare(etag)
        }
    }

    /// 304 with the caching headers of the answer it stands for.
    static func notModifiedResponse(_ headers: HTTPFields) -> Response {
        var h = HTTPFields()
        for name in [HTTPFields.Element.Name.eTag, .cacheControl, xIpfsPath, xIpfsRoots] { if let v = headers[name] { h[name] = v } }
        return Response(status: .notModified, headers: h, body: ResponseBody())
    }

    /// `Content-Disposition` with `filename` as the spec writes it: an ASCII form (other
    /// characters, quotes and backslashes as `_`) and, when needed, a UTF-8 `filename*`.
    static func disposition(_ kind: String, filename: String?) -> String {
        guard let filename, !filename.isEmpty else { return kind }
        var ascii = ""
        var plain = true
        for s in filename.unicodeScalars {
            if s.isASCII && s.value >= 0x20 && s.value != 0x7F && s != "\"" && s != "\\" {
                ascii.unicodeScalars.append(s)
            } else {
                ascii += "_"
                if !s.isASCII { plain = false }
            }
        }
        var out = "\(kind); filename=\"\(ascii)\""
        if !plain {
            var pct = ""
            for b in filename.utf8 {
                let keep = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
                pct += keep ? String(UnicodeScalar(b)) : "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
            }
            out += "; filename*=UTF-8''\(pct)"
        }
        return out
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    static func error(_ e: GatewayError) -> Response {
        var r = text(HTTPResponse.Status(code: e.status), "\(e.status) \(HTTPResponse.Status(code: e.status).reasonPhrase): \(e.message)")
        if e.status == 504 { r.headers[retryAfter] = "30" }
        return r
    }

    /// The answer to HEAD: the GET answer's status and headers, its `Content-Length` kept, no body.
    static func headOnly(_ r: Response) -> Response {
        var h = r.headers
        if h[.contentLength] == nil, let n = r.body.contentLength { h[.contentLength] = String(n) }
        return Response(status: r.status, headers: h, body: ResponseBody())
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
