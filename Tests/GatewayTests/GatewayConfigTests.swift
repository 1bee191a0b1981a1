import EmbeddedIPFS
import Foundation
import Testing

@Suite("Gateway config: Addresses.Gateway")
struct GatewayConfigTests {
    static func config(_ gateway: String?) throws -> RepoConfig {
        var base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try RepoConfig.generate())) as! [String: Any]
        var addresses = base["Addresses"] as! [String: Any]
        addresses["Gateway"] = gateway.map { try! JSONSerialization.jsonObject(with: Data($0.utf8), options: .fragmentsAllowed) }
        base["Addresses"] = addresses
        return try JSONDecoder().decode(RepoConfig.self, from: JSONSerialization.data(withJSONObject: base))
    }

    @Test("Addresses.Gateway reads kubo's string form and a list, writes each back in its form, new repositories get 127.0.0.1:8091, an absent key is no gateway")
    func forms() throws {
        let one = try Self.config("\"/ip4/127.0.0.1/tcp/8123\"")
        #expect(try one.gatewayListen().map(\.description) == ["/ip4/127.0.0.1/tcp/8123"])
        let text = String(decoding: try JSONEncoder().encode(one.Addresses), as: UTF8.self)
        #expect(text.contains("\"Gateway\":\"\\/ip4\\/127.0.0.1\\/tcp\\/8123\""))
        let list = try Self.config("[\"/ip4/127.0.0.1/tcp/1\", \"/ip6/::1/tcp/2\"]")
        #expect(try list.gatewayListen().count == 2)
        let none = try Self.config(nil)
        #expect(try none.gatewayListen().isEmpty)
        #expect(try RepoConfig.generate().gatewayListen().map(\.description) == [RepoConfig.defaultGateway])
        #expect(RepoConfig.defaultGateway == "/ip4/127.0.0.1/tcp/8091")
        let off = try Self.config("[]")
        #expect(try off.gatewayListen().isEmpty)
    }

    @Test("An Addresses.Gateway that is not a multiaddr is refused naming the key")
    func invalid() throws {
        let bad = try Self.config("\"localhost:8080\"")
        #expect {
            _ = try bad.gatewayListen()
        } throws: { error in "\(error)".contains("Addresses.Gateway") }
    }
}
