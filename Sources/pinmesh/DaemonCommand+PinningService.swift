import ArgumentParser
import Foundation
import Logging
import Node
import PinningService
import ServiceLifecycle

extension DaemonCommand {
    /// The Pinning Service API on every `api.pinsvcapi.http_listen_multiaddress`, and its
    /// ready-block line (the first address). Bearer tokens are the REST API's (`POST /token`,
    /// revocations read from `<config>/revoked-tokens.json`) under `basic_auth_credentials`;
    /// without credentials the API is open, as ipfs-cluster's.
    static func pinningServices(_ config: ServiceConfig, directory: String, peer: ClusterPeer, gate: ListenerGate, logger: Logger) throws -> (services: [any Service], line: String) {
        let api = config.api.pinsvcapi
        guard api.sslCertFile.isEmpty else {
            throw StartupError(description: "api.pinsvcapi.ssl_cert_file: the Pinning Service API serves plain HTTP only; remove ssl_cert_file and ssl_key_file, or put a TLS proxy in front of it")
        }
        let listeners = try api.httpListenMultiaddress.enumerated().map { i, a in
            try hostPort(a, key: "api.pinsvcapi.http_listen_multiaddress[\(i)]")
        }
        guard let (host, port) = listeners.first else {
            throw StartupError(description: "api.pinsvcapi.http_listen_multiaddress is empty: give at least one address, like /ip4/127.0.0.1/tcp/9097")
        }
        let auth = PSAAuth(credentials: api.basicAuthCredentials, revocationFile: (directory as NSString).appendingPathComponent("revoked-tokens.json"))
        let server = PinningServiceServer(service: PinningService(peer: peer, logger: logger), auth: auth, logger: logger)
        let services: [any Service] = listeners.enumerated().map { i, hp in
            gate.listener("Pinning Service API", key: "api.pinsvcapi.http_listen_multiaddress[\(i)]", host: hp.0, port: hp.1) {
                server.application(host: hp.0, port: hp.1, onRunning: $0)
            }
        }
        return (services, "  pinning service http://\(host):\(port)")
    }
}
