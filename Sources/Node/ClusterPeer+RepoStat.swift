import Foundation
import Multiformats
import Transport

/// One peer's IPFS repository size, as its daemon's `repo/stat` reports it; `error` says why a
/// peer that could not be asked is left out of a sum.
public struct PeerRepoStat: Codable, Sendable, Equatable {
    public var peer: String
    public var repoSize: UInt64
    public var storageMax: UInt64
    public var numObjects: Int
    public var error: String?

    public init(peer: String, repoSize: UInt64 = 0, storageMax: UInt64 = 0, numObjects: Int = 0, error: String? = nil) {
        self.peer = peer
        self.repoSize = repoSize
        self.storageMax = storageMax
        self.numObjects = numObjects
        self.error = error
    }
}

extension ClusterPeer {
    public static let repoStatMethod = "ipfs/repostat"

    func registerRepoStat(on server: RPCServer) {
        server.register(Self.repoStatMethod) { [weak self] _, _ in
            guard let self else { throw ClusterError(.unavailable, "the peer is stopping") }
            return try JSONEncoder().encode(await self.localRepoStat()).bytes
        }
    }

    /// This peer's IPFS daemon's `repo/stat`.
    public func localRepoStat() async -> PeerRepoStat {
        do {
            let s = try await connector.repoStat()
            return PeerRepoStat(peer: me.description, repoSize: s.repoSize, storageMax: s.storageMax, numObjects: s.numObjects)
        } catch {
            return PeerRepoStat(peer: me.description, error: "\(error)")
        }
    }

    /// Every live peer's `repo/stat`, asked at once (`local`: this peer's only), sorted by peer;
    /// a peer that fails or does not answer within the status timeout carries the error.
    public func repoStats(local: Bool = false) async -> [PeerRepoStat] {
        let mine = await localRepoStat()
        guard !local else { return [mine] }
        let others = await monitor.peers().filter { $0 != me }
        let timeout = settings.statusTimeout
        var all = await withTaskGroup(of: PeerRepoStat.self) { g in
            for p in others {
                g.addTask { [transport] in
                    do {
                        guard let c = transport.connection(to: p) else { throw ClusterError(.unavailable, "not connected") }
                        return try JSONDecoder().decode(PeerRepoStat.self, from: Data(try await c.call(Self.repoStatMethod, [], timeout: timeout)))
                    } catch {
                        return PeerRepoStat(peer: p.description, error: "\(error)")
                    }
                }
            }
            var out: [PeerRepoStat] = []
            for await r in g { out.append(r) }
            return out
        }
        all.append(mine)
        return all.sorted { $0.peer < $1.peer }
    }
}
