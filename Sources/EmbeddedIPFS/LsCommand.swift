import Foundation
import Hummingbird
import Multiformats
import UnixFS

/// kubo's `ls` (core/commands/ls.go and coreapi `Unixfs().Ls`, kubo 0.40): the entries of a
/// UnixFS directory (basic or HAMT-sharded), or the links of any other node (a file's chunks).
extension KuboRPCServer {
    /// One `LsLink` as kubo prints it.
    struct LsLink {
        var name: String
        var hash: CID
        var size: UInt64 = 0
        /// UnixFS `Data.DataType` as a number: 0 when not resolved (kubo's zero value).
        var type = 0
        var target = ""
        /// Go's `os.FileMode` bits (permissions, `ModeDir`, `ModeSymlink`, set-id bits).
        var mode: UInt32 = 0
        var mtime: UnixFSData.Mtime?

        func json(_ text: CIDText) -> String {
            "{\"Name\":\(JSONText.string(name)),\"Hash\":\"\(text(hash))\",\"Size\":\(size),\"Type\":\(type),\"Target\":\(JSONText.string(target)),"
                + "\"Mode\":\(mode),\"ModTime\":\"\(GoTime.rfc3339(mtime))\"}"
        }
    }

    func ls(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("ipfs-path")
        let resolveType = try c.bool("resolve-type", default: true)
        let resolveSize = try c.bool("size", default: true)
        let stream = try c.bool("stream", "s", default: false)
        _ = try c.bool("headers", "v", default: false)  // text output only
        let text = try CIDText(c)
        let resolve = resolveType || resolveSize
        let reads = ReadBlocks(repo: repo)
        if stream {
            let paths = c.args
            return Self.stream { out in
                for path in paths {
                    for link in try await self.lsLinks(path, resolve: resolve, reads: reads) {
                        try await out.line("{\"Objects\":[{\"Hash\":\(JSONText.string(path)),\"Links\":[\(link.json(text))]}]}")
                    }
                }
            }
        }
        var objects: [String] = []
        for path in c.args {
            let links = try await lsLinks(path, resolve: resolve, reads: reads)
            objects.append("{\"Hash\":\(JSONText.string(path)),\"Links\":[\(links.map { $0.json(text) }.joined(separator: ","))]}")
        }
        return Self.json("{\"Objects\":[\(objects.joined(separator: ","))]}")
    }

    /// The links `ls` reports for `path`, sorted by name (bytewise, stable).
    func lsLinks(_ path: String, resolve: Bool, reads: ReadBlocks) async throws -> [LsLink] {
        let cid = try await resolveReading(path, reads: reads)
        let exporter = Exporter(blocks: reads)
        let entries: [(String, CID, UInt64?)] = try await reads.withFetching {
            let bytes = try reads.verifiedBlock(cid)
            switch cid.codec {
            case .dagPB:
                let node = try Self.decodePB(cid, bytes)
                let data = try Self.decodeUnixFS(cid, node)
                if data.type == .directory || data.type == .hamtShard {
                    return try exporter.list(cid).map { ($0.name, $0.cid, $0.size) }
                }
                return node.links.map { ($0.name ?? "", $0.hash, $0.tsize) }
            case .dagCBOR:
                return try Self.cborLinks(cid, bytes).map { ($0.path, $0.cid, nil) }
            default:
                return []
            }
        }
        var out: [LsLink] = []
        out.reserveCapacity(entries.count)
        for (name, child, tsize) in entries {
            var link = LsLink(name: name, hash: child)
            switch child.codec {
            case .raw:
                link.type = Int(UnixFSData.DataType.file.rawValue)
                link.size = tsize ?? 0
            case .dagPB where resolve:
                let bytes = try await reads.withFetching { try reads.verifiedBlock(child) }
                let node = try Self.decodePB(child, bytes)
                let d = try Self.decodeUnixFS(child, node)
                switch d.type {
                case .file, .raw:
                    link.type = Int(UnixFSData.DataType.file.rawValue)
                    link.size = d.fileSize ?? 0
                case .directory, .hamtShard, .metadata:
                    link.type = Int(UnixFSData.DataType.directory.rawValue)
                case .symlink:
                    link.type = Int(UnixFSData.DataType.symlink.rawValue)
                    link.target = String(decoding: d.data ?? [], as: UTF8.self)
                    link.size = UInt64(d.data?.count ?? 0)
                }
                link.mode = GoFileMode.mode(unixPerms: d.mode ?? 0, type: d.type)
                link.mtime = d.mtime
            default:
                break
            }
            out.append(link)
        }
        // kubo sorts every listing by name (a file's chunks all have the name "").
        return out.enumerated().sorted {
            $0.element.name == $1.element.name ? $0.offset < $1.offset : $0.element.name.utf8.lexicographicallyPrecedes($1.element.name.utf8)
        }.map(\.element)
    }

