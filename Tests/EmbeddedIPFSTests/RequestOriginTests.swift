import EmbeddedIPFS
import Testing

/// A web page cannot drive the embedded node's RPC API: cross-origin requests and DNS
/// rebinding are refused before the command runs; tools without an `Origin` are not affected.
@Suite struct RequestOriginTests {
    @Test func aWebPageCannotUnpinOrCollectGarbage() async throws {
        let node = try await LiveNode.start()
        let added = try await node.call("add", parts: [.init(name: "keep.txt", bytes: Array("keep me\n".utf8))])
        let cid = try #require(added.lines.last?["Hash"].string)
        let evil = [("Origin", "http://evil.example"), ("Content-Type", "text/plain")]
        for (command, query) in [("pin/rm", "arg=\(cid)"), ("repo/gc", ""), ("block/rm", "arg=\(cid)")] {
            let r = try await node.call(command, query, headers: evil)
            #expect(r.status == 403 && r.text == "403 - Forbidden\n", "\(command): \(r.status) \(r.text)")
        }
        // DNS rebinding: the page's own name points at 127.0.0.1, so it is same-origin to the browser.
        let rebound = try await node.call("pin/rm", "arg=\(cid)", headers: [("Origin", "http://evil.example:\(node.port)"), ("Host", "evil.example:\(node.port)")])
        #expect(rebound.status == 403)
        #expect(try await node.call("pin/ls", "arg=\(cid)").status == 200)
        // The node's own origin (a page it serves) and tools with no Origin may.
        let same = try await node.call("pin/ls", "arg=\(cid)", headers: [("Origin", "http://127.0.0.1:\(node.port)")])
        #expect(same.status == 200)
        #expect(try await node.call("pin/rm", "arg=\(cid)").status == 200)
    }

    @Test func theRulesAsAFunction() {
        let api = "127.0.0.1:5091"
        #expect(RequestOrigin.refusal(origin: nil, authority: "node1.example:5091", allowedOrigins: []) == nil)
        #expect(RequestOrigin.refusal(origin: "http://127.0.0.1:5091", authority: api, allowedOrigins: []) == nil)
        #expect(RequestOrigin.refusal(origin: "http://localhost:5091", authority: "localhost:5091", allowedOrigins: []) == nil)
        #expect(RequestOrigin.refusal(origin: "http://[::1]:5091", authority: "[::1]:5091", allowedOrigins: []) == nil)
        #expect(RequestOrigin.refusal(origin: "https://app.example", authority: api, allowedOrigins: ["https://app.example"]) == nil)
        #expect(RequestOrigin.refusal(origin: "https://app.example", authority: api, allowedOrigins: ["*"]) == nil)
        #expect(RequestOrigin.refusal(origin: "http://127.0.0.1:5092", authority: api, allowedOrigins: [])?.contains("cross-origin request from http://127.0.0.1:5092 refused") == true)
        #expect(RequestOrigin.refusal(origin: "null", authority: api, allowedOrigins: ["*"]) != nil)
        #expect(RequestOrigin.refusal(origin: "http://evil.example", authority: "evil.example", allowedOrigins: [])?.contains("host \"evil.example\"") == true)
        #expect(RequestOrigin.refusal(origin: "http://node1.example", authority: "node1.example", allowedOrigins: [], allowedHosts: ["node1.example"]) == nil)
        #expect(RequestOrigin.isSameOrigin("http://127.0.0.1", authority: "127.0.0.1:80"))
        #expect(!RequestOrigin.isSameOrigin("https://127.0.0.1", authority: "127.0.0.1:80"))
        #expect(!RequestOrigin.isAllowedHost("256.1.1.1", []) && !RequestOrigin.isAllowedHost("1.2.3", []))
    }
}
