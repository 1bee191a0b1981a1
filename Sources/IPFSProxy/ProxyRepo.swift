import EmbeddedIPFS
import Hummingbird
import Node

/// `repo/stat` and `repo/gc` over the whole cluster, in kubo's shapes.
extension IPFSProxyServer {
    /// `repo/stat`: `RepoSize`, `StorageMax` and `NumObjects` summed over every live peer's
    /// daemon (as ipfs-cluster's proxy sums the first two); a peer that cannot be asked is
    /// left out and logged. With `size-only`, `NumObjects` is 0, as kubo leaves it.
    func repoStat(_ c: RPCCall, _ headers: HTTPFields) async throws -> Response {
        let sizeOnly = try c.bool("size-only", default: false)
        _ = try c.bool("human", default: false)
        var size: UInt64 = 0
        var max: UInt64 = 0
        var objects = 0
        for s in await peer.repoStats() {
            if let error = s.error {
                logger.warning("repo/stat: a peer is left out of the sum", metadata: ["peer": "\(s.peer)", "error": "\(error)"])
                continue
            }
            size += s.repoSize
            max += s.storageMax
            objects += s.numObjects
        }
        return ProxyAnswer.json(
            "{\"RepoSize\":\(size),\"StorageMax\":\(max),\"NumObjects\":\(sizeOnly ? 0 : objects),\"RepoPath\":\"\",\"Version\":\"\"}", headers: headers)
    }

    /// `repo/gc`: garbage collection on every live peer's daemon at once; one `{"Key":{"/":…}}`
    /// line per removed block listed (each peer lists at most ``ClusterPeer/gcKeysListed``). A
    /// peer's failure is an `{"Error":…}` line with `stream-errors`, otherwise the
    /// `X-Stream-Error` trailer (every failure, `; `-joined). `quiet` and `silent` write no key.
    func repoGC(_ c: RPCCall, _ headers: HTTPFields) async throws -> Response {
        let streamErrors = try c.bool("stream-errors", default: false)
        let quiet = try c.bool("quiet", "q", default: false) || c.bool("silent", default: false)
        let result = await peer.gc()
        return await ProxyAnswer.stream(headers: headers) { out in
            var failures: [String] = []
            for (id, r) in result.peerMap.sorted(by: { $0.key < $1.key }) {
                if !quiet { for k in r.keys { try await out.line("{\"Key\":{\"/\":\"\(k.key)\"}}") } }
                guard let error = r.error else { continue }
                let text = "peer \(id): \(error)"
                if streamErrors { try await out.line("{\"Error\":\(JSONText.string(text))}") } else { failures.append(text) }
            }
            if !failures.isEmpty { out.trailer = failures.joined(separator: "; ") }
        }
    }
}
