import Testing

@testable import IPFSProxy

/// The NDJSON line splitter the proxy pins `block/put` and `dag/put` answers from.
@Suite struct ProxyLineSplitterTests {
    static let answer = Array("{\"Key\":\"a\"}\r\n\n  \n{\"Key\":\"b\"}\n{\"Key\":\"c\"}".utf8)

    static func lines(_ bytes: [UInt8], chunk: Int, limit: Int = 64) -> [[UInt8]]? {
        var s = ProxyLineSplitter(limit: limit)
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard let more = s.feed(bytes[i..<min(i + chunk, bytes.count)]) else { return nil }
            out += more
            i += chunk
        }
        if let last = s.finish() { out.append(last) }
        return out
    }

    @Test("lines come out the same for every chunking, without CRs, blank lines or newlines")
    func everyChunking() {
        let expected = ["{\"Key\":\"a\"}", "{\"Key\":\"b\"}", "{\"Key\":\"c\"}"].map { Array($0.utf8) }
        for chunk in 1...Self.answer.count { #expect(Self.lines(Self.answer, chunk: chunk) == expected, "chunks of \(chunk)") }
    }

    @Test("an answer cut at any point gives the complete lines before the cut and the rest as a last line")
    func everyPrefix() {
        for cut in 0...Self.answer.count {
            let prefix = Array(Self.answer[..<cut])
            let got = Self.lines(prefix, chunk: 5) ?? []
            let want = prefix.split(separator: 0x0A).map { $0.last == 0x0D ? Array($0.dropLast()) : Array($0) }
                .filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 } }
            #expect(got == want, "cut at \(cut)")
        }
    }

    @Test("a line of exactly the limit passes and one byte more is refused, complete or not")
    func limit() {
        let atLimit = [UInt8](repeating: 0x61, count: 64)
        #expect(Self.lines(atLimit + [0x0A], chunk: 7) == [atLimit])
        #expect(Self.lines(atLimit, chunk: 64) == [atLimit])
        #expect(Self.lines(atLimit + [0x61, 0x0A], chunk: 7) == nil)
        var s = ProxyLineSplitter(limit: 64)
        #expect(s.feed(atLimit) == [])
        #expect(s.feed([0x61]) == nil)
        #expect(ProxyLineSplitter.defaultLimit == 1 << 20)
    }
}
