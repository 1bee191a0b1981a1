import AsyncHTTPClient
import Hummingbird
import NIOCore
import NIOHTTP1

/// The headers the daemon would have put on the answer of a call the proxy answers itself, as
/// ipfs-cluster's proxy finds them:
/// - `Access-Control-Expose-Headers` and `extract_headers_extra`, copied from the daemon's
///   answer to `extract_headers_path` and reused for `extract_headers_ttl` (when the daemon
///   cannot be asked, the last ones known are used);
/// - for a browser's call (one with an `Origin`), `Access-Control-Allow-Origin`, `Vary` and
///   `Access-Control-Allow-Credentials` from the daemon's answer to the preflight `OPTIONS` of
///   the same path and origin.
/// Each question to the daemon waits at most 5 s; a daemon that does not answer adds nothing.
actor DaemonHeaders {
    let settings: IPFSProxySettings
    let client: HTTPClient
    let names: [String]
    private var stored: [(String, [String])] = []
    private var fetchedAt: ContinuousClock.Instant?

    static let corsNames = ["Access-Control-Allow-Origin", "Vary", "Access-Control-Allow-Credentials"]
    static let originName = HTTPFields.Element.Name("Origin")!

    init(settings: IPFSProxySettings, client: HTTPClient) {
        self.settings = settings
        self.client = client
        names = ["Access-Control-Expose-Headers"] + settings.extractHeadersExtra
    }

    /// The headers for the answer to `request`.
    func headers(for request: Request) async -> HTTPFields {
        var out = HTTPFields()
        if let origin = request.headers[Self.originName] {
            var preflight = HTTPClientRequest(url: settings.daemonURL + request.uri.path)
            preflight.method = .OPTIONS
            preflight.headers.add(name: "Origin", value: origin)
            preflight.headers.add(name: "Access-Control-Request-Method", value: request.method.rawValue)
            if let answer = await ask(preflight) { Self.copy(Self.corsNames.map { ($0, answer[$0]) }, into: &out) }
        }
        Self.copy(await extracted(), into: &out)
        return out
    }

    /// Whether the daemon's answer to the preflight `OPTIONS` of `path` allows `origin` (its
    /// `Access-Control-Allow-Origin` is that origin or `*`): kubo's `API.HTTPHeaders` decide
    /// for origins the proxy's own settings do not list.
    func allows(origin: String, path: String, method: String) async -> Bool {
        var preflight = HTTPClientRequest(url: settings.daemonURL + path)
        preflight.method = .OPTIONS
        preflight.headers.add(name: "Origin", value: origin)
        preflight.headers.add(name: "Access-Control-Request-Method", value: method)
        guard let answer = await ask(preflight) else { return false }
        return answer["Access-Control-Allow-Origin"].contains { $0 == origin || $0 == "*" }
    }

    /// The extracted headers, asked again when older than the TTL.
    private func extracted() async -> [(String, [String])] {
        let fresh = fetchedAt.map { at in settings.extractHeadersTTL.map { ContinuousClock.now - at < $0 } ?? true } ?? false
        guard !fresh else { return stored }
        var r = HTTPClientRequest(url: settings.daemonURL + settings.extractHeadersPath)
        r.method = .POST
        if let answer = await ask(r) {
            stored = names.map { ($0, answer[$0]) }
            fetchedAt = .now
        }
        return stored
    }

    private func ask(_ request: HTTPClientRequest) async -> HTTPHeaders? {
        guard let answer = try? await client.execute(request, timeout: .seconds(5)) else { return nil }
        _ = try? await answer.body.collect(upTo: 1 << 20)
        return answer.headers
    }

    private static func copy(_ pairs: [(String, [String])], into out: inout HTTPFields) {
        for (name, values) in pairs {
            guard let n = HTTPFields.Element.Name(name) else { continue }
            out[fields: n] = values.map { HTTPFields.Element(name: n, value: $0) }
        }
    }
}
