import ClusterModel

extension ServiceConfig {
    /// `api.ipfsproxy`: kubo's RPC API in front of the IPFS daemon, with the calls that change
    /// pins acting on the cluster (ipfs-cluster's keys and defaults). Listen addresses may be
    /// one string or a list, as ipfs-cluster writes them.
    public struct IPFSProxy: Codable, Equatable, Sendable {
        public var listenMultiaddress: [String]
        /// The IPFS daemon calls are forwarded to; empty: `ipfs_connector.ipfshttp.node_multiaddress`.
        public var nodeMultiaddress: String
        public var nodeHttps: Bool
        public var logFile: String
        public var readTimeout: String
        public var readHeaderTimeout: String
        public var writeTimeout: String
        public var idleTimeout: String
        public var maxHeaderBytes: Int
        public var extractHeadersExtra: [String]
        public var extractHeadersPath: String
        public var extractHeadersTtl: String

        public static let defaults = IPFSProxy(
            listenMultiaddress: ["/ip4/127.0.0.1/tcp/9095"], nodeMultiaddress: "", nodeHttps: false, logFile: "",
            readTimeout: "0s", readHeaderTimeout: "5s", writeTimeout: "0s", idleTimeout: "1m0s", maxHeaderBytes: 4096,
            extractHeadersExtra: [], extractHeadersPath: "/api/v0/version", extractHeadersTtl: "5m0s")
    }

    /// `api.pinsvcapi`: the IPFS Pinning Service API (ipfs-cluster's keys and defaults; the
    /// common HTTP API keys it shares with `api.restapi`).
    public struct PinSvcAPI: Codable, Equatable, Sendable {
        public var httpListenMultiaddress: [String]
        public var readTimeout: String
        public var readHeaderTimeout: String
        public var writeTimeout: String
        public var idleTimeout: String
        public var maxHeaderBytes: Int
        public var basicAuthCredentials: [String: String]?
        public var httpLogFile: String
        public var headers: [String: [String]]
        public var corsAllowedOrigins: [String]
        public var corsAllowedMethods: [String]
        public var corsAllowedHeaders: [String]
        public var corsExposedHeaders: [String]
        public var corsAllowCredentials: Bool
        public var corsMaxAge: String
        public var sslCertFile: String
        public var sslKeyFile: String

        public static let defaults = PinSvcAPI(
            httpListenMultiaddress: ["/ip4/127.0.0.1/tcp/9097"], readTimeout: "0s", readHeaderTimeout: "5s",
            writeTimeout: "0s", idleTimeout: "2m0s", maxHeaderBytes: 4096, basicAuthCredentials: nil, httpLogFile: "",
            headers: [:], corsAllowedOrigins: ["*"], corsAllowedMethods: ["GET"], corsAllowedHeaders: [],
            corsExposedHeaders: ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"],
            corsAllowCredentials: true, corsMaxAge: "0s", sslCertFile: "", sslKeyFile: "")
    }

    public struct API: Codable, Equatable, Sendable {
        public var restapi: RESTAPI
        public var ipfsproxy: IPFSProxy
        public var pinsvcapi: PinSvcAPI
    }
}
