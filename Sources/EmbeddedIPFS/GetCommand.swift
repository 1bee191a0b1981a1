import Foundation
import Hummingbird
import Multiformats
import NIOCore
import UnixFS

/// kubo's `get` (core/commands/get.go, boxo's files.TarWriter, kubo 0.40): the node at a path
/// as a tar stream (`--output` is the client's: it unpacks or saves what it receives).
///
/// - default: tar in PAX form (the transport kubo's CLI unpacks), the top entry named by the
///   path's last component; directories recursively, in link order; symlinks as symlinks.
/// - `archive`/`a`: the same tar in Go's default form (USTAR unless an entry needs PAX).
/// - `compress`/`C` (with `compression-level`/`l` 1…9): gzip of the tar with `archive`, or of
///   the file's bytes without it (a directory then fails with kubo's "file is not regular").
/// - mode: the node's UnixFS mode, else 0644 (file), 0755 (directory), 0777 (symlink); mtime:
///   the node's, else the current time (boxo).
extension KuboRPCServer {
    static let contentLengthName = Field.Name("X-Content-Length")!

    struct GetNode {
        var kind: TarWriter.Kind
        var mode: UInt32
        var mtime: UnixFSData.Mtime?
        /// What kubo reports as the length: a file's size, a directory's cumulative DAG size.
        var length: UInt64
    }

    func get(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("ipfs-path")
        let archive = try c.bool("archive", "a", default: false)
        let compress = try c.bool("compress", "C", default: false)
        let level = try c.int("compression-level", "l", default: nil)
        _ = try c.string("output", "o")  // where the client writes: not the server's concern
        _ = try c.bool("progress", "p", default: true)
        if compress, let level, level < 1 || level > 9 { throw KuboError.normal("compression level must be between 1 and 9") }
        let gzipLevel: Int32? = compress ? Int32(level ?? -1) : nil
        let path = c.args[0]
        let reads = ReadBlocks(repo: repo)
        let root = try await resolveReading(path, reads: reads)
        let top = try await Self.getNode(root, reads: reads)
        let name = Self.lastComponent(path, root: root)
        if !archive && compress {
            guard case .file = top.kind else { throw KuboError.normal("file is not regular") }
        }
        // kubo 0.40: application/gzip when compressing, else application/x-tar.
        var response = Self.stream(contentType: compress ? "application/gzip" : "application/x-tar", output: true) { out in
            let gz = try gzipLevel.map { try GzipStream(level: $0) }
            let sink = TarSink(out: out, gzip: gz)
            if !archive && compress {
                try await Self.readFile(root, size: top.length, reads: reads) { try await sink.write($0) }
            } else {
                let format: TarWriter.Format = archive ? .unknown : .pax
                try await Self.writeTar(root, node: top, name: name, base: name, format: format, reads: reads, sink: sink, depth: 0)
                try await sink.write(TarWriter.footer)
            }
            try await sink.finish()
        }
        response.headers[Self.contentLengthName] = String(top.length)
        return response
    }

    /// Writes to the response, through gzip when asked.
    final class TarSink: @unchecked Sendable {
        let out: Emitter
        let gzip: GzipStream?
        init(out: Emitter, gzip: GzipStream?) {
            self.out = out
            self.gzip = gzip
        }
        func write(_ bytes: [UInt8]) async throws {
            if let gzip {
                let z = try gzip.compress(bytes)
                if !z.isEmpty { try await out.bytes(z) }
            } else {
                try await out.bytes(bytes)
            }
        }
        func finish() async throws {
            if let gzip { try await out.bytes(try gzip.finish()) }
        }
    }

    static let maxTarDepth = 256

    static func writeTar(
        _ cid: CID, node: GetNode, name: String, base: String, format: TarWriter.Format, reads: ReadBlocks, sink: TarSink, depth: Int
    ) async throws {
        guard depth < maxTarDepth else { throw KuboError.normal("directory tree deeper than \(maxTarDepth) levels at \(cid)") }
        let clean = GoPath.clean(name)
        // boxo refuses entries that leave the top directory (a link named "..").
        guard clean.hasPrefix(base) && !clean.hasPrefix("..") else {
            throw KuboError.normal("relative UnixFS paths outside the root are not allowed, use CAR instead")
        }
        let (secs, nanos) = node.mtime.map { ($0.seconds, Int($0.nanoseconds ?? 0)) } ?? now()
        let defaultMode: UInt32
        switch node.kind {
        case .file: defaultMode = 0o644
        case .directory: defaultMode = 0o755
        case .symlink: defaultMode = 0o777
        }
        let mode = node.mode & 0xFFF != 0 ? node.mode & 0xFFF : defaultMode
        let header: [UInt8]
        do {
            header = try TarWriter.header(.init(name: name, kind: node.kind, mode: mode, seconds: secs, nanoseconds: nanos), format: format)
        } catch {
            throw KuboError.normal(error.description)
        }
        try await sink.write(header)
        switch node.kind {
        case .file(let size):
            try await readFile(cid, size: size, reads: reads) { try await sink.write($0) }
            try await sink.write(TarWriter.padding(size))
        case .symlink:
            break
        case .directory:
            for (entryName, entryCID) in try await tarEntries(cid, reads: reads) {
                let child = try await getNode(entryCID, reads: reads)
                try await writeTar(
                    entryCID, node: child, name: GoPath.clean(name + "/" + entryName), base: base, format: format, reads: reads, sink: sink,
                    depth: depth + 1)
            }
        }
    }

