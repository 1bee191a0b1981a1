import ArgumentParser
import EmbeddedIPFS
import Gateway
import Logging
import ServiceLifecycle

extension DaemonCommand {
    /// The embedded node's HTTP gateway on every `Addresses.Gateway` of its config (new
    /// repositories: 127.0.0.1:8091; `[]` or no key: off), and its ready-block lines
    /// (`  gateway    http://…`).
    /// Nothing when the peer uses kubo (`repo` nil): kubo serves its own gateway.
    /// With `Gateway.ExposeRoutingAPI` true (new repositories write it), the gateway also serves
    /// the Routing V1 API from `node` (`Specs/delegated-routing.md`).
    static func gatewayServices(repo: IPFSRepo?, node: (any RoutingProviderSource)? = nil, gate: ListenerGate, logger: Logger) throws -> (services: [any Service], lines: String) {
        guard let repo else { return ([], "") }
        let listen: [String]
        do {
            listen = try repo.config.gatewayListen().map(\.description)
        } catch {
            throw StartupError(description: "the embedded IPFS node's config (\(repo.root)/config): \(error)")
        }
        let gateway = GatewayServer(repo: repo, routing: repo.config.exposesRoutingAPI ? node : nil, logger: logger)
        var services: [any Service] = []
        var lines = ""
        for (i, a) in listen.enumerated() {
            let key = "Addresses.Gateway[\(i)] in \(repo.root)/config"
            let (h, p) = try hostPort(a, key: key)
            services.append(gate.listener("gateway", key: key, host: h, port: p) { gateway.application(host: h, port: p, onRunning: $0) })
            lines += "\n  gateway    http://\(h.contains(":") ? "[\(h)]" : h):\(p)"
        }
        return (services, lines)
    }
}
