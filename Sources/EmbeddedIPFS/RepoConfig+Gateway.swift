import Foundation
public import Multiformats

extension RepoConfig {
    /// kubo's `Gateway` section; PinMesh reads `ExposeRoutingAPI` from it.
    public struct GatewaySection: Codable, Sendable, Equatable {
        /// kubo ≥ 0.23's flag: serve the Routing V1 HTTP API (`/routing/v1/providers/{cid}`) on
        /// the gateway's listeners. Absent: false, kubo's default; new PinMesh repositories
        /// write true.
        public var ExposeRoutingAPI: Bool?
        public init(ExposeRoutingAPI: Bool?) { self.ExposeRoutingAPI = ExposeRoutingAPI }
    }

    /// Whether the gateway serves `/routing/v1/` (`Gateway.ExposeRoutingAPI`, default false).
    public var exposesRoutingAPI: Bool { Gateway?.ExposeRoutingAPI ?? false }

    /// The gateway's default listen address. kubo's gateway is on 8080; the embedded node moved
    /// its RPC API from kubo's 5001 to 5091, and its gateway likewise to 8091, so a kubo and a
    /// PinMesh peer run side by side on one host without a clash. Loopback only: a public
    /// gateway is an operator's choice.
    public static let defaultGateway = "/ip4/127.0.0.1/tcp/8091"

    /// kubo's `Addresses.Gateway`: written as one multiaddr string (kubo's own form) or a list;
    /// read back in the form it had.
    public struct GatewayAddresses: Codable, Sendable, Equatable {
        public var addresses: [String]
        var asList: Bool

        public init(_ addresses: [String]) {
            self.addresses = addresses
            asList = addresses.count != 1
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) {
                addresses = one.isEmpty ? [] : [one]
                asList = false
            } else {
                addresses = try c.decode([String].self)
                asList = true
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            if asList || addresses.count != 1 { try c.encode(addresses) } else { try c.encode(addresses[0]) }
        }
    }

    /// The gateway's listen addresses, checked; none (gateway off) for `[]`, `""`, or no key: a
    /// repository written before the gateway existed keeps its ports as they were (two such
    /// peers on one host would otherwise both claim the default port). `pinmesh init` and new
    /// repositories write ``defaultGateway`` (or, with `--randomports`, a free port).
    public func gatewayListen() throws(ConfigError) -> [Multiaddr] {
        var out: [Multiaddr] = []
        for text in Addresses.Gateway?.addresses ?? [] {
            guard let a = try? Multiaddr(text) else {
                throw ConfigError(description: "Addresses.Gateway: \(text.debugDescription) is not a multiaddr; write it as \(Self.defaultGateway)")
            }
            out.append(a)
        }
        return out
    }
}
