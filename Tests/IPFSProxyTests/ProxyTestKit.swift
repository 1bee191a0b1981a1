import AsyncHTTPClient
import ClusterModel
import ClusterTestKit
import Foundation
import Hummingbird
import IPFSProxy
import Logging
import NIOCore
import NIOHTTP1
import Node

/// A proxy in front of a LocalCluster peer (its embedded node, or another daemon), called over
/// HTTP on 127.0.0.1.
struct ProxyFixture {
    let cluster: LocalCluster
    let app: RunningApp
    var base: String { "http://127.0.0.1:\(app.port)" }

    static var quiet: Logger {
        var l = Logger(label: "test.ipfsproxy")
        l.logLevel = ProcessInfo.processInfo.environment["PINMESH_TEST_LOG"] == nil ? .critical : .debug
        return l
    }

    /// `peers` peers, every one seeing the others; the proxy runs on peer 0 and forwards to
    /// `daemonPort` (nil: peer 0's embedded node).
    static func start(
        peers: Int = 2, daemonPort: Int? = nil, _ tweak: (inout IPFSProxySettings) -> Void = { _ in }
    ) async throws -> ProxyFixture {
        let c = try await LocalCluster(peers: peers)
        var settings = IPFSProxySettings(daemonHost: "127.0.0.1", daemonPort: daemonPort ?? c[0].ipfsPort)
        tweak(&settings)
        let proxy = IPFSProxyServer(peer: c[0].peer, settings: settings, logger: quiet)
        let app = try await RunningApp.start(logger: quiet) { running in proxy.application(host: "127.0.0.1", port: 0, onRunning: running) }
        let f = ProxyFixture(cluster: c, app: app)
        _ = await LocalCluster.eventually { await c[0].peer.monitor.peers().count == peers }
        return f
    }

    func stop() async {
        await app.stop()
        await cluster.shutdown()
    }

    /// Runs `body` with a fixture, then stops it (also when `body` throws).
    static func with(
        peers: Int = 2, daemonPort: Int? = nil, _ tweak: (inout IPFSProxySettings) -> Void = { _ in }, _ body: (ProxyFixture) async throws -> Void
    ) async throws {
        let f = try await start(peers: peers, daemonPort: daemonPort, tweak)
        do {
            try await body(f)
        } catch {
            await f.stop()
            throw error
        }
        await f.stop()
    }

    func call(
        _ command: String, _ query: String = "", method: HTTPMethod = .POST, body: HTTPClientRequest.Body? = nil, contentType: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> Answer {
        try await Answer.fetch(base + "/api/v0/" + command + (query.isEmpty ? "" : "?" + query), method: method, body: body, contentType: contentType, headers: headers)
    }

    /// `add` of a multipart body.
    func add(_ parts: [Multipart.Part], _ query: String = "") async throws -> Answer {
        let m = Multipart(parts)
        return try await call("add", query, body: .bytes(ByteBuffer(bytes: m.body)), contentType: m.contentType)
    }
}

/// An HTTP answer, read whole, with its trailers.
struct Answer {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]
    let trailers: HTTPHeaders?

    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body's lines, each a JSON object.
    var lines: [[String: Any]] {
        text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }
    var object: [String: Any] { lines.first ?? [:] }
    var message: String { object["Message"] as? String ?? "" }

    static func fetch(
        _ url: String, method: HTTPMethod = .POST, body: HTTPClientRequest.Body? = nil, contentType: String? = nil, headers: [(String, String)] = []
    ) async throws -> Answer {
        var r = HTTPClientRequest(url: url)
        r.method = method
        if let body { r.body = body }
        if let contentType { r.headers.add(name: "Content-Type", value: contentType) }
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        let response = try await HTTPClient.shared.execute(r, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 256 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView), trailers: response.body.trailers)
    }
}

/// A `multipart/form-data` body as kubo clients send one: files, and directories
/// (`application/x-directory`), each named by its path.
struct Multipart {
    enum Part {
        case file(String, [UInt8])
        case directory(String)
    }
    let boundary = "pinmesh-proxy-test-boundary"
    let body: [UInt8]
    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    init(_ parts: [Part]) {
        var out: [UInt8] = []
        for p in parts {
            let (name, type, bytes): (String, String, [UInt8]) =
                switch p {
                case .file(let n, let b): (n, "application/octet-stream", b)
                case .directory(let n): (n, "application/x-directory", [])
                }
            let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? name
            out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(encoded)\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
            out += bytes
            out += Array("\r\n".utf8)
        }
        out += Array("--\(boundary)--\r\n".utf8)
        body = out
    }
}

/// Bytes from a seed, the same every run.
func seededBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var out = [UInt8](repeating: 0, count: count)
    for i in stride(from: 0, to: count, by: 8) {
        let v = rng.next()
        for j in 0..<min(8, count - i) { out[i + j] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(j))) }
    }
    return out
}