    /// A directory's entries in boxo's order: a basic directory's links as stored; a HAMT's
    /// by name (boxo walks shards in parallel, so kubo's order there is not fixed).
    static func tarEntries(_ cid: CID, reads: ReadBlocks) async throws -> [(String, CID)] {
        let bytes = try await reads.withFetching { try reads.verifiedBlock(cid) }
        let node = try decodePB(cid, bytes)
        if try decodeUnixFS(cid, node).type == .directory { return node.links.map { ($0.name ?? "", $0.hash) } }
        let exporter = Exporter(blocks: reads)
        return try await reads.withFetching { try exporter.list(cid) }.map { ($0.name, $0.cid) }
    }

    /// The file's bytes a MiB at a time, blocks fetched when missing.
    static func readFile(_ cid: CID, size: UInt64, reads: ReadBlocks, _ body: ([UInt8]) async throws -> Void) async throws {
        let ex = Exporter(blocks: reads)
        var pos: UInt64 = 0
        while pos < size {
            let n = min(UInt64(1 << 20), size - pos)
            var chunk: [UInt8] = []
            try await reads.withFetching {
                chunk.removeAll(keepingCapacity: true)
                try ex.read(cid, offset: pos, length: n) { chunk += $0 }
            }
            guard UInt64(chunk.count) == n else {
                throw KuboError.normal("\(cid) holds fewer bytes than its UnixFS size \(size) says")
            }
            try await body(chunk)
            pos += n
        }
    }

    static func getNode(_ cid: CID, reads: ReadBlocks) async throws -> GetNode {
        let bytes = try await reads.withFetching { try reads.verifiedBlock(cid) }
        switch cid.codec {
        case .raw:
            return GetNode(kind: .file(size: UInt64(bytes.count)), mode: 0, mtime: nil, length: UInt64(bytes.count))
        case .dagPB:
            let node = try decodePB(cid, bytes)
            let d = try decodeUnixFS(cid, node)
            let mode = d.mode ?? 0
            switch d.type {
            case .file, .raw:
                let size = d.fileSize ?? UInt64(d.data?.count ?? 0)
                return GetNode(kind: .file(size: size), mode: mode, mtime: d.mtime, length: size)
            case .directory, .hamtShard:
                let cumulative = node.links.reduce(UInt64(bytes.count)) { $0 + ($1.tsize ?? 0) }
                return GetNode(kind: .directory, mode: mode, mtime: d.mtime, length: cumulative)
            case .symlink:
                return GetNode(kind: .symlink(target: String(decoding: d.data ?? [], as: UTF8.self)), mode: mode, mtime: d.mtime, length: 0)
            case .metadata:
                throw KuboError.normal("\(cid) is a UnixFS metadata node, which get cannot write")
            }
        default:
            throw KuboError.normal("unsupported node type: \(cid) is \(cid.codec), not UnixFS (get writes UnixFS files and directories; use dag export for other DAGs)")
        }
    }

    /// The tar name of the top entry: the path's last component (`Qm…` for a bare CID).
    static func lastComponent(_ path: String, root: CID) -> String {
        var t = Substring(path)
        if t.hasPrefix("/ipfs/") { t = t.dropFirst(6) }
        let comps = t.split(separator: "/", omittingEmptySubsequences: true)
        return comps.last.map(String.init) ?? root.description
    }

    static func now() -> (Int64, Int) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), Int(ts.tv_nsec))
    }
}

/// Go's `path.Clean` for slash-separated paths.
enum GoPath {
    static func clean(_ p: String) -> String {
        if p.isEmpty { return "." }
        let rooted = p.hasPrefix("/")
        var out: [Substring] = []
        for part in p.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                if let last = out.last, last != ".." {
                    out.removeLast()
                } else if !rooted {
                    out.append("..")
                }
            default: out.append(part)
            }
        }
        let s = (rooted ? "/" : "") + out.joined(separator: "/")
        return s.isEmpty ? "." : s
    }
}
