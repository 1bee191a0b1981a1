import ClusterModel
import Foundation

extension RepoConfig {
    /// kubo's `Routing` section: `Type` only.
    public struct RoutingSection: Codable, Sendable, Equatable {
        public var `Type`: String?
        public init(Type: String?) { self.Type = Type }
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
        return RoutingPlan(mode: mode, reprovideInterval: interval)
    }
}
