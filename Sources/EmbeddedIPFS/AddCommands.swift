import Datastore
import Foundation
import Hummingbird
import Ingest
public import Multiformats
import NIOCore
public import UnixFS

extension ImportSettings {
    /// The import settings kubo's `add` options ask for, with kubo 0.40's defaults, rules and
    /// errors (``KuboAddOptions``).
    public init(call c: RPCCall) throws {
        let options = KuboAddOptions(
            profile: try c.string("profile"),
            cidVersion: try c.int("cid-version", default: nil),
            rawLeaves: try c.string("raw-leaves").map { _ in try c.bool("raw-leaves", default: false) },
            hash: try c.string("hash"),
            chunker: try c.string("chunker", "s"),
            trickle: try c.bool("trickle", "t", default: false),
            maxFileLinks: try c.int("max-file-links", default: nil),
            maxHAMTFanout: try c.int("max-hamt-fanout", default: nil),
            inline: try c.bool("inline", default: false),
            inlineLimit: try c.int("inline-limit", default: nil))
        do throws(UnixFSError) {
            self = try options.resolve()
        } catch {
            throw KuboError.client(error.message)
        }
    }
}

/// What an import reports, in order: progress of a file being read, and every node added.
public enum AddEvent: Sendable, Equatable {
    /// `bytes` of the file `name` read so far (every MiB and at its end, with `progress`).
    case progress(name: String, bytes: UInt64)
    /// A file, directory or symlink imported; `name` is its path in the upload ("" for a
    /// wrapping directory; a nameless file is named by its CID).
    case added(name: String, node: ImportedNode)
}

/// Imports the parts of an `add` body as they stream in: files through the UnixFS importer,
/// directories and symlinks as kubo's multipart encoding names them. Blocks go to `store`
/// as they are made (nil: CIDs only); what happened is collected in `events` for the caller
/// to report and clear.
public final class AddSink: PartSink, @unchecked Sendable {
    public typealias Store = ([Block]) throws -> Void
    let settings: ImportSettings
    let storeBlocks: Store?
    let progress: Bool
    let quieter: Bool
    public var events: [AddEvent] = []
    private var importer: FileImporter?
    private var symlinkTarget: [UInt8]?
    private var current = ""
    private var reported: UInt64 = 0
    private let encoder: NodeEncoder
    /// Bytes of file content read so far, over every part.
    public private(set) var bytesRead: UInt64 = 0

    /// Every node added, by path ("" holds the top-level entries).
    private var directories: [String: [DirectoryEntry]] = ["": []]
    private var directoryOrder: [String] = []

    public init(settings: ImportSettings, store: Store?, progress: Bool, quieter: Bool) {
        self.settings = settings
        self.storeBlocks = store
        self.progress = progress
        self.quieter = quieter
        encoder = NodeEncoder(settings: settings, keepBlocks: store != nil)
    }

    /// A sink that puts blocks into the embedded repository within `op`.
    convenience init(settings: ImportSettings, op: IPFSRepo.Operation?, progress: Bool, quieter: Bool) {
        // The importer computed every CID from these bytes just now.
        self.init(settings: settings, store: op.map { op in { blocks in for b in blocks { try op.put(b, hashed: true) } } }, progress: progress, quieter: quieter)
    }

    private func store(_ blocks: [Block]) throws {
        guard let storeBlocks, !blocks.isEmpty else { return }
        try storeBlocks(blocks)
    }

    public func begin(_ headers: PartHeaders) throws {
        var name = headers.fileName
        while name.hasSuffix("/") { name.removeLast() }
        current = name
        let parts = name.split(separator: "/")
        if parts.contains("..") || parts.contains(".") {
            throw KuboError.client("path \(name.debugDescription) in the upload has '.' or '..' components")
        }
        guard directories[parent(name)] != nil else {
            throw KuboError.client("\(name.debugDescription) comes before its directory \(parent(name).debugDescription) in the upload")
        }
        switch headers.contentType {
        case let t where t.hasPrefix("application/x-directory"):
            guard directories[name] == nil else { throw KuboError.client("directory \(name.debugDescription) appears twice") }
            directories[name] = []
            directoryOrder.append(name)
        case let t where t.hasPrefix("application/symlink"):
            symlinkTarget = []
        default:
            importer = try FileImporter(settings: settings, keepBlocks: storeBlocks != nil, parallelFor: DispatchParallel.allCores)
            reported = 0
        }
    }

