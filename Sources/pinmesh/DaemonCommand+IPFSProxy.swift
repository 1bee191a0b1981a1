import ArgumentParser
import ClusterModel
import EmbeddedIPFS
import IPFSProxy
import Logging
import Node
import ServiceLifecycle

extension DaemonCommand {
    /// The IPFS proxy on every `api.ipfsproxy.listen_multiaddress`, forwarding to
    /// `api.ipfsproxy.node_multiaddress` (empty: `ipfs_connector.ipfshttp.node_multiaddress`),
    /// with the embedded node's allowed browser origins when it runs; and its ready-block line
    /// (`http://host:port` of each listener, or `off` when none is configured).
    static func ipfsProxyServices(_ service: ServiceConfig, peer: ClusterPeer, repo: IPFSRepo?, gate: ListenerGate, logger: Logger) throws -> (services: [any Service], ready: String) {
        let c = service.api.ipfsproxy
        guard !c.listenMultiaddress.isEmpty else { return ([], "off (api.ipfsproxy.listen_multiaddress is empty)") }
        if c.nodeHttps {
            throw StartupError(description: "api.ipfsproxy.node_https is true: PinMesh's IPFS proxy reaches the daemon over plain HTTP only; set it to false")
        }
        let own = !c.nodeMultiaddress.isEmpty
        let key = own ? "api.ipfsproxy.node_multiaddress" : "ipfs_connector.ipfshttp.node_multiaddress"
        let (host, port) = try hostPort(own ? c.nodeMultiaddress : service.ipfsConnector.ipfshttp.nodeMultiaddress, key: key)
        var settings = IPFSProxySettings(daemonHost: host.contains(":") ? "[\(host)]" : host, daemonPort: port)
        settings.daemonKey = key
        settings.extractHeadersExtra = c.extractHeadersExtra
        settings.extractHeadersPath = c.extractHeadersPath
        let ttl = GoDuration.parse(c.extractHeadersTtl) ?? .seconds(300)
        settings.extractHeadersTTL = ttl == .zero ? nil : ttl
        let idle = GoDuration.parse(c.idleTimeout) ?? .seconds(60)
        settings.idleTimeout = idle == .zero ? nil : idle
        settings.allowedOrigins = repo?.config.allowedOrigins ?? []
        let proxy = IPFSProxyServer(peer: peer, settings: settings, logger: logger)
        var services: [any Service] = []
        var urls: [String] = []
        for (i, a) in c.listenMultiaddress.enumerated() {
            let key = "api.ipfsproxy.listen_multiaddress[\(i)]"
            let (h, p) = try hostPort(a, key: key)
            services.append(gate.listener("IPFS proxy", key: key, host: h, port: p) { proxy.application(host: h, port: p, onRunning: $0) })
            urls.append("http://\(h.contains(":") ? "[\(h)]" : h):\(p)")
        }
        return (services, urls.joined(separator: ", "))
    }
}
