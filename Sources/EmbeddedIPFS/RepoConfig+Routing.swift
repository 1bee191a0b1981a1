import ClusterModel
import Foundation

extension RepoConfig {
    /// kubo's `Routing` section: `Type` and `DelegatedRouters`.
    public struct RoutingSection: Codable, Sendable, Equatable {
        public var `Type`: String?
        /// Base URLs of Routing V1 HTTP servers (kubo's key): `https://host[:port][/prefix]`,
        /// asked at `<url>/routing/v1/providers/<cid>`.
        public var DelegatedRouters: [String]?
        public init(Type: String?, DelegatedRouters: [String]? = nil) {
            self.Type = Type
            self.DelegatedRouters = DelegatedRouters
        }
    }

    /// kubo's `Reprovider` section: `Interval` only (PinMesh announces pinned roots).
    public struct ReproviderSection: Codable, Sendable, Equatable {
        public var Interval: String?
        public init(Interval: String?) { self.Interval = Interval }
    }

    /// How the embedded node takes part in the DHT (`Specs/dht.md`).
    public enum RoutingMode: String, Sendable, Equatable {
        /// No DHT: content is found only on connected peers.
        case none
        /// Queries only; nothing announced in identify.
        case client
        /// Answers on kubo's LAN DHT protocol, queries on both (`auto` and `dht`).
        case lanServer
        /// Answers on the LAN and WAN protocols (`dhtserver`).
        case server
    }

    public struct RoutingPlan: Sendable, Equatable {
        public var mode: RoutingMode
        /// nil: never reprovide (`Reprovider.Interval` "0").
        public var reprovideInterval: Duration?
        /// `Routing.DelegatedRouters`, without a trailing `/`; `auto` entries (kubo's AutoConf,
        /// which PinMesh does not have) are left out and listed in ``ignoredRouters``.
        public var delegatedRouters: [String] = []
        public var ignoredRouters: [String] = []
    }

    /// `Routing.Type` and `Reprovider.Interval`, checked.
    public func routingPlan() throws(ConfigError) -> RoutingPlan {
        let mode: RoutingMode
        switch Routing?.Type ?? "auto" {
        case "auto", "dht", "": mode = .lanServer
        case "dhtclient", "autoclient": mode = .client
        case "dhtserver": mode = .server
        case "none": mode = .none
        case let other:
            throw ConfigError(description: "Routing.Type \(other.debugDescription) is not supported by the embedded node: use auto, dht, dhtclient, dhtserver or none")
        }
        let text = Reprovider?.Interval ?? "22h"
        let interval: Duration?
        if text == "0" || text == "0s" {
            interval = nil
        } else {
            guard let d = GoDuration.parse(text), d > .zero else {
                throw ConfigError(description: "Reprovider.Interval \(text.debugDescription) is not a duration like 22h (0 turns reproviding off)")
            }
            interval = d
        }
        var plan = RoutingPlan(mode: mode, reprovideInterval: interval)
        for text in Routing?.DelegatedRouters ?? [] {
            if text == "auto" {
                plan.ignoredRouters.append(text)
                continue
            }
            let lower = text.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), let url = URL(string: text), url.host != nil,
                url.query == nil, url.fragment == nil
            else {
                throw ConfigError(description: "Routing.DelegatedRouters: \(text.debugDescription) is not an http(s) base URL; write it as https://router.example or http://127.0.0.1:8091")
            }
            var base = text
            while base.hasSuffix("/") { base.removeLast() }
            if !plan.delegatedRouters.contains(base) { plan.delegatedRouters.append(base) }
        }
        guard plan.delegatedRouters.count <= 8 else {
            throw ConfigError(description: "Routing.DelegatedRouters lists \(plan.delegatedRouters.count) routers: at most 8 are asked; keep the ones you trust")
        }
        return plan
    }
}
