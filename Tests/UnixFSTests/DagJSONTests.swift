import Foundation
import Multiformats
import Testing
import UnixFS

/// DAG-JSON as go-ipld-prime writes and reads it; malformed input is refused with a typed error.
@Suite struct DagJSONTests {
    @Test func encodesAsGoIPLDPrime() throws {
        let cid = try CID("bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua")
        let v: DagCBOR = .map([
            "b": .bytes(Array("hello".utf8)), "a": .list([.int(1), .int(-2), .float(0.5), .null, .bool(true)]), "l": .link(cid),
            "s": .string("q\"\\\n\t\r\u{1}<>&\u{2028}é"), "aa": .map([:]),
        ])
        // Keys sorted bytewise (not length-first as dag-cbor); refmt's escapes; no whitespace.
        let text = String(decoding: DagJSON.encode(v), as: UTF8.self)
        #expect(
            text
                == "{\"a\":[1,-2,0.5,null,true],\"aa\":{},\"b\":{\"/\":{\"bytes\":\"aGVsbG8\"}},\"l\":{\"/\":\"\(cid)\"},\"s\":\"q\\\"\\\\\\n\\t\\r\\u0001<>&\\u2028é\"}")
        #expect(try DagJSON.decode(Array(text.utf8)) == v)
    }

    @Test func floatsPrintAsES6Numbers() {
        let cases: [(Double, String)] = [
            (1, "1"), (-1.5, "-1.5"), (0.1, "0.1"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"),
            (0.000001, "0.000001"), (123456.789, "123456.789"), (-0.0, "-0"), (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        ]
        for (d, s) in cases { #expect(DagJSON.formatFloat(d) == s, "\(d)") }
    }

    @Test func decodesLinksBytesAndPlainJSON() throws {
        let link = Array("{\"/\":\"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\"}".utf8)
        #expect(try DagJSON.decode(link) == .link(try CID("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")))
        // Plain json keeps the map.
        #expect(try DagJSON.decode(link, links: false) == .map(["/": .string("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")]))
        #expect(try DagJSON.decode(Array(" { \"/\" : { \"bytes\" : \"AQID\" } } ".utf8)) == .bytes([1, 2, 3]))
        // A "/" map with more keys is an ordinary map.
        #expect(try DagJSON.decode(Array("{\"/\":1,\"x\":2}".utf8)) == .map(["/": .int(1), "x": .int(2)]))
        #expect(try DagJSON.decode(Array("\"\\ud83d\\ude00\\u00e9\\/\"".utf8)) == .string("😀é/"))
        #expect(try DagJSON.decode(Array("-9223372036854775808".utf8)) == .int(Int64.min))
        #expect(try DagJSON.decode(Array("1E2".utf8)) == .float(100))
    }

    @Test func refusesMalformedInput() {
        let bad = [
            "", "{", "[1,]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "01", "-", "1.", "1e", "+1", "nul", "tru", "\"abc", "\"\\x\"",
            "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{1}b\"", "{\"a\":1,\"a\":2}", "9223372036854775808", "1e999", "[]x", "{\"/\":\"notacid\"}",
            "{\"/\":{\"bytes\":\"AQID=\"}}", "{\"/\":{\"bytes\":\"!!\"}}",
        ]
        for text in bad {
            #expect(throws: UnixFSError.self, "\(text.debugDescription)") { try DagJSON.decode(Array(text.utf8)) }
        }
        #expect(throws: UnixFSError.self) { try DagJSON.decode([0x22, 0xff, 0x22]) }  // not UTF-8
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: UnixFSError.self) { try DagJSON.decode(Array(deep.utf8)) }
        #expect(throws: UnixFSError.self) { try DagJSON.decode([UInt8](repeating: 0x20, count: DagJSON.maxBytes + 1)) }
        // Truncated at every byte of a valid document: never a crash, always a typed error.
        let doc = Array("{\"a\":[1,2.5,{\"/\":{\"bytes\":\"aGk\"}}],\"b\":\"x\\u00e9\"}".utf8)
        for n in 0..<doc.count { #expect(throws: UnixFSError.self) { try DagJSON.decode(Array(doc[..<n])) } }
    }
}
