@testable import EmbeddedIPFS
import Foundation
import Multiformats
import Testing

/// Query parsing as kubo's HTTP API does it.
@Suite struct RPCCallTests {
    @Test func argumentsOptionsAndAliases() throws {
        let c = try RPCCall(command: "pin/add", query: "arg=a&arg=%2Fipfs%2Fb&r=false&name=two+words&progress")
        #expect(c.args == ["a", "/ipfs/b"])
        #expect(try c.bool("recursive", "r", default: true) == false)
        #expect(try c.string("name") == "two words")
        #expect(try c.bool("progress", default: false))  // present without a value: true
        #expect(try c.bool("absent", default: true))
        #expect(throws: KuboError.self) { _ = try RPCCall(command: "x", query: "arg=%zz") }
        let twice = try RPCCall(command: "x", query: "recursive=true&r=false")
        #expect(throws: KuboError.self) { _ = try twice.bool("recursive", "r", default: true) }
    }

    @Test(arguments: ["1", "t", "T", "true", "TRUE", "True", ""]) func goTrue(_ v: String) throws {
        #expect(try RPCCall(command: "x", query: "b=\(v)").bool("b", default: false))
    }

    @Test(arguments: ["0", "f", "F", "false", "FALSE", "False"]) func goFalse(_ v: String) throws {
        #expect(try !RPCCall(command: "x", query: "b=\(v)").bool("b", default: true))
    }

    @Test(arguments: ["yes", "tRuE", "2", "on"]) func notGoBools(_ v: String) throws {
        let c = try RPCCall(command: "x", query: "b=\(v)")
        do {
            _ = try c.bool("b", default: true)
            Issue.record("\(v) parsed as a bool")
        } catch {
            #expect(error.code == 1)
            #expect(error.message == "could not convert value \"\(v)\" to type bool (for option \"-b\")")
        }
    }

    @Test func goDurations() {
        #expect(RPCCall.parseGoDuration("300ms") == .milliseconds(300))
        #expect(RPCCall.parseGoDuration("1m30s") == .seconds(90))
        #expect(RPCCall.parseGoDuration("1.5h") == .seconds(5400))
        #expect(RPCCall.parseGoDuration("0") == .zero)
        #expect(RPCCall.parseGoDuration("2562047h") != nil)  // Go's largest, about 292 years
        #expect(RPCCall.parseGoDuration("99999999999999h") == nil)
        for bad in ["", "5", "1x", "h", "1h-2m", ".", "--1s"] { #expect(RPCCall.parseGoDuration(bad) == nil, "\(bad)") }
    }

    @Test func integersAndCIDs() throws {
        let c = try RPCCall(command: "x", query: "max-depth=-1&arg=QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o&arg=/ipfs/bafkqaaa/x&arg=nope&n=1.5")
        #expect(try c.int("max-depth", default: nil) == -1)
        #expect(throws: KuboError.self) { _ = try c.int("n", default: nil) }
        #expect(try c.cid(0).description == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
        #expect(try c.cid(1).description == "bafkqaaa")
        #expect(throws: KuboError.self) { _ = try c.cid(2) }
        #expect(throws: KuboError.self) { _ = try c.cid(3) }
    }

    @Test func jsonStringsEscapeAsGo() throws {
        let s = "a\"b\\c\n<&>\u{01}é"
        let j = JSONText.string(s)
        #expect(j == "\"a\\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u0001é\"")
        #expect(try JSONSerialization.jsonObject(with: Data("[\(j)]".utf8)) as? [String] == [s])
    }
}
