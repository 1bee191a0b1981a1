import ClusterTestKit
import EmbeddedIPFS
import Foundation
import Multiformats
import Testing

@Suite("Routing V1 records: the JSON and NDJSON provider answers, written and read within limits")
struct RoutingV1RecordsTests {
    struct VectorFile: Decodable {
        struct Provider: Decodable {
            let ID: String
            let Addrs: [String]
            let Protocols: [String]
        }
        struct Case: Decodable {
            let name: String
            let origin: String
            let content_type: String
            let body: String
            let expect: [Provider]
            let written_by_pinmesh_exactly: Bool
        }
        let cases: [Case]
    }

    static let a = "12D3KooWM8sovaEGU1bmiWGWAzvs47DEcXKZZTuJnpQyVTkRs2Vn"
    static let b = "12D3KooWM8sovaEGU1bmiWGWAzvs47DEcXKZZTuJnpQyVTkRs2Vz"

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test("boxo's answers (its server tests, today's and kubo 0.22's) read as the providers they name, and ours are written byte for byte as boxo writes them")
    func boxoVectors() throws {
        let file = try Vectors.json("routing-v1.json", as: VectorFile.self)
        #expect(file.cases.count == 6)
        for c in file.cases {
            let decoded = try RoutingV1.decode(Self.bytes(c.body), contentType: c.content_type)
            let want = try c.expect.map { RoutingProvider(id: try PeerID($0.ID), addrs: $0.Addrs, protocols: $0.Protocols) }
            #expect(decoded.providers == want, "\(c.name) (\(c.origin))")
            #expect(decoded.skippedRecords == 0 && !decoded.truncated, "\(c.name)")
            guard c.written_by_pinmesh_exactly else { continue }
            let written = c.content_type == RoutingV1.jsonType
                ? RoutingV1.json(want, legacy: false) : want.flatMap { RoutingV1.ndjsonLines($0, legacy: false) }
            #expect(String(decoding: written, as: UTF8.self) == c.body, "\(c.name)")
        }
    }

    @Test("a bitswap provider is written as a peer record and a legacy bitswap record; reading both gives the one provider back")
    func legacyRecords() throws {
        let p = RoutingProvider(id: try PeerID(Self.a), addrs: ["/ip4/127.0.0.1/tcp/4001"], protocols: [RoutingV1.bitswap])
        let text = String(decoding: RoutingV1.json([p]), as: UTF8.self)
        #expect(text == #"{"Providers":[{"Addrs":["/ip4/127.0.0.1/tcp/4001"],"ID":"\#(Self.a)","Protocols":["transport-bitswap"],"Schema":"peer"},{"Addrs":["/ip4/127.0.0.1/tcp/4001"],"ID":"\#(Self.a)","Protocol":"transport-bitswap","Schema":"bitswap"}]}"#)
        #expect(try RoutingV1.decodeJSON(RoutingV1.json([p])).providers == [p])
        #expect(try RoutingV1.decodeNDJSON(RoutingV1.ndjsonLines(p)).providers == [p])
        // Not bitswap: no legacy record.
        let gw = RoutingProvider(id: try PeerID(Self.b), addrs: [], protocols: ["transport-ipfs-gateway-http"])
        #expect(!String(decoding: RoutingV1.json([gw]), as: UTF8.self).contains("\"bitswap\""))
        #expect(!gw.mayServeBitswap && p.mayServeBitswap)
        #expect(RoutingProvider(id: try PeerID(Self.b), addrs: [], protocols: []).mayServeBitswap)
    }

