import Datastore
import Hummingbird
import Multiformats
import UnixFS

/// kubo's `cid/format`, `cid/base32` and `cid/bases` (core/commands/cid.go, kubo 0.40),
/// `object/stat` (kubo ≤ 0.2x's shape; removed in kubo 0.40, kept because clients still call
/// it) and `repo/verify`.
extension KuboRPCServer {
    // MARK: cid

    func cidFormat(_ c: RPCCall) throws -> Response {
        try c.requireArgs("cid")
        let fmt = try c.string("f") ?? "%s"
        let version = try c.string("v") ?? ""
        let codecName = try c.string("mc") ?? ""
        let baseName = try c.string("b") ?? ""
        guard fmt.contains("%") else { throw KuboError.normal("invalid format string: \(JSONText.string(fmt))") }
        var newCodec: Multicodec?
        if !codecName.isEmpty {
            guard let m = Multicodec(name: codecName) else { throw KuboError.normal("unknown multicodec: \(JSONText.string(codecName))") }
            newCodec = m
        }
        var toVersion: CID.Version?
        switch version {
        case "": if !baseName.isEmpty { toVersion = .v1 }
        case "0":
            if let newCodec, newCodec != .dagPB { throw KuboError.normal("cannot convert to CIDv0 with any codec other than dag-pb") }
            if !baseName.isEmpty && baseName != "base58btc" {
                throw KuboError.normal("cannot convert to CIDv0 with any multibase other than the implicit base58btc")
            }
            toVersion = .v0
        case "1": toVersion = .v1
        default: throw KuboError.normal("invalid cid version: \(JSONText.string(version))")
        }
        let base = baseName.isEmpty ? nil : try CIDText.base(named: baseName)
        return try Self.emitCIDs(c.args, fmt: fmt, base: base, version: toVersion, codec: newCodec)
    }

    func cidBase32(_ c: RPCCall) throws -> Response {
        try c.requireArgs("cid")
        return try Self.emitCIDs(c.args, fmt: "%s", base: .base32, version: .v1, codec: nil)
    }

    static func emitCIDs(_ args: [String], fmt: String, base: Multibase?, version: CID.Version?, codec: Multicodec?) throws -> Response {
        var lines: [String] = []
        for text in args {
            func line(_ formatted: String, _ err: String) -> String {
                "{\"CidStr\":\(JSONText.string(text)),\"Formatted\":\(JSONText.string(formatted)),\"ErrorMsg\":\(JSONText.string(err))}"
            }
            var cid: CID
            do {
                cid = try CID(text)
            } catch {
                lines.append(line("", error.message))
                continue
            }
            if let codec, codec != cid.codec { cid = CID.v1(codec: codec, cid.multihash) }
            switch version {
            case .v0?:
                guard cid.codec == .dagPB, let v0 = try? cid.toV0() else {
                    lines.append(line("", "can't convert non-dag-pb nodes to cidv0"))
                    continue
                }
                cid = v0
            case .v1?: cid = cid.v1
            case nil: break
            }
            let b = base ?? (cid.version == .v0 ? .base58btc : CIDFormat.base(of: text) ?? .base32)
            do {
                lines.append(line(try CIDFormat.format(fmt, base: b, cid: cid), ""))
            } catch {
                switch error {
                case .format(let e): throw KuboError.normal(e.description)
                case .cid(let e): lines.append(line("", e.description))
                }
            }
        }
        let out = lines
        return stream { o in for l in out { try await o.line(l) } }
    }

    /// kubo's `cid bases` (`prefix`, `numeric` shape only its text output).
    func cidBases(_ c: RPCCall) throws -> Response {
        _ = try c.bool("prefix", default: false)
        _ = try c.bool("numeric", default: false)
        return Self.json(Self.codeAndName(CIDTables.bases))
    }

    /// kubo's `cid codecs`; `supported`/`s` keeps the codecs kubo encodes or decodes.
    func cidCodecs(_ c: RPCCall) throws -> Response {
        _ = try c.bool("numeric", "n", default: false)
        let supported = try c.bool("supported", "s", default: false)
        return Self.json(Self.codeAndName(CIDTables.codecs.filter { !supported || CIDTables.supportedCodecs.contains($0.0) }))
    }

    func cidHashes(_ c: RPCCall) throws -> Response {
        _ = try c.bool("numeric", "n", default: false)
        _ = try c.bool("supported", "s", default: false)
        return Self.json(Self.codeAndName(CIDTables.hashes))
    }

    static func codeAndName(_ items: [(Int, String)]) -> String {
        "[" + items.map { "{\"Code\":\($0.0),\"Name\":\(JSONText.string($0.1))}" }.joined(separator: ",") + "]"
    }

