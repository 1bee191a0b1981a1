public import AsyncHTTPClient
import ClusterModel
import Foundation
import Multiformats
import NIOCore
import NIOSSL
import NIOPosix
public import NIOHTTP1

/// A client of PinMesh's (and ipfs-cluster's) REST API. Several hosts fail over: a host that
/// cannot be reached is skipped for the next; an HTTP error answer is not retried.
public struct ClusterClient: Sendable {
    public let hosts: [String]
    public let basicAuth: (user: String, password: String)?
    /// A token from `POST /token`, sent as `Authorization: Bearer` (instead of basic auth).
    public let token: String?
    /// How long a request may take; nil: no limit (ipfs-cluster-ctl's default).
    public let timeout: Duration?
    /// Called with a line per request and per answer (`pinmeshctl --debug`).
    public let trace: (@Sendable (String) -> Void)?
    let client: HTTPClient
    /// Hosts whose TCP connection opened once: not probed again by this client.
    let reached = ReachedHosts()

    /// The client for `--no-check-certificate`: TLS without verifying the server's certificate
    /// (a self-signed one). Process-wide, like `HTTPClient.shared`, so it is never shut down.
    static let insecure: HTTPClient = {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        return HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
    }()

    /// What went wrong: the API's own message, or why no host answered.
    public struct ClientError: Error, CustomStringConvertible, Sendable {
        public let status: Int?
        public let message: String
        public var description: String { status.map { "\(message) (HTTP \($0))" } ?? message }
    }

    /// - Parameters:
    ///   - hosts: URLs (`http://127.0.0.1:9094`, `https://…`) or multiaddrs (`/ip4/127.0.0.1/tcp/9094`;
    ///     `https` makes those HTTPS).
    ///   - checkCertificate: verify an HTTPS server's certificate against the system's roots
    ///     (false: accept any, `--no-check-certificate`).
    ///   - client: an HTTP client of the caller's (its own connection pool); it decides TLS then.
    public init(
        hosts: [String], basicAuth: (String, String)? = nil, token: String? = nil, https: Bool = false, timeout: Duration? = .seconds(60),
        checkCertificate: Bool = true, client: HTTPClient? = nil, trace: (@Sendable (String) -> Void)? = nil
    ) throws {
        self.hosts = try hosts.map { try Self.baseURL($0, https: https) }
        guard !self.hosts.isEmpty else { throw ClientError(status: nil, message: "no --host given") }
        self.basicAuth = basicAuth
        self.token = token
        self.timeout = timeout
        self.client = client ?? (checkCertificate ? .shared : Self.insecure)
        self.trace = trace
    }

    static func baseURL(_ text: String, https: Bool) throws -> String {
        if text.hasPrefix("http://") || text.hasPrefix("https://") { return text.hasSuffix("/") ? String(text.dropLast()) : text }
        guard let ma = try? Multiaddr(text) else {
            throw ClientError(status: nil, message: "--host \(text.debugDescription) is neither a URL (http://127.0.0.1:9094) nor a multiaddr (/ip4/127.0.0.1/tcp/9094)")
        }
        var host: String?
        var port: Int?
        for c in ma.components {
            switch c {
            case .ip4(let a): host = a.description
            case .ip6(let a): host = "[\(a)]"
            case .dns(let n), .dns4(let n), .dns6(let n): host = n
            case .tcp(let p): port = Int(p)
            default: break
            }
        }
        guard let host, let port else { throw ClientError(status: nil, message: "--host \(text): needs a host and a tcp port") }
        return "\(https ? "https" : "http")://\(host):\(port)"
    }

