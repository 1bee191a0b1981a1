import AsyncHTTPClient
public import EmbeddedIPFS
import Foundation
public import Logging
public import Multiformats
import NIOCore

/// The Routing V1 HTTP client (kubo's `Routing.DelegatedRouters`): asks every router at once
/// for `GET <base>/routing/v1/providers/<cid>` (the CID as CIDv1, base32) and merges their
/// answers.
///
/// - Bounded: each request ends after ``Settings/timeout`` (connect, wait and body together);
///   a body over ``Settings/limits`` `maxBodyBytes` is dropped whole; at most
///   ``Settings/limits`` `maxProviders` providers a router, ``Settings/maxProviders`` in all.
/// - Accepts `application/x-ndjson` and `application/json` (either may come back). `404` is
///   an empty answer (the spec: MUST); any other status, a malformed body or a timeout is a
///   `notice` log line naming the router and what was wrong, and that router's answer is empty.
public final class DelegatedRoutingClient: Sendable {
    public struct Settings: Sendable {
        public var timeout: Duration = .seconds(10)
        public var limits = RoutingV1.Limits(maxBodyBytes: 1 << 20, maxProviders: 100)
        public var maxProviders = 20
        public init() {}
    }

    public let routers: [String]
    public let settings: Settings
    let logger: Logger

    public init(routers: [String], settings: Settings = Settings(), logger: Logger) {
        self.routers = routers
        self.settings = settings
        self.logger = logger
    }

    /// The providers every router named for `cid`, merged by peer (first router's order).
    public func findProviders(_ cid: CID) async -> [RoutingProvider] {
        let answers = await withTaskGroup(of: (Int, [RoutingProvider]).self) { g in
            for (i, r) in routers.enumerated() { g.addTask { (i, await self.ask(r, cid)) } }
            var out: [(Int, [RoutingProvider])] = []
            for await a in g { out.append(a) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var merged: [RoutingProvider] = []
        for p in answers.joined() {
            if let i = merged.firstIndex(where: { $0.id == p.id }) {
                merged[i].addrs += p.addrs.filter { !merged[i].addrs.contains($0) }
                merged[i].protocols += p.protocols.filter { !merged[i].protocols.contains($0) }
            } else if merged.count < settings.maxProviders {
                merged.append(p)
            }
        }
        return merged
    }

    /// One router's answer; empty (and a log line) when it failed.
    public func ask(_ router: String, _ cid: CID) async -> [RoutingProvider] {
        let url = router + RoutingV1.providersPath + cid.v1.description
        do {
            return try await fetch(url, router: router)
        } catch let e as RoutingV1.DecodeError {
            logger.notice("delegated router answered malformed providers; ignored", metadata: ["router": "\(router)", "cid": "\(cid)", "error": "\(e)"])
        } catch is CancellationError {
        } catch {
            logger.notice("delegated router did not answer", metadata: ["router": "\(router)", "cid": "\(cid)", "error": "\(error)"])
        }
        return []
    }

    func fetch(_ url: String, router: String) async throws -> [RoutingProvider] {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "\(RoutingV1.ndjsonType), \(RoutingV1.jsonType)")
        request.headers.add(name: "User-Agent", value: EmbeddedNode.agentVersionString)
        let deadline = NIODeadline.now() + .nanoseconds(Int64(settings.timeout.components.seconds) * 1_000_000_000 + settings.timeout.components.attoseconds / 1_000_000_000)
        let response = try await HTTPClient.shared.execute(request, deadline: deadline, logger: nil)
        if response.status == .notFound { return [] }
        guard response.status == .ok else {
            throw RoutingV1.DecodeError("status \(response.status.code) \(response.status.reasonPhrase)")
        }
        let max = settings.limits.maxBodyBytes
        if let n = response.headers.first(name: "Content-Length").flatMap(Int.init), n > max {
            throw RoutingV1.DecodeError("the answer is \(n) bytes, over the \(max)-byte limit")
        }
        var body: [UInt8] = []
        for try await chunk in response.body {
            guard body.count + chunk.readableBytes <= max else {
                throw RoutingV1.DecodeError("the answer is over the \(max)-byte limit")
            }
            body += chunk.readableBytesView
        }
        let decoded = try RoutingV1.decode(body, contentType: response.headers.first(name: "Content-Type"), limits: settings.limits)
        if decoded.skippedRecords > 0 || decoded.truncated {
            logger.notice(
                "delegated router's answer had records PinMesh skipped",
                metadata: [
                    "router": "\(router)", "skipped": "\(decoded.skippedRecords)", "truncated": "\(decoded.truncated)",
                    "first": "\(decoded.firstProblem ?? "-")",
                ])
        }
        return decoded.providers
    }
}
