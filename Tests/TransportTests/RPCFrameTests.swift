import Multiformats
import Testing
@testable import Transport

@Suite struct RPCFrameTests {
    @Test func knownEncodings() throws {
        let cases: [(RPCFrame, [UInt8])] = [
            (.request(id: 1, method: "ab", payload: [9]), [1, 1, 2, 0x61, 0x62, 9]),
            (.response(id: 300, payload: [7, 8]), [2, 0xac, 0x02, 7, 8]),
            (.error(id: 2, message: "no"), [3, 2, 0x6e, 0x6f]),
            (.message(method: "p", payload: []), [4, 0, 1, 0x70]),
        ]
        for (frame, bytes) in cases {
            #expect(frame.encoded() == bytes)
            #expect(try RPCFrame(decoding: bytes) == frame)
        }
    }

    @Test func malformedFramesAreTypedErrors() {
        let bad: [(String, [UInt8])] = [
            ("empty", []),
            ("unknown kind", [11, 0]),
            ("kind 0", [0, 0]),
            ("stream open with id 0", [5, 0, 1, 0x61]),
            ("stream data with id 0", [6, 0, 1]),
            ("stream data without data", [6, 1]),
            ("window of 0", [7, 1, 0]),
            ("window past 1 GiB", [7, 1, 0x81, 0x80, 0x80, 0x80, 0x04]),
            ("bytes after a window", [7, 1, 1, 0]),
            ("window without increment", [7, 1]),
            ("bytes after a close", [8, 1, 0]),
            ("reset with id 0", [9, 0]),
            ("reason over 1,024 bytes", [9, 1] + [UInt8](repeating: 0x61, count: 1025)),
            ("empty batch", [10, 0]),
            ("batch with an id", [10, 1, 1, 8]),
            ("batch inside a batch", [10, 0, 5, 10, 0, 2, 8, 1]),
            ("batched frame of length 0", [10, 0, 0]),
            ("batched frame past the end", [10, 0, 5, 8, 1]),
            ("batched frame that is malformed", [10, 0, 2, 8, 0]),
            ("call id over 9 bytes", [2] + [UInt8](repeating: 0xff, count: 9) + [1]),
            ("call id not minimal", [2, 0x81, 0x00]),
            ("one-way with a call id", [4, 1, 1, 0x70]),
            ("request without method", [1, 1]),
            ("method of length 0", [1, 1, 0]),
            ("method past the end", [1, 1, 3, 0x61]),
            ("method not UTF-8", [4, 0, 1, 0xff]),
            ("method of 65 bytes", [1, 1, 65] + [UInt8](repeating: 0x61, count: 65)),
            ("truncated call id", [2, 0x80]),
        ]
        for (what, bytes) in bad {
            #expect(throws: TransportError.self, "\(what)") { try RPCFrame(decoding: bytes) }
        }
        // At the limits they decode.
        #expect((try? RPCFrame(decoding: [7, 1, 0x80, 0x80, 0x80, 0x80, 0x04])) == .window(stream: 1, increment: 1 << 30))
        #expect((try? RPCFrame(decoding: [9, 1] + [UInt8](repeating: 0x61, count: 1024))) != nil)
        #expect((try? RPCFrame(decoding: [2] + [UInt8](repeating: 0xff, count: 8) + [0x7f])) == .response(id: Varint.maxValue, payload: []))
        // At the method limit it decodes.
        #expect((try? RPCFrame(decoding: [4, 0, 64] + [UInt8](repeating: 0x61, count: 64))) != nil)
    }

    @Test func reasonsAreCutAtACharacterBoundary() throws {
        let reason = String(repeating: "a", count: 1023) + "é and more"
        let frame = RPCFrame.reset(stream: 1, reason: reason)
        #expect(frame.encoded().count == 2 + 1023)
        #expect(frame.encodedSize == frame.encoded().count)
        #expect(try RPCFrame(decoding: frame.encoded()) == .reset(stream: 1, reason: String(repeating: "a", count: 1023)))
        // Exactly 1,024 bytes are kept whole.
        let full = String(repeating: "b", count: 1022) + "é"
        #expect(try RPCFrame(decoding: RPCFrame.error(id: 3, message: full).encoded()) == .error(id: 3, message: full))
    }

    @Test func everyPrefixOfABatchDecodesOrFailsCleanly() throws {
        let batch = RPCFrame.batch([
            .message(method: "m", payload: [1, 2]), .data(stream: 3, payload: [9, 9, 9]), .window(stream: 300, increment: 70_000),
            .close(stream: 1), .reset(stream: 2, reason: "r"), .open(stream: 5, method: "s", payload: []),
        ])
        let bytes = batch.encoded()
        #expect(try RPCFrame(decoding: bytes) == batch)
        for n in 0..<bytes.count {
            // A batch cut short either fails or decodes to its first frames (the cut fell between frames).
            if case .batch(let frames)? = try? RPCFrame(decoding: Array(bytes[..<n])) {
                guard case .batch(let all) = batch else { return }
                #expect(Array(all.prefix(frames.count)) == frames, "prefix \(n)")
            }
        }
    }

    @Test func everyPrefixDecodesOrFailsCleanly() {
        let frame = RPCFrame.request(id: 123_456, method: "pinmesh/pubsub", payload: [1, 2, 3]).encoded()
        for n in 0...frame.count {
            if let decoded = try? RPCFrame(decoding: Array(frame[..<n])), n < frame.count {
                // A shorter prefix can only be a request with a shorter payload.
                guard case .request(123_456, "pinmesh/pubsub", let payload) = decoded else {
                    Issue.record("prefix \(n) decoded to \(decoded)")
                    continue
                }
                #expect(payload.count < 3)
            }
        }
    }
}