    /// Why a TCP connection to `base`'s host does not open within 2 s, in words; nil: it
    /// opens. (Without this a host that drops packets holds a request until its deadline, and
    /// a refused one is retried until then.)
    static func unreachable(_ base: String) async -> String? {
        guard let url = URL(string: base), let host = url.host else { return "\(base) is not a URL" }
        let port = url.port ?? (url.scheme == "https" ? 443 : 80)
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2)).connect(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port).get()
            try? await channel.close()
            return nil
        } catch let error as NIOConnectionError {
            let codes = error.connectionErrors.compactMap { ($0.error as? IOError)?.errnoCode }
            if codes.contains(ECONNREFUSED) { return "nothing listens at \(base) (connection refused)" }
            if error.connectionErrors.isEmpty { return "\(host) did not resolve to an address" }
            if error.connectionErrors.contains(where: { if case .connectTimeout = $0.error as? ChannelError { true } else { false } }) {
                return "\(base) did not accept a connection within 2 s"
            }
            return "cannot connect to \(base): \(error.connectionErrors.map { Self.words($0.error) }.joined(separator: ", "))"
        } catch let error as SocketAddressError {
            if case .unknown(let name, _) = error { return "\(name) is not a host name that resolves" }
            return "\(host) is not an address that resolves"
        } catch let error as IOError where error.errnoCode == ECONNREFUSED {
            return "nothing listens at \(base) (connection refused)"
        } catch ChannelError.connectTimeout {
            return "\(base) did not accept a connection within 2 s"
        } catch {
            return "cannot connect to \(base): \(Self.words(error))"
        }
    }

    /// An error of the HTTP or TLS layers in words (not its type's name).
    static func words(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .readTimeout, .deadlineExceeded: return "no answer within the --timeout"
            case .connectTimeout: return "the connection did not open in time"
            case .remoteConnectionClosed: return "the server closed the connection"
            case .cancelled: return "the request was cancelled"
            default: return "the HTTP request failed (\(e.shortDescription))"
            }
        }
        if let e = error as? NIOSSLError { return "TLS failed (\(e)); for a self-signed certificate pass --no-check-certificate" }
        if let e = error as? IOError { return e.description }
        return "\(error)"
    }

    /// The hint every connection failure ends with.
    static let findTheHost =
        "Is the daemon running? Its REST API address is the 'REST API' line `pinmesh daemon` prints when it is ready; pass it with --host or set PINMESH_API"

    /// Sends a request to the first host that answers; returns the response (status not checked).
    /// A body (an upload) can be sent once: it goes to the first host that accepts a connection.
    public func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: HTTPClientRequest.Body? = nil, contentType: String? = nil
    ) async throws -> HTTPClientResponse {
        var failures: [String] = []
        for base in hosts {
            if !reached.contains(base) {
                if let why = await Self.unreachable(base) {
                    failures.append(why)
                    continue
                }
                reached.insert(base)
            }
            var url = base + path
            if !query.isEmpty {
                var allowed = CharacterSet.urlQueryAllowed
                allowed.remove(charactersIn: "&=+,")
                url += "?" + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
            }
            var request = HTTPClientRequest(url: url)
            request.method = method
            if let body {
                request.body = body
                if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            }
            if let token {
                request.headers.add(name: "Authorization", value: "Bearer " + token)
            } else if let (u, p) = basicAuth {
                request.headers.add(name: "Authorization", value: "Basic " + Data("\(u):\(p)".utf8).base64EncodedString())
            }
            trace?("> \(method.rawValue) \(url)")
            do {
                var deadline = NIODeadline.distantFuture
                if let timeout {
                    let (s, atto) = timeout.components
                    deadline = .now() + .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
                }
                let response = try await client.execute(request, deadline: deadline)
                trace?("< \(response.status.code) \(response.status.reasonPhrase) \(response.headers[canonicalForm: "Content-Type"].joined(separator: ","))")
                return response
            } catch {
                trace?("< \(error)")
                failures.append("\(base): \(Self.words(error))")
                if body != nil { break }  // the body may be partly consumed: not sent twice
            }
        }
        throw ClientError(status: nil, message: "cannot reach the PinMesh API: \(failures.joined(separator: "; ")). \(Self.findTheHost)")
    }

    /// The body of a successful answer, or the API's error.
    public func body(_ response: HTTPClientResponse) async throws -> [UInt8] {
        let buffer = try await response.body.collect(upTo: 64 << 20)
        let bytes = Array(buffer: buffer)
        guard (200..<300).contains(Int(response.status.code)) else {
            struct E: Decodable { let message: String }
            var message = (try? JSONDecoder().decode(E.self, from: Data(bytes)))?.message ?? String(decoding: bytes, as: UTF8.self)
            message = message.trimmingCharacters(in: .whitespacesAndNewlines)
            if message.isEmpty {
                message = "the API answered \(response.status.code) \(response.status.reasonPhrase) without saying why"
                if response.status == .notFound { message += "; is --host the REST API (not the IPFS API or another service)?" }
            }
            throw ClientError(status: Int(response.status.code), message: message)
        }
        return bytes
    }

    public func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body upload: HTTPClientRequest.Body? = nil, contentType: String? = nil
    ) async throws -> [UInt8] {
        try await body(try await send(method, path, query: query, body: upload, contentType: contentType))
    }

    public func decode<T: Decodable>(_ type: T.Type, _ method: HTTPMethod, _ path: String, query: [(String, String)] = []) async throws -> T {
        try JSONDecoder().decode(T.self, from: Data(try await call(method, path, query: query)))
    }

    /// A streamed answer line by line (204: none); each line goes to `body` as it arrives.
    public func lines(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], upload: HTTPClientRequest.Body? = nil, contentType: String? = nil,
        _ body: ([UInt8]) async throws -> Void
    ) async throws {
        let response = try await send(method, path, query: query, body: upload, contentType: contentType)
        if response.status == .noContent { return }
        guard response.status == .ok else {
            _ = try await self.body(response)
            return
        }
        var pending: [UInt8] = []
        for try await chunk in response.body {
            pending += chunk.readableBytesView
            // Every complete line of the chunk, then the partial rest kept once (removing each
            // line from the front would move the rest once per line).
            var start = 0
            while let nl = pending[start...].firstIndex(of: 0x0A) {
                if nl > start { try await body(Array(pending[start..<nl])) }
                start = nl + 1
            }
            if start > 0 { pending.removeFirst(start) }
        }
        if !pending.isEmpty { try await body(pending) }
        if let error = response.body.trailers?.first(name: "X-Stream-Error"), !error.isEmpty {
            throw ClientError(status: nil, message: "the stream ended with an error: \(error)")
        }
    }

    /// The answering peer's version (`GET /version`, ipfs-cluster's `{"version": "…"}`).
    public func version() async throws -> String {
        struct Version: Decodable { let version: String }
        return try await decode(Version.self, .GET, "/version").version
    }

    public func each<T: Decodable>(_ type: T.Type, _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], _ body: (T) async throws -> Void) async throws {
        try await lines(method, path, query: query) { line in try await body(try JSONDecoder().decode(T.self, from: Data(line))) }
    }
}

/// The hosts a ``ClusterClient`` has reached (shared by its copies).
final class ReachedHosts: @unchecked Sendable {
    private let lock = NSLock()
    private var hosts: Set<String> = []

    func contains(_ host: String) -> Bool { lock.withLock { hosts.contains(host) } }
    func insert(_ host: String) { _ = lock.withLock { hosts.insert(host) } }
}
