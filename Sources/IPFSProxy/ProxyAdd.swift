import ClusterModel
import EmbeddedIPFS
import Hummingbird
import Multiformats
import Node
import UnixFS

/// Blocks made while one body chunk was parsed, waiting to go to the add's peers.
final class PendingBlocks: @unchecked Sendable {
    private var blocks: [Block] = []
    func append(_ b: [Block]) { blocks += b }
    func take() -> [Block] {
        defer { blocks = [] }
        return blocks
    }
}

/// `add` through the cluster: the multipart body is imported as it streams in (kubo's import
/// options, read by ``ImportSettings/init(call:)``), each block goes to the allocated peers
/// while it does (``ClusterPeer/beginAdd(options:mode:local:)``), and the roots are pinned with
/// those allocations (``ClusterPeer/commitAdd(_:roots:)``), as `POST /add` of the REST API does.
/// The answer is kubo's NDJSON (`{"Name","Hash","Size"}`, `{"Name","Bytes"}` with `progress`);
/// the lines of top-level entries come once the pin is committed, so a client that read the
/// root's line finds it pinned. `only-hash` is forwarded to the daemon (nothing is stored).
extension IPFSProxyServer {
    func add(_ c: RPCCall, _ request: Request, _ headers: HTTPFields) async throws -> Response {
        if try c.bool("only-hash", "n", default: false) { return await forwarder.forward(request) }
        let settings = try ImportSettings(call: c)
        for unsupported in ["nocopy", "fscache", "preserve-mode", "preserve-mtime"] where try c.bool(unsupported, default: false) {
            throw KuboError.client("option \(unsupported) is not supported when adding to the cluster; add without it")
        }
        if try c.string("to-files") != nil { throw KuboError.client("option to-files is not supported when adding to the cluster (no MFS)") }
        let pin = try c.bool("pin", default: true)
        let wrap = try c.bool("wrap-with-directory", "w", default: false)
        let silent = try c.bool("silent", default: false)
        let quieter = try c.bool("quieter", "Q", default: false) || silent
        let progress = try c.bool("progress", "p", default: false) && !silent
        _ = try c.bool("quiet", "q", default: false)
        var options = PinOptions()
        options.name = try c.string("pin-name") ?? c.string("name") ?? ""
        options.replicationFactorMin = try c.int("replication-min", default: 0)!
        options.replicationFactorMax = try c.int("replication-max", default: 0)!
        let local = try c.bool("local", default: false)
        let blocks = PendingBlocks()
        let sink = AddSink(settings: settings, store: { blocks.append($0) }, progress: progress, quieter: quieter)
        let reader = try MultipartReader(contentType: request.headers[.contentType], sink: sink)
        let add = try await peer.beginAdd(options: options, local: local)
        let peer = self.peer
        let body = request.body
        return await ProxyAnswer.stream(headers: headers) { out in
            // From the first top-level entry on, lines wait for the pin (kept in kubo's order).
            var held: [String] = []
            func report() async throws {
                for e in sink.events {
                    if case .added(let name, _) = e, !wrap && !name.contains("/") { held.append(AddSink.line(e)) } else if !held.isEmpty {
                        held.append(AddSink.line(e))
                    } else if !silent {
                        try await out.line(AddSink.line(e))
                    }
                }
                sink.events.removeAll(keepingCapacity: true)
                try await out.flush()
            }
            do {
                try await reader.consume(body) {
                    try await add.put(blocks.take())
                    try await report()
                }
            } catch let e as UnixFSError {
                throw KuboError.client(e.message)
            }
            guard reader.parts > 0 else { throw KuboError.client("no files in the request: send them as multipart/form-data parts") }
            let tops = try sink.finishDirectories()
            var roots = tops.map { ($0.name, $0.node) }
            if wrap { roots = [("", try sink.wrapper(tops))] }
            try await add.put(blocks.take())
            try await report()
            if pin { _ = try await peer.commitAdd(add, roots: roots.map(\.1.cid)) } else { _ = try await add.finish() }
            if silent { return }
            if quieter {
                if let last = roots.last { try await out.line(AddSink.line(.added(name: last.0, node: last.1))) }
                return
            }
            for line in held { try await out.line(line) }
            if wrap, let w = roots.first { try await out.line(AddSink.line(.added(name: w.0, node: w.1))) }
        }
    }
}
