public import AsyncHTTPClient
import Foundation
public import Logging
public import Multiformats
import NIOCore
import NIOHTTP1
public import UnixFS

/// The connector over kubo's HTTP RPC API (AsyncHTTPClient), pointed at any
/// `node_multiaddress`: kubo (`/ip4/127.0.0.1/tcp/5001`) or the embedded node
/// (`/ip4/127.0.0.1/tcp/5091`, the default).
public struct KuboConnector: IPFSConnector {
    public let baseURL: String
    let client: HTTPClient
    /// The client `pin/add` runs on: a pool of its own (pins waiting on the daemon for blocks
    /// must never hold the connections that `repo/stat`, `pin/ls` and the monitor's informers
    /// need) and no read timeout (a pin ends on its inactivity watchdog, `pin_timeout`, never on
    /// the HTTP client's 90 s). Process-wide, like `HTTPClient.shared`, so never shut down.
    let pinClient: HTTPClient
    static let pinning: HTTPClient = {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: nil))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
    let logger: Logger
    /// The deadline of calls that are not streams (id, unpin, stat, ...). AsyncHTTPClient
    /// retries a refused connection until this deadline, so it is also how long a dead daemon
    /// takes to be reported `unreachable`.
    public var callTimeout: Duration = .seconds(30)

    /// - Parameter nodeMultiaddress: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`.
    public init(nodeMultiaddress: String, client: HTTPClient = .shared, logger: Logger = Logger(label: "pinmesh.ipfsconn")) throws(IPFSConnectorError) {
        baseURL = try Self.url(nodeMultiaddress)
        self.client = client
        self.pinClient = client === HTTPClient.shared ? Self.pinning : client
        self.logger = logger
    }

    static func url(_ text: String) throws(IPFSConnectorError) -> String {
        guard let ma = try? Multiaddr(text) else {
            throw IPFSConnectorError(.unreachable, "node_multiaddress \(text.debugDescription) is not a multiaddr; write it as /ip4/127.0.0.1/tcp/5001")
        }
        var host: String?
        var port: UInt16?
        for c in ma.components {
            switch c {
            case .ip4(let a): host = a.description
            case .ip6(let a): host = "[\(a)]"
            case .dns(let n), .dns4(let n), .dns6(let n): host = n
            case .tcp(let p): port = p
            default: break
            }
        }
        guard let host, let port else {
            throw IPFSConnectorError(.unreachable, "node_multiaddress \(text) needs a host (ip4, ip6, dns) and a tcp port")
        }
        return "http://\(host):\(port)/api/v0/"
    }

    // MARK: requests

    static func query(_ args: [String], _ options: [(String, String)]) -> String {
        func enc(_ s: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~/:")
            return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
        }
        let parts = args.map { "arg=\(enc($0))" } + options.map { "\(enc($0.0))=\(enc($0.1))" }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    func request(_ command: String, _ args: [String] = [], _ options: [(String, String)] = [], body: HTTPClientRequest.Body? = nil, contentType: String? = nil)
        -> HTTPClientRequest
    {
        var r = HTTPClientRequest(url: baseURL + command + Self.query(args, options))
        r.method = .POST
        if let body {
            r.body = body
            if let contentType { r.headers.add(name: "Content-Type", value: contentType) }
        }
        return r
    }

    /// Sends a request; a non-200 answer becomes the daemon's error, typed.
    func send(_ r: HTTPClientRequest, deadline: Duration?, on http: HTTPClient? = nil) async throws -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            let d = deadline ?? .seconds(365 * 24 * 3600)
            response = try await (http ?? client).execute(r, timeout: .nanoseconds(Int64(d.components.seconds) * 1_000_000_000 + d.components.attoseconds / 1_000_000_000), logger: logger)
        } catch let e as HTTPClientError where e == .connectTimeout || e == .deadlineExceeded || e == .readTimeout {
            throw IPFSConnectorError(.timeout, "the IPFS daemon at \(baseURL) did not answer \(r.url) in time")
        } catch is CancellationError {
            throw CancellationError()
        } catch let e as HTTPClientError where e == .cancelled {
            throw CancellationError()
        } catch {
            throw IPFSConnectorError(.unreachable, "cannot reach the IPFS daemon at \(baseURL): \(error). Check that it runs and that ipfs_connector.node_multiaddress points at its API")
        }
        guard response.status == .ok else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
            throw Self.daemonError(status: response.status.code, body: body)
        }
        return response
    }

    static func daemonError(status: UInt, body: String) -> IPFSConnectorError {
        var message = body.trimmingCharacters(in: .whitespacesAndNewlines)
        if let data = body.data(using: .utf8),
           let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let m = obj["Message"] as? String {
            message = m
        }
        if message.contains("not pinned") { return IPFSConnectorError(.notPinned, message) }
        if message.contains("invalid path") || message.contains("invalid cid") || message.contains("selected encoding not supported") {
            return IPFSConnectorError(.badCID, message)
        }
        if status == 404 { return IPFSConnectorError(.daemon, "the IPFS daemon does not know this command (HTTP 404): \(message)") }
        return IPFSConnectorError(.daemon, message)
    }

    /// One JSON object answer.
    func object(_ r: HTTPClientRequest) async throws -> [String: Any] {
        let response = try await send(r, deadline: callTimeout)
        let body = try await response.body.collect(upTo: 16 << 20)
        guard let obj = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            throw IPFSConnectorError(.protocolError, "the IPFS daemon's answer to \(r.url) is not a JSON object")
        }
        return obj
    }

    /// Calls `body` with each object of an NDJSON answer as it arrives; fails with the
    /// daemon's `X-Stream-Error` trailer when the stream ended in an error.
    func lines(_ response: HTTPClientResponse, _ body: ([String: Any]) async throws -> Void) async throws {
        var pending = ByteBuffer()
        for try await chunk in response.body {
            var chunk = chunk
            pending.writeBuffer(&chunk)
            while let nl = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = nl - pending.readerIndex
                let line = pending.readSlice(length: length)!
                pending.moveReaderIndex(forwardBy: 1)
                guard line.readableBytes > 0 else { continue }
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.readableBytesView)) as? [String: Any] else {
                    throw IPFSConnectorError(.protocolError, "the IPFS daemon sent a line that is not a JSON object")
                }
                try await body(obj)
            }
            pending.discardReadBytes()
        }
        if let error = response.body.trailers?.first(name: "X-Stream-Error"), !error.isEmpty {
            throw Self.daemonError(status: 500, body: error)
        }
        if pending.readableBytes > 0,
           let obj = try? JSONSerialization.jsonObject(with: Data(pending.readableBytesView)) as? [String: Any] {
            try await body(obj)
        }
    }

    static func cid(_ value: Any?, what: String) throws(IPFSConnectorError) -> CID {
        var text = value as? String
        if let link = value as? [String: Any] { text = link["/"] as? String }
        guard let text, let c = try? CID(text) else {
            throw IPFSConnectorError(.protocolError, "the IPFS daemon sent \(what) that is not a CID: \(String(describing: value))")
        }
        return c
    }

    // MARK: IPFSConnector

    public func id() async throws -> IPFSID {
        let o = try await object(request("id"))
        guard let id = o["ID"] as? String else { throw IPFSConnectorError(.protocolError, "id: no ID in the answer") }
        return IPFSID(id: id, addresses: o["Addresses"] as? [String] ?? [], agentVersion: o["AgentVersion"] as? String ?? "")
    }

    public func pin(
        _ cid: CID, maxDepth: Int?, name: String, inactivityTimeout: Duration, progress: @escaping @Sendable (Int) -> Void
    ) async throws {
        var options = [("recursive", maxDepth == 0 ? "false" : "true"), ("progress", "true")]
        if let maxDepth, maxDepth > 0 { options.append(("max-depth", String(maxDepth))) }
        if !name.isEmpty { options.append(("name", name)) }
        let r = request("pin/add", [cid.description], options)
        let activity = Activity()
        try await withThrowingTaskGroup(of: Void.self) { g in
            g.addTask {
                let response = try await send(r, deadline: nil, on: pinClient)
                var pinned = false
                var reached = -1
                try await lines(response) { o in
                    // Only progress counts as activity: kubo repeats the same count every
                    // 500 ms while it waits for blocks, which must not keep a stuck pin alive.
                    if let n = o["Progress"] as? Int, n > reached {
                        reached = n
                        activity.touch()
                        progress(n)
                    }
                    if o["Pins"] != nil { pinned = true }
                }
                guard pinned else { throw IPFSConnectorError(.protocolError, "pin/add of \(cid) ended without confirming the pin") }
            }
            g.addTask {
                // The watchdog: fails the pin when nothing arrived for `inactivityTimeout`.
                while true {
                    try await Task.sleep(for: inactivityTimeout / 4)
                    if activity.idle(longerThan: inactivityTimeout) {
                        throw IPFSConnectorError(.timeout, "pin of \(cid) made no progress for \(inactivityTimeout); it was cancelled")
                    }
                }
            }
            defer { g.cancelAll() }
            try await g.next()
        }
    }

    public func unpin(_ cid: CID) async throws {
        _ = try await object(request("pin/rm", [cid.description]))
    }

    public func pinStatus(_ cid: CID) async throws -> IPFSPinInfo? {
        let o: [String: Any]
        do {
            o = try await object(request("pin/ls", [cid.description], [("type", "all")]))
        } catch let e as IPFSConnectorError where e.code == .notPinned {
            return nil
        }
        guard let keys = o["Keys"] as? [String: Any], let (k, v) = keys.first, let entry = v as? [String: Any] else {
            throw IPFSConnectorError(.protocolError, "pin/ls: no Keys in the answer")
        }
        return try Self.pinInfo(cid: Self.cid(k, what: "a pin"), entry)
    }

    static func pinInfo(cid: CID, _ o: [String: Any]) throws -> IPFSPinInfo {
        let type = o["Type"] as? String ?? ""
        let t: IPFSPinInfo.PinType
        switch type {
        case "direct": t = .direct
        case "recursive": t = .recursive(maxDepth: o["MaxDepth"] as? Int)
        case let s where s.hasPrefix("indirect"):
            t = .indirect(through: s.split(separator: " ").last.flatMap { try? CID(String($0)) })
        default: throw IPFSConnectorError(.protocolError, "pin/ls: unknown pin type \(type.debugDescription)")
        }
        return IPFSPinInfo(cid: cid, type: t, name: o["Name"] as? String ?? "")
    }

    public func forEachPin(recursiveOnly: Bool, _ body: @Sendable (IPFSPinInfo) async throws -> Void) async throws {
        let r = request("pin/ls", [], [("type", recursiveOnly ? "recursive" : "all"), ("stream", "true"), ("names", "true")])
        let response = try await send(r, deadline: nil)
        try await lines(response) { o in try await body(Self.pinInfo(cid: Self.cid(o["Cid"], what: "a pin"), o)) }
    }

    public func pinUpdate(from: CID, to: CID, unpin: Bool) async throws {
        let response = try await send(request("pin/update", [from.description, to.description], [("unpin", unpin ? "true" : "false")]), deadline: nil)
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    /// The `block/put` options that give a block's CID: its codec and hash function.
    static func format(_ cid: CID) -> [(String, String)] {
        [("cid-codec", cid.codec.name ?? "raw"), ("mhtype", cid.multihash.code.name ?? "sha2-256"), ("allow-big-block", "true")]
    }

    public func blockPut<S: AsyncSequence & Sendable>(_ blocks: S) async throws -> Int where S.Element == Block {
        // One request per run of blocks with the same codec and hash: kubo takes the format per
        // request. The body streams: a part is produced only when the request asks for more.
        var iterator = blocks.makeAsyncIterator()
        var carry = try await iterator.next()
        var total = 0
        while let first = carry {
            let key = Self.format(first.cid).map { "\($0.0)=\($0.1)" }
            let run = Run(first: first)
            let boundary = "pinmesh-\(UInt64.random(in: 0...UInt64.max))"
            let body = MultipartBlocks(run: run, boundary: boundary, matches: { Self.format($0.cid).map { "\($0.0)=\($0.1)" } == key }, iterator: UnsafeIterator(iterator))
            let r = request("block/put", [], Self.format(first.cid), body: .stream(body, length: .unknown), contentType: "multipart/form-data; boundary=\(boundary)")
            let response = try await send(r, deadline: nil)
            var stored = 0
            try await lines(response) { o in
                let got = try Self.cid(o["Key"], what: "a block key")
                guard let want = run.sent(at: stored), want.multihash == got.multihash else {
                    throw IPFSConnectorError(.protocolError, "block/put returned \(got), which is not the block sent")
                }
                stored += 1
            }
            guard stored == run.count else {
                throw IPFSConnectorError(.protocolError, "block/put stored \(stored) of \(run.count) blocks")
            }
            total += stored
            carry = run.next
            iterator = body.iterator.take()
        }
        return total
    }

    public func blockGet(_ cid: CID) async throws -> [UInt8] {
        let response = try await send(request("block/get", [cid.description]), deadline: callTimeout)
        let body = try await response.body.collect(upTo: 8 << 20)
        let bytes = Array(buffer: body)
        guard cid.multihash.verifies(bytes) != false else {
            throw IPFSConnectorError(.protocolError, "block/get of \(cid) returned bytes that do not match the CID")
        }
        return bytes
    }

    public func blockStat(_ cid: CID) async throws -> Int? {
        do {
            let o = try await object(request("block/stat", [cid.description]))
            return o["Size"] as? Int
        } catch let e as IPFSConnectorError where e.code == .daemon && (e.message.contains("not found") || e.message.contains("could not find")) {
            return nil
        }
    }

    public func repoStat() async throws -> IPFSRepoStat {
        let o = try await object(request("repo/stat", [], [("size-only", "false")]))
        func n(_ k: String) -> UInt64 { (o[k] as? NSNumber)?.uint64Value ?? 0 }
        return IPFSRepoStat(repoSize: n("RepoSize"), storageMax: n("StorageMax"), numObjects: Int(n("NumObjects")))
    }

    public func repoGC(keepKeys: Int = 0) async throws -> IPFSRepoGC {
        let response = try await send(request("repo/gc"), deadline: nil)
        var out = IPFSRepoGC(removed: 0, keys: [])
        var firstError: String?
        try await lines(response) { o in
            if let e = o["Error"] as? String, !e.isEmpty {
                firstError = firstError ?? e
            } else if let key = o["Key"] {
                out.removed += 1
                if out.keys.count < keepKeys, let text = (key as? [String: Any])?["/"] as? String, let cid = try? CID(text) { out.keys.append(cid) }
            }
        }
        if let firstError { throw IPFSConnectorError(.daemon, "repo/gc: \(firstError)") }
        return out
    }

    public func swarmConnect(_ address: String) async throws {
        _ = try await object(request("swarm/connect", [address]))
    }

    public func resolve(_ path: String) async throws -> CID {
        let o = try await object(request("resolve", [path]))
        guard let p = o["Path"] as? String else { throw IPFSConnectorError(.protocolError, "resolve: no Path in the answer") }
        return try Self.cid(String(p.split(separator: "/").last ?? ""), what: "the resolved path")
    }
}