    private func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    private func base(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    public func data(_ bytes: UnsafeRawBufferPointer) throws {
        if importer != nil {
            importer!.write(bytes)
            bytesRead += UInt64(bytes.count)
            try store(importer!.takeBlocks())
            if progress, importer!.bytesWritten - reported >= 1 << 20 {
                reported = importer!.bytesWritten
                events.append(.progress(name: current, bytes: reported))
            }
        } else if symlinkTarget != nil {
            symlinkTarget! += bytes
            if symlinkTarget!.count > 4096 { throw KuboError.client("symlink target of \(current) is over 4096 bytes") }
        } else if bytes.count > 0 {
            throw KuboError.client("directory part \(current.debugDescription) has a body")
        }
    }

    public func end() throws {
        var node: ImportedNode?
        if var imp = importer {
            let root = imp.finish()
            try store(imp.takeBlocks())
            if progress { events.append(.progress(name: current, bytes: imp.bytesWritten)) }
            importer = nil
            node = root
        } else if let target = symlinkTarget {
            let encoded = DirectoryEncoder(encoder: encoder).symlink(target: String(decoding: target, as: UTF8.self))
            if let b = encoded.block { try store([b]) }
            symlinkTarget = nil
            node = encoded.node
        }
        if let node {
            // A file sent without a name (standard input) is reported by its CID, as kubo does.
            if !quieter { events.append(.added(name: current.isEmpty ? node.cid.description : current, node: node)) }
            directories[parent(current), default: []].append(DirectoryEntry(name: base(current).isEmpty ? node.cid.description : base(current), node: node))
        }
    }

    /// kubo's line for an event.
    public static func line(_ event: AddEvent) -> String {
        switch event {
        case .progress(let name, let bytes): "{\"Name\":\(JSONText.string(name)),\"Bytes\":\(bytes)}"
        case .added(let name, let node): "{\"Name\":\(JSONText.string(name)),\"Hash\":\"\(node.cid)\",\"Size\":\"\(node.cumulativeSize)\"}"
        }
    }

    /// Builds the directories and returns the top-level entries. Directories are reported as
    /// kubo reports them: after every file, each directory after its subdirectories, siblings by
    /// name (a post-order walk of each top-level directory).
    public func finishDirectories() throws -> [DirectoryEntry] {
        var subdirectories: [String: [String]] = [:]
        for path in directoryOrder { subdirectories[parent(path), default: []].append(path) }
        func build(_ path: String) throws {
            for child in (subdirectories[path] ?? []).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { try build(child) }
            guard !path.isEmpty else { return }
            var out: [Block] = []
            let node = try DirectoryEncoder(encoder: encoder).directory(directories[path] ?? [], blocks: &out)
            try store(out)
            if !quieter { events.append(.added(name: path, node: node)) }
            directories[parent(path), default: []].append(DirectoryEntry(name: base(path), node: node))
        }
        try build("")
        return directories[""] ?? []
    }

    public func wrapper(_ tops: [DirectoryEntry]) throws -> ImportedNode {
        var out: [Block] = []
        let node = try DirectoryEncoder(encoder: encoder).directory(tops, blocks: &out)
        try store(out)
        return node
    }
}

/// Collects whole blocks of a `block/put` body, one per part, bounded by the block limit.
final class BlockPartsSink: PartSink, @unchecked Sendable {
    var parts: [[UInt8]] = []
    private var current: [UInt8] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func begin(_ headers: PartHeaders) throws { current = [] }

