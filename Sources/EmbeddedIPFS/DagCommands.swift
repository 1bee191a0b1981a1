import Datastore
import Foundation
import Hummingbird
import Multiformats
import NIOCore
import UnixFS

/// kubo's `dag get`, `dag put`, `dag stat` and `dag resolve` (core/commands/dag, kubo 0.40),
/// over the IPLD data model (``DagCBOR`` values): dag-pb, dag-cbor, dag-json and raw blocks.
///
/// Paths are resolved as kubo resolves `/ipfs/` paths: a UnixFS directory (basic or HAMT) by
/// entry names, any other node by its data-model fields (`Links/0/Hash`, map keys, list
/// indexes), crossing links; what is left inside the last block is the remainder.
extension KuboRPCServer {
    // MARK: the data model

    /// The block as an IPLD data-model value (dag-pb as `{Data?, Links:[{Hash, Name?, Tsize?}]}`).
    static func dagValue(_ cid: CID, _ bytes: [UInt8]) throws -> DagCBOR {
        switch cid.codec {
        case .dagPB: return pbValue(try decodePB(cid, bytes))
        case .dagCBOR:
            do {
                return try DagCBOR(decoding: bytes)
            } catch {
                throw KuboError.normal("\(cid) is not a valid dag-cbor node: \(error.message)")
            }
        case .dagJSON:
            do {
                return try DagJSON.decode(bytes)
            } catch {
                throw KuboError.normal("\(cid) is not a valid dag-json node: \(error.message)")
            }
        case .raw: return .bytes(bytes)
        default: throw KuboError.normal("no decoder registered for multicodec code \(cid.codec.rawValue) (0x\(String(cid.codec.rawValue, radix: 16)))")
        }
    }

    static func pbValue(_ node: PBNode) -> DagCBOR {
        var m: [String: DagCBOR] = [:]
        m["Links"] = .list(
            node.links.map { l in
                var link: [String: DagCBOR] = ["Hash": .link(l.hash)]
                if let n = l.name { link["Name"] = .string(n) }
                if let t = l.tsize { link["Tsize"] = .int(Int64(clamping: t)) }
                return .map(link)
            })
        if let d = node.data { m["Data"] = .bytes(d) }
        return .map(m)
    }

    /// A data-model value as a dag-pb node (the dag-pb schema: only Data and Links).
    static func pbNode(_ v: DagCBOR) throws -> PBNode {
        guard case .map(let m) = v else { throw KuboError.normal("dag-pb: the node must be a map with Links (and optionally Data)") }
        for k in m.keys where k != "Data" && k != "Links" { throw KuboError.normal("dag-pb: unknown field \(k.debugDescription) (only Data and Links)") }
        var data: [UInt8]?
        if let d = m["Data"] {
            guard case .bytes(let b) = d else { throw KuboError.normal("dag-pb: Data must be bytes") }
            data = b
        }
        guard case .list(let items)? = m["Links"] else { throw KuboError.normal("dag-pb: Links is required and must be a list") }
        var links: [PBLink] = []
        for item in items {
            guard case .map(let l) = item else { throw KuboError.normal("dag-pb: each link must be a map") }
            for k in l.keys where !["Hash", "Name", "Tsize"].contains(k) { throw KuboError.normal("dag-pb: unknown link field \(k.debugDescription)") }
            guard case .link(let hash)? = l["Hash"] else { throw KuboError.normal("dag-pb: a link's Hash is required and must be a link") }
            var name: String?
            if let n = l["Name"] {
                guard case .string(let s) = n else { throw KuboError.normal("dag-pb: a link's Name must be a string") }
                name = s
            }
            var tsize: UInt64?
            if let t = l["Tsize"] {
                guard case .int(let i) = t, i >= 0 else { throw KuboError.normal("dag-pb: a link's Tsize must be a non-negative integer") }
                tsize = UInt64(i)
            }
            links.append(PBLink(hash: hash, name: name, tsize: tsize))
        }
        return PBNode(links: links, data: data)
    }