    // MARK: object/stat

    func objectStat(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("key")
        let reads = ReadBlocks(repo: repo)
        let cid = try await resolveReading(c.args[0], reads: reads)
        let bytes = try await reads.withFetching { try reads.verifiedBlock(cid) }
        let text = try CIDText(c, autoUpgrade: false)
        var numLinks = 0, linksSize = 0, dataSize = 0, cumulative: UInt64 = 0
        let blockSize: Int
        switch cid.codec {
        case .dagPB:
            let node = try Self.decodePB(cid, bytes)
            numLinks = node.links.count
            blockSize = bytes.count
            dataSize = node.data?.count ?? 0
            linksSize = bytes.count - dataSize
            cumulative = node.links.reduce(UInt64(bytes.count)) { $0 + ($1.tsize ?? 0) }
        case .raw:
            blockSize = bytes.count
            dataSize = bytes.count
            cumulative = UInt64(bytes.count)
        default:
            // go-ipld-cbor's Stat is all zeros; kubo still fills the hash.
            blockSize = 0
        }
        return Self.json(
            "{\"Hash\":\"\(text(cid))\",\"NumLinks\":\(numLinks),\"BlockSize\":\(blockSize),\"LinksSize\":\(linksSize),\"DataSize\":\(dataSize),\"CumulativeSize\":\(cumulative)}"
        )
    }

    // MARK: repo/verify

    /// kubo 0.40's `repo verify`: every stored block read back and checked, `{"Msg":"","Progress":N}`
    /// per block and `{"Msg":"block <cid> was corrupt (<why>)[, removed[, healed | , failed to heal (…)]]","Progress":0}`
    /// per bad one. `drop` removes corrupt blocks; `heal` removes them and fetches them again
    /// from peers (`heal-timeout` each, default 30s). The end: "verify complete, all blocks
    /// validated.", or a summary ("verify complete, N blocks corrupt, N removed, …") that is
    /// the stream's error (`X-Stream-Error`) unless every corrupt block was dealt with as asked.
    func repoVerify(_ c: RPCCall) throws -> Response {
        let heal = try c.bool("heal", default: false)
        let drop = try c.bool("drop", default: false) || heal
        let healText = try c.string("heal-timeout") ?? "30s"
        guard let healTimeout = RPCCall.parseGoDuration(healText) else {
            throw KuboError.normal("invalid heal-timeout: time: invalid duration \(JSONText.string(healText))")
        }
        let repo = self.repo
        let blocks = repo.blocks
        return Self.stream { out in
            var n = 0, corrupt = 0, removed = 0, removeFailed = 0, healed = 0, healFailed = 0
            for shard in blocks.shards() {
                for (mh, _) in blocks.blocks(inShard: shard) {
                    let cid = CID.v1(codec: .raw, mh)
                    do throws(RepoError) {
                        _ = try blocks.get(cid)
                    } catch {
                        corrupt += 1
                        var msg = "block \(cid) was corrupt (\(error.message))"
                        if drop {
                            do {
                                _ = try blocks.delete(mh)
                                removed += 1
                                msg += ", removed"
                                if heal {
                                    do {
                                        let bytes = try await Self.withDeadline(healTimeout) { try await repo.fetchForRead(cid) }
                                        guard let bytes else { throw KuboError.normal("no peer has it") }
                                        try repo.put(Block(cid: cid, bytes: bytes))
                                        healed += 1
                                        msg += ", healed"
                                    } catch {
                                        healFailed += 1
                                        msg += ", failed to heal (\(error is DeadlineExceeded ? "context deadline exceeded" : "\(error)"))"
                                    }
                                }
                            } catch {
                                removeFailed += 1
                                msg += ", failed to remove (\(error))"
                            }
                        }
                        try await out.line("{\"Msg\":\(JSONText.string(msg)),\"Progress\":0}")
                    }
                    n += 1
                    try await out.line("{\"Msg\":\"\",\"Progress\":\(n)}")
                }
            }
            guard corrupt > 0 else {
                try await out.line("{\"Msg\":\"verify complete, all blocks validated.\",\"Progress\":0}")
                return
            }
            var summary = "verify complete, \(corrupt) blocks corrupt"
            if removed > 0 { summary += ", \(removed) removed" }
            if removeFailed > 0 { summary += ", \(removeFailed) failed to remove" }
            if healed > 0 { summary += ", \(healed) healed" }
            if healFailed > 0 { summary += ", \(healFailed) failed to heal" }
            let fail = !drop || removeFailed > 0 || (heal && healFailed > 0)
            if fail { throw KuboError.normal(summary) }
            try await out.line("{\"Msg\":\(JSONText.string(summary)),\"Progress\":0}")
        }
    }
}
