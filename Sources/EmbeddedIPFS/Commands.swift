import Datastore
import Foundation
import ServiceLifecycle
import Hummingbird
import Multiformats
import NIOCore
import UnixFS

extension KuboRPCServer {
    // MARK: paths

    /// The CID a path names: `<cid>`, `/ipfs/<cid>`, or either followed by UnixFS names.
    func resolvePath(_ text: String) throws -> CID { try resolvePath(text, blocks: repo) }

    /// ``resolvePath(_:)`` over `blocks` (a ``ReadBlocks`` stops on a block to fetch).
    func resolvePath(_ text: String, blocks: some BlockGetter) throws -> CID {
        var t = Substring(text)
        if t.hasPrefix("/ipfs/") { t = t.dropFirst(6) } else if t.hasPrefix("/") {
            throw KuboError.client("unsupported path namespace: \(text) (only /ipfs/ paths)")
        }
        let parts = t.split(separator: "/", omittingEmptySubsequences: true)
        guard let first = parts.first else { throw KuboError.client("invalid path \(text.debugDescription)") }
        var cid = try RPCCall.parseCID(String(first))
        let exporter = Exporter(blocks: blocks)
        for name in parts.dropFirst() {
            let entries: [(name: String, cid: CID)]
            do {
                entries = try exporter.list(cid).map { ($0.name, $0.cid) }
            } catch let e as RepoError {
                throw e
            } catch let e as ReadBlocks.Missing {
                throw e
            } catch {
                throw KuboError.normal("no link named \"\(name)\" under \(cid)")
            }
            guard let e = entries.first(where: { $0.name == name }) else {
                throw KuboError.normal("no link named \"\(name)\" under \(cid)")
            }
            cid = e.cid
        }
        return cid
    }

    // MARK: cat, resolve

    /// Blocks for a read: stored ones, else fetched from peers into a small cache (not stored:
    /// a node may read more than it may keep). A missing block stops the sync exporter with
    /// ``Missing``; the caller fetches it and reads again.
    final class ReadBlocks: BlockGetter, @unchecked Sendable {
        struct Missing: Error { let cid: CID }
        let repo: IPFSRepo
        private var cache: [CID: [UInt8]] = [:]
        private var cacheBytes = 0
        static let cacheLimit = 16 << 20

        init(repo: IPFSRepo) { self.repo = repo }

        func block(_ cid: CID) throws -> [UInt8] {
            if let b = try repo.stored(cid) { return b }
            if let b = cache[cid] { return b }
            throw Missing(cid: cid)
        }

        /// Runs `body` until it no longer stops on a missing block, fetching each one.
        func withFetching<T>(_ body: () throws -> T) async throws -> T {
            while true {
                do {
                    return try body()
                } catch let m as Missing {
                    guard let bytes = try await repo.fetchForRead(m.cid) else { throw RepoError.blockNotFound(m.cid) }
                    if cacheBytes + bytes.count > Self.cacheLimit {
                        cache.removeAll(keepingCapacity: true)
                        cacheBytes = 0
                    }
                    cache[m.cid] = bytes
                    cacheBytes += bytes.count
                }
            }
        }
    }

    func cat(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("ipfs-path")
        let offset = try c.int("offset", "o", default: 0)!
        let length = try c.int("length", "l", default: nil)
        guard offset >= 0 else { throw KuboError.client("cannot specify negative offset") }
        if let length, length < 0 { throw KuboError.client("cannot specify negative length") }
        var found: [(CID, UInt64)] = []
        let reads = ReadBlocks(repo: repo)
        let exporter = Exporter(blocks: reads)
        for a in c.args {
            let cid = try resolvePath(a)
            let size: UInt64
            do {
                switch try await reads.withFetching({ try exporter.kind(cid) }) {
                case .file(let s), .raw(let s): size = s
                case .directory, .hamtDirectory: throw KuboError.normal("this dag node is a directory")
                case .symlink: throw KuboError.normal("this dag node is a symlink; cat its target instead")
                }
            } catch let e as KuboError {
                throw e
            } catch let e as RepoError {
                throw e
            } catch let e as UnixFSError {
                throw KuboError.normal("\(cid) is not a UnixFS file: \(e.message)")
            }
            found.append((cid, size))
        }
        let files = found
        return Self.stream(contentType: "text/plain", output: true) { out in
            var skip = UInt64(offset)
            var remaining = length.map(UInt64.init) ?? UInt64.max
            let ex = Exporter(blocks: reads)
            for (cid, size) in files where remaining > 0 {
                if skip >= size {
                    skip -= size
                    continue
                }
                var pos = skip
                skip = 0
                // A megabyte at a time: memory stays bounded for any file size.
                while pos < size && remaining > 0 {
                    let n = min(UInt64(1 << 20), size - pos, remaining)
                    var chunk: [UInt8] = []
                    chunk.reserveCapacity(Int(n))
                    try await reads.withFetching {
                        chunk.removeAll(keepingCapacity: true)
                        try ex.read(cid, offset: pos, length: n) { chunk += $0 }
                    }
                    try await out.bytes(chunk)
                    pos += n
                    remaining -= n
                }
            }
        }
    }