    func data(_ bytes: UnsafeRawBufferPointer) throws {
        if current.count + bytes.count > limit {
            throw KuboError.client(
                limit < FlatfsBlockstore.hardBlockLimit
                    ? "produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override"
                    : "block is over the hard limit of \(FlatfsBlockstore.hardBlockLimit) bytes")
        }
        current += bytes
    }

    func end() throws { parts.append(current) }
}

/// Feeds every part of a `dag/import` body through a verifying CAR reader; blocks go to
/// `store` as they are read.
public final class CARPartsSink: PartSink, @unchecked Sendable {
    var reader = CARReader.verifying()
    public private(set) var roots: [CID] = []
    public private(set) var blocks = 0
    public private(set) var bytes = 0
    let store: AddSink.Store

    public init(store: @escaping AddSink.Store) { self.store = store }

    convenience init(op: IPFSRepo.Operation) {
        self.init(store: { blocks in for b in blocks { try op.put(b, allowBig: true) } })
    }

    public func begin(_ headers: PartHeaders) throws { reader = CARReader.verifying() }

    public func data(_ raw: UnsafeRawBufferPointer) throws {
        reader.feed(Array(raw))
        var out: [Block] = []
        while let b = try reader.next() {
            out.append(b)
            blocks += 1
            bytes += b.bytes.count
        }
        try store(out)
    }

    public func end() throws {
        try reader.finish()
        roots += reader.roots ?? []
    }
}

extension KuboRPCServer {
    func add(_ c: RPCCall, _ request: Request) async throws -> Response {
        let settings = try ImportSettings(call: c)
        for unsupported in ["nocopy", "fscache", "preserve-mode", "preserve-mtime"] where try c.bool(unsupported, default: false) {
            throw KuboError.client("option \(unsupported) is not supported by the PinMesh embedded node")
        }
        if try c.string("to-files") != nil { throw KuboError.client("option to-files is not supported by the PinMesh embedded node (no MFS)") }
        let onlyHash = try c.bool("only-hash", "n", default: false)
        let pin = try c.bool("pin", default: true) && !onlyHash
        let pinName = try c.string("pin-name") ?? ""
        let wrap = try c.bool("wrap-with-directory", "w", default: false)
        let quieter = try c.bool("quieter", "Q", default: false)
        let silent = try c.bool("silent", default: false)
        let progress = try c.bool("progress", "p", default: false)
        let repo = self.repo
        let op = onlyHash ? nil : repo.beginOperation()
        let sink = AddSink(settings: settings, op: op, progress: progress && !silent, quieter: quieter || silent)
        let reader = try MultipartReader(contentType: request.headers[.contentType], sink: sink)
        return Self.stream { out in
            defer { op?.end() }
            try await reader.consume(request.body) {
                if !silent { for e in sink.events { try await out.line(AddSink.line(e)) } }
                sink.events.removeAll(keepingCapacity: true)
            }
            guard reader.parts > 0 else { throw KuboError.client("no files in the request: send them as multipart parts") }
            let tops = try sink.finishDirectories()
            var roots: [ImportedNode] = []
            if wrap {
                let w = try sink.wrapper(tops)
                roots = [w]
                if !silent { sink.events.append(.added(name: "", node: w)) }
            } else {
                roots = tops.map(\.node)
                if quieter && !silent, let last = tops.last { sink.events.append(.added(name: last.name, node: last.node)) }
            }
            if op != nil {
                try repo.blocks.sync()
                if pin { try repo.recordPins(roots.map { IPFSPin(cid: $0.cid, mode: .recursive(maxDepth: nil), name: pinName) }) }
            }
            if !silent { for e in sink.events { try await out.line(AddSink.line(e)) } }
        }
    }

