import AsyncHTTPClient
import ClusterTestKit
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Node
import PinningService

/// A LocalCluster with the Pinning Service API of peer 0 served on 127.0.0.1 (a port the OS
/// picks), and a small HTTP client for it.
final class PSAHarness: Sendable {
    let cluster: LocalCluster
    let service: PinningService
    let server: RunningApp
    var port: Int { server.port }

    struct Answer {
        let status: Int
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(type, from: body) }
        /// The spec's `Failure`, when the body is one.
        var failure: PSAJSON.Failure? { try? decode(PSAJSON.Failure.self) }
    }

    init(peers: Int = 1, credentials: [String: String]? = nil, revocationFile: String? = nil) async throws {
        cluster = try await LocalCluster(peers: peers)
        var quiet = Logger(label: "test.psa")
        quiet.logLevel = .critical
        let service = PinningService(peer: cluster[0].peer, logger: quiet)
        self.service = service
        let auth = PSAAuth(credentials: credentials, revocationFile: revocationFile)
        server = try await RunningApp.start(logger: quiet) { running in
            PinningServiceServer(service: service, auth: auth, logger: quiet).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
    }

    func stop() async {
        await server.stop()
        await cluster.shutdown()
    }

    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: String? = nil, headers: [(String, String)] = []
    ) async throws -> Answer {
        var components = URLComponents()
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        // URLComponents leaves `+` and `,` as they are; a server reads `+` as a space in queries.
        let q = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)\(q.isEmpty ? "" : "?" + q)")
        r.method = method
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        if let body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(r, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: Data(buffer: bytes))
    }

    /// `POST /pins` with a Pin object; the created status.
    func create(_ cid: String, name: String? = nil, meta: [String: String]? = nil, origins: [String]? = nil) async throws -> PSAJSON.PinStatus {
        let body = String(decoding: try JSONEncoder().encode(PSAJSON.Pin(cid: cid, name: name, origins: origins, meta: meta)), as: UTF8.self)
        let a = try await send(.POST, "/pins", body: body)
        guard a.status == 202 else { throw Unexpected(answer: a.text, status: a.status) }
        return try a.decode(PSAJSON.PinStatus.self)
    }

    func list(_ query: [(String, String)]) async throws -> PSAJSON.PinResults {
        let a = try await send(.GET, "/pins", query: query)
        guard a.status == 200 else { throw Unexpected(answer: a.text, status: a.status) }
        return try a.decode(PSAJSON.PinResults.self)
    }

    struct Unexpected: Error {
        let answer: String
        let status: Int
    }

    static let everyStatus = ("status", "queued,pinning,pinned,failed")
}