/// The time of the last sign of progress.
final class Activity: @unchecked Sendable {
    private let lock = NSLock()
    private var last = ContinuousClock.now
    func touch() {
        lock.lock()
        last = .now
        lock.unlock()
    }
    func idle(longerThan d: Duration) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return ContinuousClock.now - last > d
    }
}

/// The blocks one `block/put` request carried, in order, and the first block of the next run.
final class Run: @unchecked Sendable {
    private let lock = NSLock()
    private var cids: [CID] = []
    private var _next: Block?
    /// The block that starts this run.
    let first: Block
    init(first: Block) { self.first = first }
    func append(_ c: CID) {
        lock.lock()
        cids.append(c)
        lock.unlock()
    }
    func sent(at i: Int) -> CID? {
        lock.lock()
        defer { lock.unlock() }
        return i < cids.count ? cids[i] : nil
    }
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return cids.count
    }
    var next: Block? {
        get {
            lock.lock()
            defer { lock.unlock() }
            return _next
        }
        set {
            lock.lock()
            _next = newValue
            lock.unlock()
        }
    }
}

/// Hands an iterator from one request's body to the next.
final class UnsafeIterator<I: AsyncIteratorProtocol>: @unchecked Sendable {
    var value: I
    init(_ v: I) { value = v }
    func take() -> I { value }
}

