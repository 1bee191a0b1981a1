import EmbeddedIPFS
import Foundation
import Hummingbird
import Multiformats
import NIOCore

/// The Routing V1 HTTP API on the gateway listener (kubo's `Gateway.ExposeRoutingAPI`):
/// `GET /routing/v1/providers/{cid}`, answered from a ``RoutingProviderSource``.
/// `Specs/delegated-routing.md` lists every status, header and limit.
public struct RoutingV1Settings: Sendable {
    /// Providers in an `application/json` answer (boxo's server default: 20).
    public var jsonLimit = 20
    /// Providers in an `application/x-ndjson` answer.
    public var streamLimit = 100
    /// How long one lookup may take before the answer ends with what was found.
    public var timeout: Duration = .seconds(10)
    /// Also write each bitswap provider as a legacy `bitswap` schema record (kubo ≤ 0.22 reads
    /// only those).
    public var legacyRecords = true
    public init() {}
}

extension GatewayServer {
    static let lastModified = HTTPFields.Element.Name("Last-Modified")!
    static let vary = HTTPFields.Element.Name("Vary")!
    static let allowOrigin = HTTPFields.Element.Name("Access-Control-Allow-Origin")!
    static let allowMethods = HTTPFields.Element.Name("Access-Control-Allow-Methods")!
    static let allowHeaders = HTTPFields.Element.Name("Access-Control-Allow-Headers")!
    /// The provider record window of the Amino DHT (48 h): the spec's `max-ttl`.
    static let routingMaxTTL = 172_800

    /// The answer to a request under `/routing/v1/`.
    func routingAnswer(_ request: Request) async -> Response {
        let path = request.uri.path
        guard let source = routing else {
            return Self.routingText(.notFound, "the Routing V1 API is off on this gateway: set Gateway.ExposeRoutingAPI to true in the node's config")
        }
        if request.method == .options {
            var h = Self.corsHeaders()
            h[Self.allowHeaders] = "Accept, Content-Type"
            return Response(status: .noContent, headers: h, body: ResponseBody())
        }
        guard path.hasPrefix(RoutingV1.providersPath) else {
            if path.hasPrefix("/routing/v1/peers/") || path.hasPrefix("/routing/v1/ipns/") || path.hasPrefix("/routing/v1/dht/") {
                return Self.routingText(.notImplemented, "\(path) is not supported: this router answers GET /routing/v1/providers/{cid} only")
            }
            return Self.routingText(.badRequest, "unknown path \(path): the Routing V1 API has /routing/v1/providers/{cid}")
        }
        guard request.method == .get || request.method == .head else {
            var r = Self.routingText(.notImplemented, "\(request.method) \(RoutingV1.providersPath) is not supported: this router answers lookups (GET) only")
            r.headers[.allow] = "GET, HEAD, OPTIONS"
            return r
        }
        let text = String(path.dropFirst(RoutingV1.providersPath.count))
        guard !text.isEmpty, !text.contains("/"), let cid = try? CID(text) else {
            return Self.routingText(.badRequest, "\(text.debugDescription) is not a CID: ask for /routing/v1/providers/<cid>")
        }
        guard let ndjson = Self.wantsNDJSON(request.headers[.accept]) else {
            return Self.routingText(.badRequest, "Accept \(request.headers[.accept] ?? "") names no type this router writes: use \(RoutingV1.jsonType) or \(RoutingV1.ndjsonType)")
        }
        let settings = routingSettings
        let limit = ndjson ? settings.streamLimit : settings.jsonLimit
        let stream = source.providers(of: cid, limit: limit, timeout: settings.timeout)
        var iterator = stream.makeAsyncIterator()
        var h = Self.corsHeaders()
        h[Self.vary] = "Accept"
        h[Self.lastModified] = Self.httpDate(Date())
        logger.debug("routing v1 providers request", metadata: ["cid": "\(cid)", "ndjson": "\(ndjson)"])
        if !ndjson {
            var found: [RoutingProvider] = []
            while found.count < limit, let p = await iterator.next() { found.append(p) }
            logger.info("routing v1 answered", metadata: ["cid": "\(cid)", "providers": "\(found.count)"])
            h[.contentType] = RoutingV1.jsonType
            h[.cacheControl] = Self.routingCacheControl(found: !found.isEmpty)
            let body = RoutingV1.json(found, legacy: settings.legacyRecords)
            return Response(status: .ok, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        // The headers wait for the first provider (or the end), so the cache time can say
        // whether there was one.
        let first = await iterator.next()
        h[.contentType] = RoutingV1.ndjsonType
        h[.cacheControl] = Self.routingCacheControl(found: first != nil)
        let (legacy, log) = (settings.legacyRecords, logger)
        let rest = IteratorBox(iterator)
        return Response(
            status: .ok, headers: h,
            body: ResponseBody { out in
                var count = 0
                var next = first
                while let p = next, count < limit {
                    try await out.write(ByteBuffer(bytes: RoutingV1.ndjsonLines(p, legacy: legacy)))
                    count += 1
                    next = count < limit ? await rest.iterator.next() : nil
                }
                log.info("routing v1 answered", metadata: ["cid": "\(cid)", "providers": "\(count)"])
                try await out.finish(nil)
            })
    }

    /// The stream's iterator, carried into the body writer, which alone uses it after the
    /// handler has taken the first provider.
    final class IteratorBox: @unchecked Sendable {
        var iterator: AsyncStream<RoutingProvider>.Iterator
        init(_ iterator: AsyncStream<RoutingProvider>.Iterator) { self.iterator = iterator }
    }

    /// NDJSON when the client accepts it, JSON when it accepts JSON or anything (or says
    /// nothing), nil when it accepts neither.
    static func wantsNDJSON(_ accept: String?) -> Bool? {
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return false }
        var json = false
        for item in accept.split(separator: ",") {
            let type = item.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            switch type {
            case RoutingV1.ndjsonType: return true
            case RoutingV1.jsonType, "*/*", "application/*": json = true
            default: continue
            }
        }
        return json ? false : nil
    }

    /// The spec's cache rule: 5 minutes with results, 15 s without; stale answers for 48 h.
    static func routingCacheControl(found: Bool) -> String {
        "public, max-age=\(found ? 300 : 15), stale-while-revalidate=\(routingMaxTTL), stale-if-error=\(routingMaxTTL)"
    }

    static func corsHeaders() -> HTTPFields {
        var h = HTTPFields()
        h[allowOrigin] = "*"
        h[allowMethods] = "GET, OPTIONS"
        return h
    }

    static func routingText(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var r = text(status, message)
        for f in corsHeaders() { r.headers.append(f) }
        return r
    }

    /// An RFC 9110 HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static func httpDate(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: date)
    }
}