    @Test("malformed bodies are errors that say what was wrong; nothing is taken from them")
    func malformed() {
        let cases: [(String, String, String)] = [
            ("", RoutingV1.jsonType, "not JSON"),
            ("{\"Providers\":[", RoutingV1.jsonType, "not JSON"),
            ("[1,2]", RoutingV1.jsonType, "not a JSON object"),
            ("\"text\"", RoutingV1.jsonType, "not a JSON object"),
            ("{\"Providers\":{}}", RoutingV1.jsonType, "\"Providers\" is not an array"),
            ("{\"Providers\":\"x\"}", RoutingV1.jsonType, "\"Providers\" is not an array"),
            ("{}", "text/html", "neither application/json nor application/x-ndjson"),
            ("{}", "", "neither"),
        ]
        for (body, type, words) in cases {
            #expect {
                _ = try RoutingV1.decode(Self.bytes(body), contentType: type)
            } throws: { error in
                (error as? RoutingV1.DecodeError)?.description.contains(words) == true
            }
        }
        // Content-Type parameters and case are ignored.
        #expect((try? RoutingV1.decode(Self.bytes("{}"), contentType: "Application/JSON; charset=utf-8"))?.providers == [])
    }

    @Test("records that are not usable are skipped and counted, the rest are read")
    func skippedRecords() throws {
        let body = """
            {"Providers":[1,"x",null,{"Schema":"unknown-schema","ID":"\(Self.a)"},{"Schema":"peer"},{"Schema":"peer","ID":"not-a-peer"},\
            {"Schema":"peer","ID":7},{"Schema":"peer","ID":"\(Self.b)","Addrs":["/ip4/1.2.3.4/tcp/1",5,"",null],"Protocols":"transport-bitswap"}]}
            """
        let d = try RoutingV1.decodeJSON(Self.bytes(body))
        #expect(d.providers == [RoutingProvider(id: try PeerID(Self.b), addrs: ["/ip4/1.2.3.4/tcp/1"], protocols: [])])
        #expect(d.skippedRecords == 7)
        #expect(d.skippedFields == 4)
        #expect(d.firstProblem == "a record is not a JSON object")
        let nd = try RoutingV1.decodeNDJSON(Self.bytes("\n  \r\nnot json\n{\"Schema\":\"peer\",\"ID\":\"\(Self.a)\"}\r\n[1]\n"))
        #expect(nd.providers.map(\.id.description) == [Self.a])
        #expect(nd.skippedRecords == 2)
        #expect(nd.firstProblem == "a line is not JSON")
    }

    @Test("records of one peer merge: addresses and protocols in first-seen order, without repeats; a peer ID in CID form is the same peer")
    func merging() throws {
        let id = try PeerID(Self.a)
        let body = """
            {"Addrs":["/ip4/1.1.1.1/tcp/1"],"ID":"\(Self.a)","Protocols":["transport-bitswap"],"Schema":"peer"}
            {"Addrs":["/ip4/1.1.1.1/tcp/1","/ip4/2.2.2.2/tcp/2"],"ID":"\(id.cid)","Protocol":"transport-bitswap","Schema":"bitswap"}
            {"ID":"\(Self.a)","Protocols":["transport-ipfs-gateway-http"],"Schema":"peer"}
            """
        let d = try RoutingV1.decodeNDJSON(Self.bytes(body))
        #expect(d.providers == [RoutingProvider(id: id, addrs: ["/ip4/1.1.1.1/tcp/1", "/ip4/2.2.2.2/tcp/2"], protocols: ["transport-bitswap", "transport-ipfs-gateway-http"])])
    }

    @Test("at every limit: the body's bytes, the providers, addresses, protocols, string lengths")
    func limits() throws {
        let limits = RoutingV1.Limits(maxBodyBytes: 4096, maxProviders: 3, maxAddresses: 2, maxProtocols: 2, maxStringBytes: 60)
        // The body: at the byte limit read, one byte over rejected (both forms).
        var atLimit = Array("{\"Providers\":[]}".utf8)
        atLimit += Array(repeating: UInt8(ascii: " "), count: 4096 - atLimit.count)
        #expect(try RoutingV1.decodeJSON(atLimit, limits: limits).providers.isEmpty)
        for over in [atLimit + [0x20]] {
            #expect(throws: RoutingV1.DecodeError("the answer is over 4096 bytes")) { try RoutingV1.decodeJSON(over, limits: limits) }
            #expect(throws: RoutingV1.DecodeError("the answer is over 4096 bytes")) { try RoutingV1.decodeNDJSON(over, limits: limits) }
        }
        // Providers: 3 read, the 4th makes it truncated; exactly 3 is not truncated.
        let ids = (0..<4).map { i in try! PeerID(ed25519PublicKey: Array(repeating: UInt8(i + 1), count: 32)) }
        func record(_ id: PeerID) -> String { #"{"Schema":"peer","ID":"\#(id)"}"# }
        let three = try RoutingV1.decodeNDJSON(Self.bytes(ids.prefix(3).map(record).joined(separator: "\n")), limits: limits)
        #expect(three.providers.count == 3 && !three.truncated)
        let four = try RoutingV1.decodeNDJSON(Self.bytes(ids.map(record).joined(separator: "\n")), limits: limits)
        #expect(four.providers.map(\.id) == Array(ids.prefix(3)) && four.truncated)
        // Addresses and protocols: 2 kept, the rest dropped and counted; strings at 60 bytes kept, 61 dropped.
        let s60 = "/dns/" + String(repeating: "a", count: 55)
        let s61 = s60 + "a"
        let p63 = String(repeating: "p", count: 63)
        let body = #"{"Providers":[{"Schema":"peer","ID":"\#(ids[0])","Addrs":["\#(s61)","\#(s60)","/ip4/1.1.1.1/tcp/1","/ip4/2.2.2.2/tcp/2"],"Protocols":["\#(p63)p","\#(p63)","a","b"]}]}"#
        let d = try RoutingV1.decodeJSON(Self.bytes(body), limits: limits)
        #expect(d.providers.first?.addrs == [s60, "/ip4/1.1.1.1/tcp/1"])
        #expect(d.providers.first?.protocols == [p63, "a"])
        #expect(d.skippedFields == 4)
        // An ID over the string limit (52 characters here) is not read as a peer.
        let long = try RoutingV1.decodeJSON(Self.bytes(#"{"Providers":[{"Schema":"peer","ID":"\#(ids[0])"}]}"#), limits: RoutingV1.Limits(maxBodyBytes: 4096, maxProviders: 3, maxStringBytes: 51))
        #expect(long.providers.isEmpty && long.skippedRecords == 1)
    }

    @Test("multiaddrs: the dialable ones parse, a trailing /p2p/ is dropped, the others are left out")
    func multiaddrs() throws {
        let id = try PeerID(Self.a)
        let p = RoutingProvider(id: id, addrs: ["/ip4/127.0.0.1/tcp/4001/p2p/\(Self.a)", "/ip4/127.0.0.1/tcp/4001/ws", "garbage", "/ip6/::1/tcp/5"], protocols: [])
        #expect(p.multiaddrs.map(\.description) == ["/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/5"])
    }

    @Test("Routing.DelegatedRouters: base URLs without a trailing slash, 'auto' left out, a non-URL is an error that says how to write one, at most 8")
    func config() throws {
        func plan(_ routers: [String]?) throws -> RepoConfig.RoutingPlan {
            var c = try RepoConfig.generate()
            c.Routing = RepoConfig.RoutingSection(Type: "none", DelegatedRouters: routers)
            return try c.routingPlan()
        }
        #expect(try plan(nil).delegatedRouters.isEmpty)
        let p = try plan(["http://127.0.0.1:8091/", "https://router.example/prefix", "auto", "http://127.0.0.1:8091"])
        #expect(p.delegatedRouters == ["http://127.0.0.1:8091", "https://router.example/prefix"])
        #expect(p.ignoredRouters == ["auto"])
        for bad in ["127.0.0.1:8091", "ftp://x", "http://", "http://h/?q=1"] {
            #expect(throws: RepoConfig.ConfigError.self) { try plan([bad]) }
        }
        #expect((try? plan((1...9).map { "http://h\($0)" })) == nil)
        #expect(try plan((1...8).map { "http://h\($0)" }).delegatedRouters.count == 8)
        // Gateway.ExposeRoutingAPI: kubo's default (absent) is off; new repositories write true.
        var c = try RepoConfig.generate()
        #expect(c.exposesRoutingAPI)
        c.Gateway = nil
        #expect(!c.exposesRoutingAPI)
        let text = String(decoding: try JSONEncoder().encode(try RepoConfig.generate()), as: UTF8.self)
        #expect(text.contains("\"ExposeRoutingAPI\":true"))
    }
}