/// A multipart body of blocks produced on demand from the shared iterator: the first block,
/// then every following block of the same format; the first of another format ends the run.
struct MultipartBlocks<I: AsyncIteratorProtocol>: AsyncSequence, Sendable where I.Element == Block {
    typealias Element = ByteBuffer
    let run: Run
    let boundary: String
    let matches: @Sendable (Block) -> Bool
    let iterator: UnsafeIterator<I>

    init(run: Run, boundary: String, matches: @escaping @Sendable (Block) -> Bool, iterator: UnsafeIterator<I>) {
        self.run = run
        self.boundary = boundary
        self.matches = matches
        self.iterator = iterator
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: MultipartBlocks
        var started = false
        var done = false

        mutating func next() async throws -> ByteBuffer? {
            if done { return nil }
            let block: Block?
            if !started {
                started = true
                block = body.run.first
            } else {
                let b = try await body.iterator.value.next()
                if let b, !body.matches(b) {
                    body.run.next = b
                    block = nil
                } else {
                    block = b
                }
            }
            var out = ByteBuffer()
            guard let block else {
                done = true
                out.writeString("--\(body.boundary)--\r\n")
                return out
            }
            body.run.append(block.cid)
            out.writeString("--\(body.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"block\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            out.writeBytes(block.bytes)
            out.writeString("\r\n")
            return out
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

