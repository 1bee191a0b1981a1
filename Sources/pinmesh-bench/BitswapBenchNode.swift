import Bitswap
import Datastore
import Foundation
import Libp2p
import Logging
import Multiformats
import NIOPosix
import Sodium
import UnixFS

/// The PinMesh side of `pinmesh-bench bitswap`: a bare libp2p host, a bitswap service and a
/// flatfs block store in a temporary folder (what the embedded node runs, without its RPC).
///
/// - Serving answers from the store; fetching walks a DAG through one session, storing every
///   block before asking for its links, and ends when the last block is stored.
final class BitswapBenchNode: Sendable {
    let host: Libp2pHost
    let service: BitswapService
    let store: FlatfsBlockstore

    init(directory: String) async throws {
        let store = try FlatfsBlockstore(directory: directory)
        var logger = Logger(label: "bench.bitswap")
        logger.logLevel = .error
        let host = Libp2pHost(
            identity: .generate(), settings: Libp2pSettings(listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], agentVersion: "pinmesh-bench"),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        var settings = BitswapServiceSettings()
        if let n = ProcessInfo.processInfo.environment["PINMESH_BENCH_INBOUND"].flatMap(Int.init) { settings.maxInboundStreamsPerPeer = n }
        service = try BitswapService(host: host, settings: settings, logger: logger) { cid in try? store.get(cid) }
        self.host = host
        self.store = store
        await service.start()
        try await host.start()
    }

    /// `listenAddresses[0]/p2p/<id>`.
    var dialAddress: Multiaddr { get throws { try host.listenAddresses[0].appending(.p2p(host.peerID)) } }

    /// Fetches the DAG under `root` into the store; returns the blocks and bytes stored.
    func fetchDAG(_ root: CID) async throws -> (blocks: Int, bytes: Int) {
        let session = await service.session()
        await session.want([root])
        var outstanding = 1, blocks = 0, bytes = 0
        var last = ContinuousClock.now, longest = Duration.zero
        for await result in session.results {
            longest = max(longest, ContinuousClock.now - last)
            last = ContinuousClock.now
            switch result {
            case .notFound(let cid):
                await session.close()
                throw BitswapBenchError("no peer had \(cid) within the give-up time")
            case .block(let cid, let data):
                try store.put(cid, data, hashed: true)
                await service.blockStored(cid)
                let links = try CAR.links(of: cid, bytes: data)
                outstanding += links.count - 1
                blocks += 1
                bytes += data.count
                if !links.isEmpty { await session.want(links) }
            }
            if outstanding == 0 { break }
        }
        await session.close()
        if ProcessInfo.processInfo.environment["PINMESH_BENCH_TRACE"] != nil {
            let c = await service.clientCounters
            FileHandle.standardError.write(Data("fetch: longest wait \(longest), wantHaves \(c.wantHavesSent), wantBlocks \(c.wantBlocksSent), received \(c.blocksReceived), unwanted \(c.blocksUnwanted)\n".utf8))
        }
        guard outstanding == 0 else { throw BitswapBenchError("the fetch session ended with \(outstanding) blocks missing") }
        return (blocks, bytes)
    }

    func shutdown() async {
        await service.stop()
        await host.shutdown()
    }
}

/// A benchmark step that could not be done, said plainly.
struct BitswapBenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
