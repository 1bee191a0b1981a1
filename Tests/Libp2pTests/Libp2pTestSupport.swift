import Logging
import Multiformats
import NIOCore
import NIOPosix
import Sodium
import Testing
@testable import Libp2p

enum Libp2pTestSupport {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// A started host on 127.0.0.1 with an OS-assigned port, echoing `/echo/1.0.0` streams.
    static func host(dialTimeout: Duration = .seconds(10), maxStreams: Int = 256) async throws -> Libp2pHost {
        var settings = Libp2pSettings(listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], agentVersion: "pinmesh-test/0.1")
        settings.dialTimeout = dialTimeout
        settings.maxStreamsPerConnection = maxStreams
        let host = Libp2pHost(identity: .generate(), settings: settings, group: group, logger: Logger(label: "libp2p-test"))
        host.setStreamHandler("/echo/1.0.0") { stream in
            do {
                while let chunk = try await stream.read() { try await stream.write(chunk) }
                await stream.closeWrite()
            } catch {
                await stream.reset()
            }
        }
        try await host.start()
        return host
    }

    static func dialAddress(_ host: Libp2pHost) throws -> Multiaddr {
        try host.listenAddresses[0].appending(.p2p(host.peerID))
    }

    /// Writes `data` and reads the echo to EOF, concurrently.
    static func echo(_ stream: Libp2pStream, _ data: [UInt8]) async throws -> [UInt8] {
        async let written: Void = {
            var offset = 0
            while offset < data.count {
                let n = min(64 * 1024, data.count - offset)
                try await stream.write(Array(data[offset..<(offset + n)]))
                offset += n
            }
            await stream.closeWrite()
        }()
        var back: [UInt8] = []
        while let chunk = try await stream.read() { back += chunk }
        try await written
        return back
    }

    /// One ping round trip on a new `/ipfs/ping/1.0.0` stream.
    static func ping(_ host: Libp2pHost, _ peer: PeerID) async throws -> Bool {
        let stream = try await host.newStream(to: peer, protocols: ["/ipfs/ping/1.0.0"])
        let payload = SodiumRandom.bytes(32)
        try await stream.write(payload)
        var back: [UInt8] = []
        while back.count < 32, let chunk = try await stream.read() { back += chunk }
        await stream.closeWrite()
        return back == payload
    }

    /// `body`'s result, or nil when it takes longer than `limit`.
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask { try await Task.sleep(for: limit); return nil }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }
}
