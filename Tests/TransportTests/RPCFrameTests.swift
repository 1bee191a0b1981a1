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
            ("unknown kind", [5, 0]),
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
        // At the method limit it decodes.
        #expect((try? RPCFrame(decoding: [4, 0, 64] + [UInt8](repeating: 0x61, count: 64))) != nil)
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
