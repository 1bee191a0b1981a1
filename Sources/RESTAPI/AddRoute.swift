import ClusterModel
import EmbeddedIPFS
import Foundation
import Hummingbird
import Multiformats
import NIOConcurrencyHelpers
import Node
import UnixFS

/// ipfs-cluster's `api.AddedOutput`: one line of `POST /add`'s stream.
struct AddedOutput: Codable, Sendable, Equatable {
    var name: String
    var cid: String?
    var bytes: UInt64?
    var size: UInt64?
    var allocations: [String]?
}

/// Where an add's blocks go: every block to the same peers, or shard by shard.
enum Sender {
    case whole(ClusterAdd)
    case sharded(ShardedAdd)

    func put(_ blocks: [Block]) async throws {
        switch self {
        case .whole(let a): try await a.put(blocks)
        case .sharded(let a): try await a.put(blocks)
        }
    }
}

/// Blocks made while one body chunk was parsed, waiting to be sent.
final class BlockBuffer: @unchecked Sendable {
    private var blocks: [Block] = []
    func append(_ b: [Block]) { blocks += b }
    func take() -> [Block] {
        defer { blocks = [] }
        return blocks
    }
}

/// The parameters of `POST /add`, as ipfs-cluster's `AddParamsFromQuery` reads them.
struct AddParameters {
    var options: PinOptions
    var mode: PinMode?
    var settings: ImportSettings
    var local = false
    var wrap = false
    var progress = false
    var noPin = false
    var car = false
    var shard = false
    /// 0: the default.
    var shardSize: UInt64 = 0
    /// false: the lines are collected and sent as one JSON array at the end (ipfs-cluster's
    /// `stream-channels=false`), with an error answered as an error instead of a trailer.
    var streamChannels = true

    init(_ q: Parameters) throws {
        (options, mode) = try RESTAPIServer.pinOptions(q)
        options.pinUpdate = nil  // meaningless for an add, as in ipfs-cluster
        local = try RESTAPIServer.bool(q.get("local"), "local")
        wrap = try RESTAPIServer.bool(q.get("wrap-with-directory"), "wrap-with-directory")
        progress = try RESTAPIServer.bool(q.get("progress"), "progress")
        noPin = try RESTAPIServer.bool(q.get("no-pin"), "no-pin")
        // The client walks directories and skips hidden files; accepted for compatibility.
        for name in ["recursive", "hidden"] { _ = try RESTAPIServer.bool(q.get(name), name) }
        if let v = q.get("stream-channels"), !v.isEmpty { streamChannels = try RESTAPIServer.bool(v, "stream-channels") }
        shard = try RESTAPIServer.bool(q.get("shard"), "shard")
        if let size = q.get("shard-size"), !size.isEmpty {
            guard let n = UInt64(size), n == 0 || (ShardPlanner.minShardSize...ShardPlanner.maxShardSize).contains(n) else {
                throw RESTAPIServer.APIError(
                    .badRequest, "shard-size \(size.debugDescription) is invalid: give bytes from \(ShardPlanner.minShardSize) to \(ShardPlanner.maxShardSize) (0: the default, 100 MiB)")
            }
            shardSize = n
        }
        if try RESTAPIServer.bool(q.get("nocopy"), "nocopy") {
            throw RESTAPIServer.APIError(.badRequest, "nocopy=true (the filestore) is not supported by PinMesh; add without it")
        }
        switch q.get("format") ?? "" {
        case "", "unixfs": car = false
        case "car": car = true
        case let f: throw RESTAPIServer.APIError(.badRequest, "format \(f.debugDescription) is invalid: use unixfs or car")
        }
        var layout = Layout.balanced
        switch q.get("layout") ?? "" {
        case "", "balanced": layout = .balanced
        case "trickle": layout = .trickle
        case let l: throw RESTAPIServer.APIError(.badRequest, "layout \(l.debugDescription) is invalid: use balanced or trickle")
        }
        var chunker = ChunkerSpec.default
        if let c = q.get("chunker"), !c.isEmpty {
            do throws(UnixFSError) { chunker = try ChunkerSpec(parsing: c) } catch {
                throw RESTAPIServer.APIError(.badRequest, "chunker \(c.debugDescription): \(error.message)")
            }
        }
        var version = CID.Version.v0
        if let v = q.get("cid-version"), !v.isEmpty {
            switch v {
            case "0": version = .v0
            case "1": version = .v1
            default: throw RESTAPIServer.APIError(.badRequest, "cid-version \(v.debugDescription) is invalid: use 0 or 1")
            }
        }
        var hash = Multicodec.sha2_256
        if let h = q.get("hash"), !h.isEmpty {
            guard let code = Multicodec(name: h), Multihash.Hasher(code: code) != nil else {
                throw RESTAPIServer.APIError(.badRequest, "hash \(h.debugDescription) is not a supported hash function: use one of \(Multihash.Hasher.supportedNames.joined(separator: ", "))")
            }
            hash = code
        }
        // cid-version 1 brings raw leaves unless raw-leaves says otherwise (kubo's rule).
        let raw: Bool? = (q.get("raw-leaves") ?? "").isEmpty ? nil : try RESTAPIServer.bool(q.get("raw-leaves"), "raw-leaves")
        settings = ImportSettings(cidVersion: version, rawLeaves: raw, chunker: chunker, layout: layout, hashFunction: hash)
        do throws(UnixFSError) { try settings.validate() } catch {
            throw RESTAPIServer.APIError(.badRequest, error.message)
        }
        if shard {
            let conflict = car ? "format=car" : local ? "local=true" : noPin ? "no-pin=true" : nil
            if let conflict {
                throw RESTAPIServer.APIError(.badRequest, "shard=true cannot go with \(conflict): a sharded add imports UnixFS and pins its shards across the cluster")
            }
        }
    }
}