    /// `v` in `codec` (dag-json, dag-cbor, dag-pb, raw, json).
    static func dagEncode(_ v: DagCBOR, codec: Multicodec) throws -> [UInt8] {
        switch codec {
        case .dagJSON: return DagJSON.encode(v)
        case .dagCBOR: return v.encoded()
        case .dagPB: return try pbNode(v).encoded()
        case .raw:
            guard case .bytes(let b) = v else { throw KuboError.normal("raw codec can only encode bytes, this node is \(kindName(v))") }
            return b
        case Multicodec(rawValue: 0x0200):  // json
            try requirePlain(v)
            return DagJSON.encode(v)
        default:
            throw KuboError.normal("invalid encoding: \(codec) - no encoder registered for multicodec code \(codec.rawValue) (0x\(String(codec.rawValue, radix: 16)))")
        }
    }

    static func requirePlain(_ v: DagCBOR) throws {
        switch v {
        case .link: throw KuboError.normal("cannot marshal IPLD links to this codec")
        case .bytes: throw KuboError.normal("cannot marshal IPLD bytes to this codec")
        case .list(let items): for i in items { try requirePlain(i) }
        case .map(let m): for (_, x) in m { try requirePlain(x) }
        default: break
        }
    }

    static func kindName(_ v: DagCBOR) -> String {
        switch v {
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .bytes: "bytes"
        case .string: "string"
        case .list: "list"
        case .map: "map"
        case .link: "link"
        }
    }

    /// A codec by its multicodec name, for `output-codec`, `store-codec`, `input-codec`.
    static func codec(named name: String) throws -> Multicodec {
        switch name {
        case "dag-json": return .dagJSON
        case "dag-cbor": return .dagCBOR
        case "dag-pb": return .dagPB
        case "raw": return .raw
        case "json": return Multicodec(rawValue: 0x0200)
        default:
            if let c = Multicodec(name: name) { return c }
            throw KuboError.normal("unknown multicodec: \(name.debugDescription)")
        }
    }

    // MARK: paths

    /// The last block a path reaches and the segments left inside it (kubo's `ResolvePath`).
    func resolveIPLD(_ text: String, reads: ReadBlocks) async throws -> (cid: CID, remainder: [String]) {
        var t = Substring(text)
        if t.hasPrefix("/ipfs/") { t = t.dropFirst(6) } else if t.hasPrefix("/") {
            throw KuboError.client("unsupported path namespace: \(text) (only /ipfs/ paths)")
        }
        var rest = t.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !rest.isEmpty else { throw KuboError.client("invalid path \(text.debugDescription)") }
        var cid = try RPCCall.parseCID(rest.removeFirst())
        var hops = 0
        while !rest.isEmpty {
            hops += 1
            guard hops <= 4096 else { throw KuboError.normal("path \(text) crosses more than 4096 links") }
            let here = cid
            let bytes = try await reads.withFetching { try reads.verifiedBlock(here) }
            if cid.codec == .dagPB {
                let node = try Self.decodePB(cid, bytes)
                if let d = try? UnixFSData(decoding: node.data ?? []), d.type == .directory || d.type == .hamtShard {
                    let exporter = Exporter(blocks: reads)
                    let entries = try await reads.withFetching { try exporter.list(here) }
                    let name = rest.removeFirst()
                    guard let e = entries.first(where: { $0.name == name }) else {
                        throw KuboError.normal("no link named \"\(name)\" under \(cid)")
                    }
                    cid = e.cid
                    continue
                }
            }
            var v = try Self.dagValue(cid, bytes)
            var used = 0
            var crossed = false
            for seg in rest {
                v = try Self.step(v, seg, under: cid)
                used += 1
                if case .link(let next) = v {
                    cid = next
                    crossed = true
                    break
                }
            }
            if !crossed { return (cid, rest) }
            rest.removeFirst(used)
        }
        return (cid, [])
    }

