import CodedError
import Foundation
public import Hummingbird
public import Logging
import NIOCore

/// The HTTP side of the Pinning Service API: routes, bearer auth, the spec's error JSON.
///
/// - `GET /pins` (200), `POST /pins` (202), `GET /pins/{id}` (200), `POST /pins/{id}` (202),
///   `DELETE /pins/{id}` (202, no body).
/// - Every error, the router's own 404 included, is `{"error":{"reason","details"}}`.
/// - Bodies over ``maxBody`` bytes are refused (413).
public struct PinningServiceServer: Sendable {
    public let service: PinningService
    public let auth: PSAAuth
    public let logger: Logger
    /// The largest request body read.
    public static let maxBody = 64 * 1024

    public init(service: PinningService, auth: PSAAuth = PSAAuth(credentials: nil), logger: Logger = Logger(label: "pinmesh.pinsvcapi")) {
        self.service = service
        self.auth = auth
        self.logger = logger
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: PSAErrorMiddleware())
        router.add(middleware: auth)
        let service = self.service
        router.get("/pins") { request, _ in
            let q = Self.formValues(request.uri.query ?? "")
            let query = try PSAQuery { q[$0] }
            return Self.json(await service.list(query), status: .ok)
        }
        router.post("/pins") { request, context in
            let new = try await Self.body(request, context)
            return Self.json(try await service.create(new), status: .accepted)
        }
        router.get("/pins/:requestid") { _, context in
            Self.json(try await service.get(context.parameters.get("requestid") ?? ""), status: .ok)
        }
        router.post("/pins/:requestid") { request, context in
            let new = try await Self.body(request, context)
            return Self.json(try await service.replace(context.parameters.get("requestid") ?? "", with: new), status: .accepted)
        }
        router.delete("/pins/:requestid") { _, context in
            try await service.delete(context.parameters.get("requestid") ?? "")
            return Response(status: .accepted)
        }
        return router
    }

    /// The application on `host:port` (port 0: one the OS picks; `onRunning` gets it).
    public func application(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(), configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }

    /// A query's parameters as HTML forms (and Go's `url.Values`) encode them: `+` is a space,
    /// `%XX` a byte; the first of repeated names counts.
    static func formValues(_ query: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let key = decode(parts[0])
            if out[key] == nil { out[key] = parts.count == 2 ? decode(parts[1]) : "" }
        }
        return out
    }

    static func body(_ request: Request, _ context: BasicRequestContext) async throws -> PinningService.NewRequest {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBody)
        } catch is NIOTooManyBytesError {
            throw PSAError(.badRequest, status: 413, "the request body is over \(maxBody) bytes; a Pin object is much smaller")
        } catch {
            throw PSAError.badRequest("the request body could not be read: \(error)")
        }
        let pin: PSAJSON.Pin
        do {
            pin = try JSONDecoder().decode(PSAJSON.Pin.self, from: Data(buffer: buffer))
        } catch {
            throw PSAError.badRequest("the body is not a Pin object ({\"cid\":\"…\",\"name\":\"…\",\"origins\":[…],\"meta\":{…}}): \(Self.describe(error))")
        }
        return try PinningService.NewRequest(pin)
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "\(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "\(c.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted(let c): c.codingPath.isEmpty ? "not JSON" : "\(c.codingPath.map(\.stringValue).joined(separator: ".")) is malformed"
        default: "\(error)"
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status) -> Response {
        let data = (try? PSAJSON.encoder.encode(value)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func failure(_ e: PSAError) -> Response {
        json(PSAJSON.Failure(error: .init(reason: e.reason, details: e.message)), status: HTTPResponse.Status(code: e.status))
    }
}

/// Every error as the spec's `Failure` JSON: ``PSAError`` as it says, the router's own errors
/// (no such route: 404) by their status, anything else 500.
struct PSAErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as PSAError {
            return PinningServiceServer.failure(e)
        } catch let e as any HTTPResponseError {
            let code = Int(e.status.code)
            let reason: ErrorCodeName = code == 404 ? .notFound : code == 405 ? .methodNotAllowed : code < 500 ? .badRequest : .internalError
            let details =
                code == 404
                ? "no such endpoint: \(request.method.rawValue) \(request.uri.path); the API serves GET/POST /pins and GET/POST/DELETE /pins/{requestid}"
                : "\(e)"
            return PinningServiceServer.failure(PSAError(.init(reason.rawValue), status: code, details))
        } catch {
            return PinningServiceServer.failure(PSAError(.internalError, status: 500, "\(error)"))
        }
    }

    enum ErrorCodeName: String {
        case notFound = "NOT_FOUND", methodNotAllowed = "METHOD_NOT_ALLOWED", badRequest = "BAD_REQUEST", internalError = "INTERNAL_SERVER_ERROR"
    }
}