extension RESTAPIServer {
    /// `POST /add`: imports the multipart body as it streams in (UnixFS, or CAR with
    /// `format=car`), sends each block to the allocated peers' IPFS while it does, then pins
    /// the roots with those allocations. Streams `AddedOutput` lines; the roots' lines come
    /// last, with their allocations.
    static func add(_ peer: ClusterPeer, _ request: Request) async -> Response {
        await handle {
            let p = try AddParameters(request.uri.queryParameters)
            let buffer = BlockBuffer()
            let unixfs: AddSink? = p.car ? nil : AddSink(settings: p.settings, store: { buffer.append($0) }, progress: p.progress, quieter: false)
            let car: CARPartsSink? = p.car ? CARPartsSink(store: { buffer.append($0) }) : nil
            let reader: MultipartReader
            do {
                reader = try MultipartReader(contentType: request.headers[.contentType], sink: unixfs ?? car!)
            } catch let e as KuboError {
                throw APIError(.badRequest, e.message)
            }
            let add: Sender
            do {
                add = p.shard
                    ? .sharded(try await peer.beginShardedAdd(options: p.options, mode: p.mode, shardSize: p.shardSize))
                    : .whole(try await peer.beginAdd(options: p.options, mode: p.mode, local: p.local))
            } catch let e as ClusterError {
                throw APIError(e)
            }
            let body = request.body
            return await (p.streamChannels ? stream : collect) { emit in
                // Lines of top-level entries wait for the pin: they carry its allocations.
                var held: [(String, ImportedNode)] = []
                func report() async throws {
                    guard let unixfs else { return }
                    for e in unixfs.events {
                        switch e {
                        case .progress(let name, let bytes): try await emit(AddedOutput(name: name, bytes: bytes))
                        case .added(let name, let node):
                            if !p.wrap && !name.contains("/") {
                                held.append((name, node))
                            } else {
                                try await emit(AddedOutput(name: name, cid: node.cid.description, size: node.cumulativeSize))
                            }
                        }
                    }
                    unixfs.events.removeAll(keepingCapacity: true)
                }
                do {
                    try await reader.consume(body) {
                        try await add.put(buffer.take())
                        try await report()
                    }
                } catch let e as UnixFSError {
                    throw APIError(.badRequest, p.car ? "malformed CAR: \(e.message)" : e.message)
                } catch let e as KuboError {
                    throw APIError(.badRequest, e.message)
                }
                guard reader.parts > 0 else { throw APIError(.badRequest, "no files in the request: send them as multipart/form-data parts") }
                var roots: [(String, ImportedNode?, CID)] = []
                if let unixfs {
                    let tops = try unixfs.finishDirectories()
                    if p.wrap {
                        let w = try unixfs.wrapper(tops)
                        held = [("", w)]
                    }
                    try await add.put(buffer.take())
                    try await report()
                    roots = held.map { ($0.0, $0.1, $0.1.cid) }
                } else if let car {
                    try await add.put(buffer.take())
                    guard !car.roots.isEmpty else { throw APIError(.badRequest, "the CAR names no root: nothing to pin") }
                    roots = car.roots.map { ($0.description, nil, $0) }
                }
                var allocations: [String]?
                switch add {
                case .sharded(let sharded):
                    guard roots.count == 1 else {
                        throw APIError(.badRequest, "a sharded add needs one root, not \(roots.count): add one file or directory, or wrap them (wrap-with-directory)")
                    }
                    do {
                        _ = try await sharded.finish(root: roots[0].2)
                    } catch let e as ClusterError {
                        throw APIError(e.kind == .badRequest ? .badRequest : .internalServerError, e.message)
                    }
                case .whole(let add) where p.noPin:
                    _ = try await add.finish()
                case .whole(let add):
                    let pins = try await peer.commitAdd(add, roots: roots.map(\.2))
                    allocations = pins.first.map { $0.allocations.map(\.description) }
                    if allocations?.isEmpty == true { allocations = nil }  // everywhere (omitempty)
                }
                for (name, node, cid) in roots {
                    try await emit(AddedOutput(name: name, cid: cid.description, size: node?.cumulativeSize, allocations: allocations))
                }
            }
        }
    }
}

extension RESTAPIServer {
    /// What `stream` sends as lines, collected and answered at the end as one JSON array (Go's
    /// `null` when nothing was produced), as ipfs-cluster does for `stream-channels=false`; an
    /// error is answered as an error, before any output.
    static func collect(_ produce: @escaping @Sendable (_ emit: @Sendable (any Encodable & Sendable) async throws -> Void) async throws -> Void) async -> Response {
        let items = NIOLockedValueBox<[Data]>([])
        do {
            try await produce { item in
                let encoded = try encoder.encode(item)
                items.withLockedValue { $0.append(encoded) }
            }
        } catch {
            return failure(error)
        }
        let all = items.withLockedValue { $0 }
        var body = Data((all.isEmpty ? "null" : "[").utf8)
        for (i, item) in all.enumerated() {
            if i > 0 { body.append(0x2C) }
            body.append(item)
        }
        if !all.isEmpty { body.append(0x5D) }
        body.append(0x0A)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