    /// `resolvePath`, with the blocks on the way fetched when this node lacks them.
    func resolveReading(_ path: String, reads: ReadBlocks) async throws -> CID {
        try await reads.withFetching {
            do {
                return try resolvePath(path, blocks: reads)
            } catch let e as KuboError {
                throw e
            }
        }
    }

    static func decodePB(_ cid: CID, _ bytes: [UInt8]) throws -> PBNode {
        do {
            return try PBNode(decoding: bytes)
        } catch {
            throw KuboError.normal("\(cid) is not a valid dag-pb node: \(error.message)")
        }
    }

    static func decodeUnixFS(_ cid: CID, _ node: PBNode) throws -> UnixFSData {
        do {
            return try UnixFSData(decoding: node.data ?? [])
        } catch {
            throw KuboError.normal("\(cid) is not a UnixFS node: \(error.message)")
        }
    }

    /// The links of a dag-cbor node with their paths inside it ("a/b", "list/0"), in the
    /// node's canonical key order, as go-ipld-cbor's `Links()` names them.
    static func cborLinks(_ cid: CID, _ bytes: [UInt8]) throws -> [(path: String, cid: CID)] {
        let value: DagCBOR
        do {
            value = try DagCBOR(decoding: bytes)
        } catch {
            throw KuboError.normal("\(cid) is not a valid dag-cbor node: \(error.message)")
        }
        var out: [(String, CID)] = []
        func walk(_ v: DagCBOR, _ path: [String]) {
            switch v {
            case .link(let c): out.append((path.joined(separator: "/"), c))
            case .list(let items): for (i, item) in items.enumerated() { walk(item, path + [String(i)]) }
            case .map(let m): for k in m.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { walk(m[k]!, path + [k]) }
            default: break
            }
        }
        walk(value, [])
        return out
    }
}

/// Go's `os.FileMode` for UnixFS permission bits, as boxo's `FSNode.Mode()`: 0 when the node
/// records none; else the permissions, set-id and sticky bits moved to Go's positions, and
/// `ModeDir` or `ModeSymlink` by type.
enum GoFileMode {
    static let dir: UInt32 = 1 << 31
    static let symlink: UInt32 = 1 << 27

    static func mode(unixPerms: UInt32, type: UnixFSData.DataType) -> UInt32 {
        let perms = unixPerms & 0xFFF
        guard perms != 0 else { return 0 }
        var m = (perms & 0x1FF) | ((perms & 0xC00) << 12) | ((perms & 0x200) << 11)
        switch type {
        case .directory, .hamtShard: m |= dir
        case .symlink: m |= symlink
        default: break
        }
        return m
    }
}

/// Go's `time.Time` JSON text (RFC 3339 with nanoseconds trimmed), in UTC.
enum GoTime {
    static func rfc3339(_ t: UnixFSData.Mtime?) -> String {
        guard let t, t.nanoseconds.map({ $0 >= 1 && $0 <= 999_999_999 }) ?? true else { return "0001-01-01T00:00:00Z" }
        var tm = tm()
        var secs = time_t(t.seconds)
        gmtime_r(&secs, &tm)
        var s = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min),
            Int(tm.tm_sec))
        if let ns = t.nanoseconds {
            var frac = String(format: "%09d", Int(ns))
            while frac.hasSuffix("0") { frac.removeLast() }
            s += "." + frac
        }
        return s + "Z"
    }
}
