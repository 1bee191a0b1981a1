import AsyncHTTPClient
import Datastore
import EmbeddedIPFS
import Foundation
import Hummingbird
import Logging
import Multiformats
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import ClusterTestKit

/// A temporary directory removed at deinit.
final class TempDir: @unchecked Sendable {
    let path: String
    init(_ tag: String = "ipfs") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-\(tag)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// An embedded node serving its RPC API on a port the OS picked.
final class LiveNode: @unchecked Sendable {
    let dir: TempDir
    let repo: IPFSRepo
    let port: Int
    let server: RunningApp

    var api: String { "http://127.0.0.1:\(port)/api/v0/" }
    var multiaddr: String { "/ip4/127.0.0.1/tcp/\(port)" }

    static func start(storageMax: UInt64? = nil, swarm: (any IPFSSwarm)? = nil) async throws -> LiveNode {
        let dir = TempDir("live")
        try IPFSRepo.initialize(at: dir.path)
        let repo = try IPFSRepo(root: dir.path, storageMax: storageMax)
        var logger = Logger(label: "test.ipfs")
        logger.logLevel = .critical  // the server's own shutdown chatter is not a test result
        let server = try await RunningApp.start(logger: logger) { running in
            KuboRPCServer(repo: repo, swarm: swarm, logger: logger).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        return LiveNode(dir: dir, repo: repo, server: server)
    }

    private init(dir: TempDir, repo: IPFSRepo, server: RunningApp) {
        self.dir = dir
        self.repo = repo
        self.port = server.port
        self.server = server
    }

    // A graceful stop (cancelling the server's task can trap in NIO; see RunningApp).
    deinit { Task { [server] in await server.stop() } }

    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let body: [UInt8]
        let trailers: [(String, String)]
        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        func trailer(_ name: String) -> String? { trailers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var json: J { J(try? JSONSerialization.jsonObject(with: Data(body))) }
        var lines: [J] {
            text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))).map(J.init) }
        }
    }

    struct Part {
        var name: String
        var type = "application/octet-stream"
        var bytes: [UInt8] = []
        var disposition = "form-data; name=\"file\""
    }

    static func multipart(_ parts: [Part], boundary: String = "pinmesh-test-boundary") -> [UInt8] {
        var out: [UInt8] = []
        for p in parts {
            let escaped = p.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: ".-_"))) ?? p.name
            out += Array("--\(boundary)\r\nContent-Disposition: \(p.disposition); filename=\"\(escaped)\"\r\nContent-Type: \(p.type)\r\n\r\n".utf8)
            out += p.bytes
            out += Array("\r\n".utf8)
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }

    func call(
        _ command: String, _ query: String = "", method: HTTPMethod = .POST, parts: [Part]? = nil, rawBody: [UInt8]? = nil, contentType: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var r = HTTPClientRequest(url: api + command + (query.isEmpty ? "" : "?" + query))
        r.method = method
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        if let parts {
            r.body = .bytes(ByteBuffer(bytes: Self.multipart(parts)))
            r.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=pinmesh-test-boundary")
        } else if let rawBody {
            r.body = .bytes(ByteBuffer(bytes: rawBody))
            if let contentType { r.headers.add(name: "Content-Type", value: contentType) }
        }
        let response = try await HTTPClient.shared.execute(r, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 256 << 20)
        return Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Array(buffer: body),
            trailers: response.body.trailers?.map { ($0.name, $0.value) } ?? [])
    }
}

/// Waits for `condition`, polling every 5 ms, for at most `timeout` (a bound, never a fixed
/// sleep: it returns as soon as the condition holds; generous because the suite runs in parallel).
func eventually(timeout: Duration = .seconds(20), _ condition: @Sendable () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        await Task.yield()
        try? await MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .milliseconds(5)) {}.futureResult.get()
    }
    return try await condition()
}

/// A parsed JSON value, read by key and index (missing parts read as nil).
struct J: @unchecked Sendable {
    let v: Any?
    init(_ v: Any?) { self.v = v }
    subscript(_ k: String) -> J { J((v as? [String: Any])?[k]) }
    subscript(_ i: Int) -> J {
        guard let a = v as? [Any], i < a.count else { return J(nil) }
        return J(a[i])
    }
    var string: String? { v as? String }
    var int: Int? { v as? Int }
    var bool: Bool? { v as? Bool }
    var strings: [String]? { v as? [String] }
    var exists: Bool { v != nil && !(v is NSNull) }
}

/// Starts a multipart upload of one file over a raw socket, promising `promised` body bytes
/// and sending only the part header and `file`; returns the socket (the caller closes it, or
/// keeps it open to hold the upload in flight). Nil when the connection failed.
func openUpload(port: Int, path: String, promised: Int, file: [UInt8]) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else {
        close(fd)
        return nil
    }
    var request = Array(
        ("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: \(promised)\r\n\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n").utf8)
    request += file
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 {
            close(fd)
            return nil
        }
        sent += n
    }
    return fd
}