    func resolve(_ c: RPCCall) throws -> Response {
        try c.requireArgs("name")
        let cid = try resolvePath(c.args[0])
        return Self.json("{\"Path\":\"/ipfs/\(cid)\"}")
    }

    // MARK: blocks

    func blockGet(_ c: RPCCall) throws -> Response {
        let cid = try resolvePath(c.args.first ?? "")
        let bytes = try repo.block(cid)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        headers[Self.streamOutputName] = "1"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func blockStat(_ c: RPCCall) throws -> Response {
        let cid = try resolvePath(c.args.first ?? "")
        guard let size = repo.blocks.size(cid) else { throw RepoError.blockNotFound(cid) }
        return Self.json("{\"Key\":\"\(cid)\",\"Size\":\(size)}")
    }

    func blockRm(_ c: RPCCall) throws -> Response {
        try c.requireArgs("cid")
        let force = try c.bool("force", "f", default: false)
        let quiet = try c.bool("quiet", "q", default: false)
        let cids = try c.args.map { a throws(KuboError) in try RPCCall.parseCID(a) }
        let repo = self.repo
        return Self.stream { out in
            for cid in cids {
                var err = ""
                switch try repo.pinState(cid) {
                case .pinned(let p): err = "pinned: \(p.mode.typeName)"
                case .indirect(let root): err = "pinned via \(root)"
                case .notPinned:
                    if !(try repo.blocks.delete(cid.multihash)) && !force { err = "ipld: could not find \(cid)" }
                }
                if err.isEmpty && quiet { continue }
                try await out.line("{\"Hash\":\"\(cid)\"" + (err.isEmpty ? "}" : ",\"Error\":\(JSONText.string(err))}"))
            }
        }
    }

    // MARK: pins

    func pinAdd(_ c: RPCCall, _ request: Request) async throws -> Response {
        try c.requireArgs("ipfs-path")
        let recursive = try c.bool("recursive", "r", default: true)
        let maxDepth = try c.int("max-depth", default: -1)!
        let name = try c.string("name") ?? ""
        let progress = try c.bool("progress", default: false)
        let cids = try c.args.map(resolvePath)
        let mode: IPFSPinMode = recursive ? .recursive(maxDepth: maxDepth < 0 ? nil : maxDepth) : .direct
        if !recursive && maxDepth >= 0 { throw KuboError.client("max-depth needs a recursive pin") }
        let done = "\"Pins\":\(JSONText.strings(cids.map(\.description)))"
        let repo = self.repo
        // A pin waiting for blocks ends when its client goes away or the node shuts down (a
        // SIGTERM must not wait for blocks nobody may ever send).
        guard progress else {
            try await request.body.consumeWithCancellationOnInboundClose { _ in
                try await cancelWhenGracefulShutdown { try await repo.pin(cids, mode: mode, name: name) }
            }
            return Self.closing(Self.json("{\(done)}"))
        }
        return Self.stream { out in
            try await Self.withProgress(out, done: done) { p in
                try await cancelWhenGracefulShutdown { try await repo.pin(cids, mode: mode, name: name, progress: p) }
            }
        }
    }

    /// Watching for the client to go away (so a waiting pin is cancelled) ends the connection
    /// after the response; saying so keeps clients from reusing it.
    static func closing(_ r: Response) -> Response {
        var r = r
        r.headers[.connection] = "close"
        return r
    }

    /// Runs `work`, writing `{"Progress":N}` every 200 ms while N grows (and every 5 s while it
    /// does not, so a client that went away is noticed by the failed write), and the `done`
    /// object with the final count at the end; a client that goes away cancels the work.
    static func withProgress(
        _ out: Emitter, done: String, _ work: @escaping @Sendable (@escaping @Sendable (Int) -> Void) async throws -> Void
    ) async throws {
        let counter = Counter()
        try await withThrowingTaskGroup(of: Bool.self) { g in
            g.addTask {
                try await work { counter.set($0) }
                return true
            }
            g.addTask {
                try await Task.sleep(for: .milliseconds(200))
                return false
            }
            var last = -1
            var quiet = 0
            while let finished = try await g.next() {
                if finished {
                    g.cancelAll()
                    break
                }
                let n = counter.value
                quiet += 1
                if n != last || quiet >= 25 {
                    last = n
                    quiet = 0
                    try await out.line("{\"Progress\":\(n)}")
                    try await out.flush()
                }
                g.addTask {
                    try await Task.sleep(for: .milliseconds(200))
                    return false
                }
            }
        }
        try await out.line("{\(done),\"Progress\":\(counter.value)}")
    }

    func pinRm(_ c: RPCCall) throws -> Response {
        try c.requireArgs("ipfs-path")
        let recursive = try c.bool("recursive", "r", default: true)
        let cids = try c.args.map(resolvePath)
        try repo.unpin(cids, recursive: recursive)
        return Self.json("{\"Pins\":\(JSONText.strings(cids.map(\.description)))}")
    }

    func pinUpdate(_ c: RPCCall, _ request: Request) async throws -> Response {
        guard c.args.count == 2 else { throw KuboError.client("pin/update takes two arguments: from-path and to-path") }
        let unpin = try c.bool("unpin", default: true)
        let from = try resolvePath(c.args[0])
        let to = try resolvePath(c.args[1])
        let repo = self.repo
        try await request.body.consumeWithCancellationOnInboundClose { _ in
            try await repo.updatePin(from: from, to: to, unpin: unpin)
        }
        return Self.closing(Self.json("{\"Pins\":[\"\(from)\",\"\(to)\"]}"))
    }

    func pinLs(_ c: RPCCall) throws -> Response {
        let type = try c.string("type", "t") ?? "all"
        guard ["all", "direct", "recursive", "indirect"].contains(type) else {
            throw KuboError.client("invalid type '\(type)', must be one of {direct, indirect, recursive, all}")
        }
        let stream = try c.bool("stream", "s", default: false)
        let names = try c.bool("names", "n", default: false)
        let quiet = try c.bool("quiet", "q", default: false)
        @Sendable func entry(_ cid: CID, _ type: String, _ name: String, _ depth: Int?) -> String {
            var fields = quiet && !stream ? "\"Type\":\"\(type)\"" : "\"Type\":\(JSONText.string(type))"
            if let depth { fields += ",\"MaxDepth\":\(depth)" }
            if names && !name.isEmpty { fields += ",\"Name\":\(JSONText.string(name))" }
            return stream ? "{\"Cid\":\"\(cid)\",\(fields)}" : "\"\(cid)\":{\(fields)}"
        }
        @Sendable func depthOf(_ p: IPFSPin) -> Int? {
            if case .recursive(let d?) = p.mode { return d }
            return nil
        }
        let repo = self.repo
        if !c.args.isEmpty {
            // Answer for the named CIDs; a CID not pinned as asked is an error (kubo).
            var lines: [String] = []
            for a in c.args {
                let cid = try resolvePath(a)
                let state = try repo.pinState(cid)
                switch state {
                case .pinned(let p) where type == "all" || type == p.mode.typeName:
                    lines.append(entry(cid, p.mode.typeName, p.name, depthOf(p)))
                case .indirect(let root) where type == "all" || type == "indirect":
                    lines.append(entry(cid, "indirect through \(root)", "", nil))
                case .notPinned, .pinned, .indirect:
                    throw KuboError.normal("path '\(a)' is not pinned")
                }
            }
            if stream {
                let lines = lines
                return Self.stream { out in for l in lines { try await out.line(l) } }
            }
            return Self.json("{\"Keys\":{\(lines.joined(separator: ","))}}")
        }
        return Self.stream { out in
            // Streamed a page at a time from SQLite, so memory does not grow with the pins.
            var first = true
            func emit(_ text: String) async throws {
                if stream {
                    try await out.line(text)
                } else {
                    try await out.bytes(Array(((first ? "{\"Keys\":{" : ",") + text).utf8))
                    first = false
                }
            }
            if type != "indirect" {
                let filter: IPFSPinStore.PinFilter = type == "direct" ? .direct : type == "recursive" ? .recursive : .all
                var after: CID?
                while true {
                    let page = try repo.pins.page(after: after, limit: 5000, filter: filter)
                    for p in page { try await emit(entry(p.cid, p.mode.typeName, p.name, depthOf(p))) }
                    guard page.count == 5000, let last = page.last else { break }
                    after = last.cid
                }
            }
            if type == "indirect" || type == "all" {
                var batch: [CID] = []
                try repo.forEachIndirect { batch.append($0) }
                for cid in batch where (try? repo.pins.get(cid)) == nil { try await emit(entry(cid, "indirect", "", nil)) }
            }
            if !stream { try await out.bytes(Array(((first ? "{\"Keys\":{" : "") + "}}\n").utf8)) }
        }
    }

    func pinVerify(_ c: RPCCall) throws -> Response {
        let verbose = try c.bool("verbose", default: false)
        let quiet = try c.bool("quiet", "q", default: false)
        let repo = self.repo
        return Self.stream { out in
            var after: CID?
            while true {
                let page = try repo.pins.page(after: after, limit: 1000, filter: .recursive)
                for p in page {
                    guard case .recursive(let d) = p.mode else { continue }
                    var bad: [(CID, String)] = []
                    try repo.walk(p.cid, maxDepth: d) { cid, _, err, _ in
                        if let err { bad.append((cid, err.message)) }
                    }
                    if bad.isEmpty && !verbose { continue }
                    if quiet {
                        try await out.line("{\"Cid\":\"\(p.cid)\",\"Ok\":\(bad.isEmpty)}")
                        continue
                    }
                    let nodes = bad.map { "{\"Cid\":\"\($0.0)\",\"Err\":\(JSONText.string($0.1))}" }.joined(separator: ",")
                    try await out.line("{\"Cid\":\"\(p.cid)\",\"Ok\":\(bad.isEmpty)" + (bad.isEmpty ? "}" : ",\"BadNodes\":[\(nodes)]}"))
                }
                guard page.count == 1000, let last = page.last else { break }
                after = last.cid
            }
        }
    }

    // MARK: refs

    func refsLocal(_ c: RPCCall) -> Response {
        let blocks = repo.blocks
        return Self.stream { out in
            for shard in blocks.shards() {
                for (mh, _) in blocks.blocks(inShard: shard) {
                    try await out.line("{\"Ref\":\"\(CID.v1(codec: .raw, mh))\",\"Err\":\"\"}")
                }
            }
        }
    }

    // MARK: repo

    func repoStat(_ c: RPCCall) throws -> Response {
        let sizeOnly = try c.bool("size-only", default: false)
        let s = repo.stat()
        if sizeOnly { return Self.json("{\"RepoSize\":\(s.repoSize),\"StorageMax\":\(s.storageMax)}") }
        return Self.json(
            "{\"RepoSize\":\(s.repoSize),\"StorageMax\":\(s.storageMax),\"NumObjects\":\(s.numObjects),\"RepoPath\":\(JSONText.string(s.repoPath)),\"Version\":\"\(s.version)\"}"
        )
    }

    func repoGC(_ c: RPCCall) throws -> Response {
        let quiet = try c.bool("quiet", "q", default: false)
        let repo = self.repo
        let logger = self.logger
        return Self.stream { out in
            _ = try await repo.collectGarbage(
                removed: { cid in if !quiet { try await out.line("{\"Key\":{\"/\":\"\(cid)\"}}") } },
                problem: { cid, err in logger.warning("gc: a pinned block is unreadable and was kept out of the sweep", metadata: ["cid": "\(cid)", "error": "\(err.message)"]) })
        }
    }

    // MARK: dag

    func dagExport(_ c: RPCCall) throws -> Response {
        try c.requireArgs("root")
        let root = try resolvePath(c.args[0])
        let repo = self.repo
        return Self.stream(contentType: "application/vnd.ipld.car", output: true) { out in
            try await out.bytes(CAR.header(roots: [root]))
            var seen = Set<CID>()
            var stack = [root]
            while let cid = stack.popLast() {
                guard seen.insert(cid).inserted else { continue }
                let bytes = try repo.blocks.get(cid)
                try await out.bytes(CAR.section(Block(cid: cid, bytes: bytes)))
                stack.append(contentsOf: try IPFSRepo.links(cid, bytes).reversed())
            }
        }
    }
}

/// A count shared between a worker and the task reporting it.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return n
    }
    func set(_ v: Int) {
        lock.lock()
        n = v
        lock.unlock()
    }
}