    func blockPut(_ c: RPCCall, _ request: Request) async throws -> Response {
        var codec = Multicodec.raw
        var version = CID.Version.v1
        if let format = try c.string("format", "f") {
            switch format {
            case "v0", "protobuf", "dag-pb":
                codec = .dagPB
                version = format == "dag-pb" ? .v1 : .v0
            case "cbor", "dag-cbor": codec = .dagCBOR
            case "raw": codec = .raw
            default: throw KuboError.client("unknown block format \(format.debugDescription)")
            }
        }
        if let name = try c.string("cid-codec") {
            guard let cc = Multicodec(name: name) else { throw KuboError.client("unknown multicodec \(name.debugDescription)") }
            codec = cc
            version = .v1
        }
        let mhName = try c.string("mhtype") ?? "sha2-256"
        guard let mh = Multicodec(name: mhName), Multihash.Hasher(code: mh) != nil else {
            throw KuboError.client("unrecognized multihash function: \(mhName)")
        }
        if let len = try c.int("mhlen", default: -1), len != -1 && len != Multihash.requiredDigestLength(for: mh) {
            throw KuboError.client("mhlen \(len) is not supported for \(mhName): only its full length")
        }
        if version == .v0 && mh != .sha2_256 { version = .v1 }
        let pin = try c.bool("pin", default: false)
        let allowBig = try c.bool("allow-big-block", default: false)
        let sink = BlockPartsSink(limit: allowBig ? FlatfsBlockstore.hardBlockLimit : FlatfsBlockstore.softBlockLimit)
        let reader = try MultipartReader(contentType: request.headers[.contentType], sink: sink)
        let repo = self.repo
        let (v, cc) = (version, codec)
        return Self.stream { out in
            let op = repo.beginOperation()
            defer { op.end() }
            var cids: [CID] = []
            try await reader.consume(request.body) {
                for bytes in sink.parts {
                    guard let digest = Multihash.digest(bytes, code: mh) else { throw KuboError.client("cannot hash with \(mhName)") }
                    let cid = v == .v0 ? try CID.v0(digest) : CID.v1(codec: cc, digest)
                    try op.put(Block(cid: cid, bytes: bytes), allowBig: allowBig)
                    cids.append(cid)
                    try await out.line("{\"Key\":\"\(cid)\",\"Size\":\(bytes.count)}")
                }
                sink.parts.removeAll()
            }
            guard reader.parts > 0 else { throw KuboError.client("argument \"data\" is required") }
            try repo.blocks.sync()
            if pin { try repo.recordPins(cids.map { IPFSPin(cid: $0, mode: .recursive(maxDepth: nil)) }) }
        }
    }

    func dagImport(_ c: RPCCall, _ request: Request) async throws -> Response {
        let pinRoots = try c.bool("pin-roots", default: true)
        let stats = try c.bool("stats", default: false)
        let silent = try c.bool("silent", default: false)
        let repo = self.repo
        let op = repo.beginOperation()
        let sink = CARPartsSink(op: op)
        let reader: MultipartReader
        do {
            reader = try MultipartReader(contentType: request.headers[.contentType], sink: sink)
        } catch {
            op.end()
            throw error
        }
        return Self.stream { out in
            defer { op.end() }
            do {
                try await reader.consume(request.body)
            } catch let e as UnixFSError {
                throw KuboError.client("malformed CAR: \(e.message)")
            }
            try repo.blocks.sync()
            if pinRoots {
                var seen = Set<CID>()
                for root in sink.roots where seen.insert(root).inserted {
                    var message = ""
                    do {
                        try await repo.pin([root], mode: .recursive(maxDepth: nil), offline: true)
                    } catch let e as RepoError {
                        message = e.message
                    }
                    if !silent { try await out.line("{\"Root\":{\"Cid\":{\"/\":\"\(root)\"},\"PinErrorMsg\":\(JSONText.string(message))}}") }
                }
            }
            if stats { try await out.line("{\"Stats\":{\"BlockCount\":\(sink.blocks),\"BlockBytesCount\":\(sink.bytes)}}") }
        }
    }
}
