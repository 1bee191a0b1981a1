@testable import EmbeddedIPFS
import Foundation
import Testing

/// The streaming multipart parser: the same parts whatever the chunking, and clear errors.
@Suite struct MultipartTests {
    final class Recorder: PartSink {
        var events: [String] = []
        var current: [UInt8] = []
        func begin(_ headers: PartHeaders) throws {
            events.append("begin \(headers.fileName) \(headers.contentType)")
            current = []
        }
        func data(_ bytes: UnsafeRawBufferPointer) throws { current += bytes }
        func end() throws { events.append("end \(current.count) \(current.hashValue)") }
    }

    static func parse(_ body: [UInt8], boundary: String = "b0und", chunks: [Int]) throws -> [String] {
        var p = MultipartStreamParser(boundary: boundary)
        let r = Recorder()
        var at = 0
        var k = 0
        while at < body.count {
            let n = min(max(1, chunks[k % chunks.count]), body.count - at)
            try body[at..<(at + n)].withUnsafeBytes { try p.feed($0, r) }
            at += n
            k += 1
        }
        try p.finish()
        return r.events
    }

    static func body(_ parts: [(String, [UInt8])], boundary: String = "b0und", preamble: String = "") -> [UInt8] {
        var out = Array(preamble.utf8)
        for (name, bytes) in parts {
            out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            out += bytes
            out += Array("\r\n".utf8)
        }
        return out + Array("--\(boundary)--\r\n".utf8)
    }

    @Test func sameEventsForEveryChunking() throws {
        // Bodies full of near-delimiters: CRs, "\r\n--", "\r\n--b0un".
        var tricky: [UInt8] = []
        for i in 0..<3000 { tricky += Array(["\r", "\r\n", "\r\n-", "\r\n--", "\r\n--b0un", "x", "--b0und"][i % 7].utf8) }
        let b = Self.body([("a", tricky), ("empty", []), ("c", Array("\r\n--b0unc".utf8))], preamble: "ignored preamble\r\n")
        let whole = try Self.parse(b, chunks: [b.count])
        #expect(whole.count == 6)
        #expect(whole[0] == "begin a application/octet-stream")
        #expect(try Self.parse(b, chunks: [1]) == whole)
        var g = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let sizes = (0..<8).map { _ in Int.random(in: 1...200, using: &g) }
            #expect(try Self.parse(b, chunks: sizes) == whole)
        }
    }

    @Test func errorsSayWhatIsWrong() throws {
        let good = Self.body([("a", [1, 2, 3])])
        // Cut inside the body, before the closing delimiter, inside headers.
        for cut in [good.count - 3, good.count - 12, 40] {
            #expect(throws: KuboError.self) { _ = try Self.parse(Array(good.prefix(cut)), chunks: [7]) }
        }
        // A delimiter followed by neither CRLF nor "--".
        #expect(throws: KuboError.self) { _ = try Self.parse(Array("--b0undXX\r\n".utf8), chunks: [100]) }
        // A header line without a colon.
        #expect(throws: KuboError.self) { _ = try Self.parse(Array("--b0und\r\nnot a header\r\n\r\nx\r\n--b0und--".utf8), chunks: [100]) }
        // Headers at the limit pass; one byte over fails.
        func withHeader(_ n: Int) -> [UInt8] {
            let pad = String(repeating: "v", count: n)
            return Array("--b0und\r\nX-Pad: \(pad)\r\n\r\nbody\r\n--b0und--".utf8)
        }
        let name = "X-Pad: ".utf8.count  // the header block is "X-Pad: " and the padding
        for chunk in [64, 100_000] {
            _ = try Self.parse(withHeader(MultipartStreamParser.maxHeaderBytes - name), chunks: [chunk])
            #expect(throws: KuboError.self) { _ = try Self.parse(withHeader(MultipartStreamParser.maxHeaderBytes - name + 1), chunks: [chunk]) }
        }
        // Whitespace before the CRLF after a boundary is allowed (RFC 2046).
        #expect(try Self.parse(Array("--b0und  \r\n\r\nx\r\n--b0und--".utf8), chunks: [3]).count == 2)
    }
}
