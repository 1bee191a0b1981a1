import Hummingbird

/// The parts of a request the gateway reads.
struct GatewayRequest: Sendable {
    let path: String
    let rawQuery: String?
    let params: [String: String]
    let headers: HTTPFields

    init(_ request: Request) {
        path = request.uri.path
        rawQuery = request.uri.query.flatMap { $0.isEmpty ? nil : $0 }
        var p: [String: String] = [:]
        for (k, v) in request.uri.queryParameters where p[String(k)] == nil { p[String(k)] = String(v) }
        params = p
        headers = request.headers
    }

    func query(_ name: String) -> String? { params[name] }
    func header(_ name: HTTPFields.Element.Name) -> String? { headers[name] }
}
