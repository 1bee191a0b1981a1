import AsyncHTTPClient
import EmbeddedIPFS
import Foundation
import Hummingbird
import Multiformats
import NIOCore

/// `block/put` and `dag/put` with `pin=true`: the call goes to the daemon with `pin=false`
/// (its body streamed), and each CID of its answer is pinned in the cluster before its line is
/// passed on. The daemon's refusal (not 200) is passed on as it is; a pin that fails is named in
/// the `X-Stream-Error` trailer and the next CID is still pinned (ipfs-cluster's behaviour).
extension IPFSProxyServer {
    func blockPut(_ c: RPCCall, _ request: Request, _ headers: HTTPFields) async throws -> Response {
        try await putAndPin(request, headers) { object in object["Key"] as? String }
    }

    func dagPut(_ c: RPCCall, _ request: Request, _ headers: HTTPFields) async throws -> Response {
        try await putAndPin(request, headers) { object in (object["Cid"] as? [String: Any])?["/"] as? String }
    }

    /// `query` with `pin` set to false.
    static func unpinned(_ query: String?) -> String {
        let kept = (query ?? "").split(separator: "&").filter { pair in
            let key = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return key != "pin"
        }
        return (kept + ["pin=false"]).joined(separator: "&")
    }

    private func putAndPin(_ request: Request, _ headers: HTTPFields, cid: @escaping @Sendable ([String: Any]) -> String?) async throws -> Response {
        let answer: HTTPClientResponse
        do {
            answer = try await forwarder.send(request, query: Self.unpinned(request.uri.query))
        } catch {
            return ProxyAnswer.error(forwarder.unreachable(error), status: .badGateway, headers: headers)
        }
        guard answer.status.code == 200 else { return DaemonForwarder.relay(answer) }
        let peer = self.peer
        let body = answer.body
        return await ProxyAnswer.stream(headers: headers) { out in
            var failures: [String] = []
            var splitter = ProxyLineSplitter()
            func handle(_ line: [UInt8]) async throws {
                let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
                guard let text = object.flatMap(cid) else {
                    throw KuboError.normal("the IPFS daemon's answer is not what kubo sends: \(String(decoding: line.prefix(200), as: UTF8.self))")
                }
                do {
                    _ = try await peer.pin(try RPCCall.parseCID(text))
                } catch {
                    failures.append("\(text): \(ProxyAnswer.kubo(error).message)")
                }
                try await out.line(String(decoding: line, as: UTF8.self))
                try await out.flush()
            }
            for try await chunk in body {
                guard let lines = splitter.feed(chunk.readableBytesView) else {
                    throw KuboError.normal("the IPFS daemon's answer has a line over \(splitter.limit) bytes")
                }
                for line in lines { try await handle(line) }
            }
            if let last = splitter.finish() { try await handle(last) }
            var errors: [String] = []
            if let t = body.trailers?["X-Stream-Error"].first { errors.append(t) }
            if !failures.isEmpty { errors.append("cannot pin in the cluster: " + failures.joined(separator: "; ")) }
            if !errors.isEmpty { out.trailer = errors.joined(separator: "; ") }
        }
    }
}