    /// One path segment into a data-model value: a map key or a list index.
    static func step(_ v: DagCBOR, _ seg: String, under cid: CID) throws -> DagCBOR {
        switch v {
        case .map(let m):
            guard let x = m[seg] else { throw KuboError.normal("no link named \"\(seg)\" under \(cid)") }
            return x
        case .list(let items):
            guard let i = Int(seg), i >= 0, i < items.count else { throw KuboError.normal("no link named \"\(seg)\" under \(cid)") }
            return items[i]
        default:
            throw KuboError.normal("no link named \"\(seg)\" under \(cid)")
        }
    }

    // MARK: dag get

    func dagGet(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("ref")
        let codec = try Self.codec(named: try c.string("output-codec") ?? "dag-json")
        let reads = ReadBlocks(repo: repo)
        let (cid, remainder) = try await resolveIPLD(c.args[0], reads: reads)
        let bytes = try await reads.withFetching { try reads.verifiedBlock(cid) }
        var v = try Self.dagValue(cid, bytes)
        for seg in remainder { v = try Self.step(v, seg, under: cid) }
        let out = try Self.dagEncode(v, codec: codec)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        headers[Self.streamOutputName] = "1"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: out)))
    }

    // MARK: dag resolve

    func dagResolve(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("ref")
        let (cid, remainder) = try await resolveIPLD(c.args[0], reads: ReadBlocks(repo: repo))
        return Self.json("{\"Cid\":\(JSONText.link(cid)),\"RemPath\":\(JSONText.string(remainder.joined(separator: "/")))}")
    }

    // MARK: dag put

    func dagPut(_ c: RPCCall, _ request: Request) async throws -> Response {
        let store = try Self.codec(named: try c.string("store-codec") ?? "dag-cbor")
        let input = try Self.codec(named: try c.string("input-codec") ?? "dag-json")
        let pin = try c.bool("pin", default: false)
        let allowBig = try c.bool("allow-big-block", default: false)
        let hashName = try c.string("hash") ?? "sha2-256"
        guard let hash = Multicodec(name: hashName), Multihash.Hasher(code: hash) != nil else {
            throw KuboError.normal("unrecognized multihash function: \(hashName)")
        }
        guard [.dagJSON, .dagCBOR, .dagPB, .raw, Multicodec(rawValue: 0x0200)].contains(input) else {
            throw KuboError.normal("no decoder registered for multicodec code \(input.rawValue) (0x\(String(input.rawValue, radix: 16)))")
        }
        guard [.dagJSON, .dagCBOR, .dagPB, .raw, Multicodec(rawValue: 0x0200)].contains(store) else {
            throw KuboError.normal("no encoder registered for multicodec code \(store.rawValue) (0x\(String(store.rawValue, radix: 16)))")
        }
        let sink = BlockPartsSink(limit: DagJSON.maxBytes)
        let reader = try MultipartReader(contentType: request.headers[.contentType], sink: sink)
        let repo = self.repo
        return Self.stream { out in
            let op = repo.beginOperation()
            defer { op.end() }
            var cids: [CID] = []
            try await reader.consume(request.body) {
                for part in sink.parts {
                    let value = try Self.dagDecode(part, codec: input)
                    let bytes = try Self.dagEncode(value, codec: store)
                    if !allowBig && bytes.count > FlatfsBlockstore.softBlockLimit {
                        throw KuboError.normal(
                            "produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override")
                    }
                    guard let digest = Multihash.digest(bytes, code: hash) else { throw KuboError.normal("cannot hash with \(hashName)") }
                    let cid = CID.v1(codec: store, digest)
                    try op.put(Block(cid: cid, bytes: bytes), allowBig: allowBig, hashed: true)
                    cids.append(cid)
                    try await out.line("{\"Cid\":\(JSONText.link(cid))}")
                }
                sink.parts.removeAll()
            }
            guard reader.parts > 0 else { throw KuboError.client("argument \"object data\" is required") }
            try repo.blocks.sync()
            if pin { try await repo.pin(cids, mode: .recursive(maxDepth: nil), offline: true) }
        }
    }

    static func dagDecode(_ bytes: [UInt8], codec: Multicodec) throws -> DagCBOR {
        do {
            switch codec {
            case .dagJSON: return try DagJSON.decode(bytes)
            case .dagCBOR: return try DagCBOR(decoding: bytes)
            case .dagPB: return pbValue(try PBNode(decoding: bytes))
            case .raw: return .bytes(bytes)
            default: return try DagJSON.decode(bytes, links: false)
            }
        } catch let e {
            throw KuboError.normal("cannot decode the input as \(codec): \(e.message)")
        }
    }

    // MARK: dag stat

    func dagStat(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("root")
        let progressive = try c.bool("progress", "p", default: true)
        let reads = ReadBlocks(repo: repo)
        var roots: [CID] = []
        for a in c.args {
            let (cid, rest) = try await resolveIPLD(a, reads: reads)
            if !rest.isEmpty { throw KuboError.normal("cannot return size for anything other than a DAG with a root CID") }
            roots.append(cid)
        }
        let rootList = roots
        return Self.stream { out in
            var stats: [(cid: CID, size: UInt64, blocks: Int)] = []
            var all = Set<CID>()
            var total: UInt64 = 0
            var redundant: UInt64 = 0
            func summary(final: Bool) -> String {
                var fields: [String] = []
                if final && !all.isEmpty { fields.append("\"UniqueBlocks\":\(all.count)") }
                if total != 0 { fields.append("\"TotalSize\":\(total)") }
                if final {
                    if redundant - total != 0 { fields.append("\"SharedSize\":\(redundant - total)") }
                    let ratio = Float(redundant) / Float(total)
                    if ratio != 0 { fields.append("\"Ratio\":\(Self.goFloat32(ratio))") }
                }
                let arr = stats.map { s in
                    "{\"Cid\":\"\(s.cid)\"" + (s.size != 0 ? ",\"Size\":\(s.size)" : "") + (s.blocks != 0 ? ",\"NumBlocks\":\(s.blocks)" : "") + "}"
                }
                if !arr.isEmpty { fields.append("\"DagStats\":[\(arr.joined(separator: ","))]") }
                return "{" + fields.joined(separator: ",") + "}"
            }
            for root in rootList {
                stats.append((root, 0, 0))
                // Depth-first, pre-order, each block once per DAG (kubo's traverse with SkipDuplicates).
                var seen = Set<CID>()
                var stack = [root]
                while let cid = stack.popLast() {
                    guard seen.insert(cid).inserted else { continue }
                    let bytes = try await reads.withFetching { try reads.verifiedBlock(cid) }
                    let size = UInt64(bytes.count)
                    stats[stats.count - 1].size += size
                    stats[stats.count - 1].blocks += 1
                    if all.insert(cid).inserted { total += size }
                    redundant += size
                    if progressive { try await out.line(summary(final: false)) }
                    stack.append(contentsOf: try Self.dagLinks(cid, bytes).reversed())
                }
            }
            try await out.line(summary(final: true))
        }
    }

    /// The links of a block in order (dag-pb, dag-cbor, dag-json; none for raw and others).
    static func dagLinks(_ cid: CID, _ bytes: [UInt8]) throws -> [CID] {
        guard cid.codec == .dagJSON else { return try IPFSRepo.links(cid, bytes) }
        var out: [CID] = []
        func walk(_ v: DagCBOR) {
            switch v {
            case .link(let c): out.append(c)
            case .list(let items): items.forEach(walk)
            case .map(let m): for k in m.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { walk(m[k]!) }
            default: break
            }
        }
        walk(try dagValue(cid, bytes))
        return out
    }

    /// A float32 as Go's encoding/json prints it (shortest text, no exponent for normal ratios).
    static func goFloat32(_ f: Float) -> String {
        if f == f.rounded() && abs(f) < 1e21 { return String(Int64(f)) }
        return "\(f)"
    }
}
