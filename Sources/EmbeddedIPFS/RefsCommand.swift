import Datastore
import Hummingbird
import Multiformats
import UnixFS

/// kubo's `refs` (core/commands/refs.go, kubo 0.40's RefWriter): the links below each root,
/// depth-first in link order, as `{"Ref","Err"}` lines.
///
/// - `format` (default `<dst>`) with tokens `<src>`, `<dst>`, `<linkname>`; `edges`/`e` is
///   `<src> -> <dst>` and refuses another `format` ("using format argument with edges is not
///   allowed").
/// - `recursive`/`r` (else one level), `max-depth` (-1 unlimited), `unique`/`u` (each CID
///   printed once over all roots; a branch seen before at the same or a shallower depth is
///   not walked again).
/// - A block that cannot be read ends that root with a line whose `Err` says why; the next
///   root goes on.
extension KuboRPCServer {
    final class RefWriter: @unchecked Sendable {
        let reads: ReadBlocks
        let unique: Bool
        let format: String
        let maxDepth: Int
        let text: CIDText
        var seen: [CID: Int] = [:]

        init(reads: ReadBlocks, unique: Bool, format: String, maxDepth: Int, text: CIDText) {
            self.reads = reads
            self.unique = unique
            self.format = format
            self.maxDepth = maxDepth
            self.text = text
        }

        /// kubo's visit: (walk below it, print it).
        func visit(_ c: CID, depth: Int) -> (Bool, Bool) {
            let atMax = maxDepth >= 0 && depth == maxDepth
            if maxDepth >= 0 && depth > maxDepth { return (false, false) }
            if !unique { return (!atMax, true) }
            let old = seen[c]
            if let old, maxDepth < 0 || old <= depth { return (false, false) }
            seen[c] = depth
            return (!atMax, old == nil)
        }

        func edge(_ from: CID, _ to: CID, _ name: String) -> String {
            format.replacingOccurrences(of: "<src>", with: text(from)).replacingOccurrences(of: "<dst>", with: text(to))
                .replacingOccurrences(of: "<linkname>", with: name)
        }

        func write(_ cid: CID, bytes: [UInt8], depth: Int, out: Emitter) async throws {
            guard depth < 100_000 else { throw KuboError.normal("DAG deeper than 100000 levels at \(cid)") }
            for (name, child) in try KuboRPCServer.namedLinks(cid, bytes) {
                let (deeper, print) = visit(child, depth: depth + 1)
                if !print && !deeper { continue }
                let childBytes = try await reads.withFetching { try reads.verifiedBlock(child) }
                if print { try await out.line("{\"Ref\":\(JSONText.string(edge(cid, child, name))),\"Err\":\"\"}") }
                if deeper { try await write(child, bytes: childBytes, depth: depth + 1, out: out) }
            }
        }
    }

    /// A block's links with their names: dag-pb link names, dag-cbor and dag-json paths.
    static func namedLinks(_ cid: CID, _ bytes: [UInt8]) throws -> [(String, CID)] {
        switch cid.codec {
        case .dagPB: return try decodePB(cid, bytes).links.map { ($0.name ?? "", $0.hash) }
        case .dagCBOR: return try cborLinks(cid, bytes).map { ($0.path, $0.cid) }
        case .dagJSON: return try dagLinks(cid, bytes).map { ("", $0) }
        default: return []
        }
    }

    func refs(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("ipfs-path")
        let recursive = try c.bool("recursive", "r", default: false)
        let unique = try c.bool("unique", "u", default: false)
        let edges = try c.bool("edges", "e", default: false)
        var format = try c.string("format") ?? "<dst>"
        var maxDepth = try c.int("max-depth", default: -1)!
        if !recursive { maxDepth = 1 }
        if edges {
            if format != "<dst>" { throw KuboError.normal("using format argument with edges is not allowed") }
            format = "<src> -> <dst>"
        }
        let text = try CIDText(c)
        let reads = ReadBlocks(repo: repo)
        var roots: [CID] = []
        for a in c.args { roots.append(try await resolveReading(a, reads: reads)) }
        let writer = RefWriter(reads: reads, unique: unique, format: format, maxDepth: maxDepth, text: text)
        let rootList = roots
        return Self.stream { out in
            for root in rootList {
                do {
                    let bytes = try await reads.withFetching { try reads.verifiedBlock(root) }
                    try await writer.write(root, bytes: bytes, depth: 0, out: out)
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    let message: String
                    switch error {
                    case let e as KuboError: message = e.message
                    case let e as RepoError: message = Self.kubo(e).message
                    case let e as UnixFSError: message = e.message
                    default: message = "\(error)"
                    }
                    try await out.line("{\"Ref\":\"\",\"Err\":\(JSONText.string(message))}")
                }
            }
        }
    }
}
