/// What `api.ipfsproxy` configures for one ``IPFSProxyServer`` (`Specs/ipfs-proxy.md`).
public struct IPFSProxySettings: Sendable {
    /// The IPFS daemon's RPC API calls are forwarded to: `host` (a name, an IPv4 address or a
    /// bracketed IPv6 one) and `port`.
    public var daemonHost: String
    public var daemonPort: Int
    /// The configuration key that named the daemon, for error messages.
    public var daemonKey = "api.ipfsproxy.node_multiaddress"
    /// Headers copied from the daemon's answer to ``extractHeadersPath`` onto the answers of
    /// intercepted calls, besides `Access-Control-Expose-Headers` (`extract_headers_extra`).
    public var extractHeadersExtra: [String] = []
    /// The daemon call whose answer headers are copied (`extract_headers_path`).
    public var extractHeadersPath = "/api/v0/version"
    /// How long copied headers are reused before the daemon is asked again
    /// (`extract_headers_ttl`); nil: asked once.
    public var extractHeadersTTL: Duration? = .seconds(300)
    /// Origins a browser may call the proxy from besides its own (as the embedded node's
    /// `API.HTTPHeaders.Access-Control-Allow-Origin`; `*`: any).
    public var allowedOrigins: [String] = []
    /// Host names a browser may address the proxy by besides IP addresses and `localhost`.
    public var allowedHosts: [String] = []

    /// A connection that reads and writes nothing this long is closed (`idle_timeout`); nil: never.
    public var idleTimeout: Duration? = .seconds(60)

    public init(daemonHost: String, daemonPort: Int) {
        self.daemonHost = daemonHost
        self.daemonPort = daemonPort
    }

    /// `http://host:port`, the daemon's base URL.
    public var daemonURL: String { "http://\(daemonHost):\(daemonPort)" }
}
