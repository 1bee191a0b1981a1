import ClusterTestKit
import Multiformats
import Sodium
import Testing
@testable import SecureChannel
@testable import Transport

struct TransportVectors: Decodable {
    struct Frame: Decodable {
        let kind: String
        let id: UInt64?
        let method: String?
        let payload_hex: String?
        let reason: String?
        let increment: UInt64?
        let frames: [Frame]?
        let hex: String?
    }
    struct Record: Decodable { let counter: UInt64; let plaintext_hex, record_hex: String }
    struct Records: Decodable { let cipher, key_hex: String; let rekey_interval: UInt64; let records: [Record] }
    struct Sealed: Decodable { let counter: UInt64; let datagram_hex: String }
    struct Datagram: Decodable {
        let handshake_hash_hex, initiator_key_hex, responder_key_hex, receiver_id_hex, plaintext_hex: String
        let messages_hex: [String]
        let sealed_by_initiator: [Sealed]
    }
    let frames: [Frame]
    let records: [Records]
    let datagram: Datagram
}

/// Known answers from an independent encoder (Specs/vectors/transport.json).
@Suite struct TransportVectorTests {
    let v: TransportVectors = try! Vectors.json("transport.json")

    static func frame(_ f: TransportVectors.Frame) -> RPCFrame {
        let payload = Hex.bytes(f.payload_hex ?? "")
        switch f.kind {
        case "request": return .request(id: f.id!, method: f.method!, payload: payload)
        case "response": return .response(id: f.id!, payload: payload)
        case "error": return .error(id: f.id!, message: f.reason!)
        case "message": return .message(method: f.method!, payload: payload)
        case "open": return .open(stream: f.id!, method: f.method!, payload: payload)
        case "data": return .data(stream: f.id!, payload: payload)
        case "window": return .window(stream: f.id!, increment: f.increment!)
        case "close": return .close(stream: f.id!)
        case "reset": return .reset(stream: f.id!, reason: f.reason!)
        case "batch": return .batch(f.frames!.map(frame))
        default: fatalError("unknown frame kind \(f.kind) in the vectors")
        }
    }

    @Test func everyFrameKindEncodesAndDecodesToTheKnownBytes() throws {
        #expect(v.frames.count == 10)
        for f in v.frames {
            let frame = Self.frame(f)
            #expect(Hex.string(frame.encoded()) == f.hex, "\(f.kind)")
            #expect(frame.encodedSize == frame.encoded().count, "\(f.kind)")
            #expect(try RPCFrame(decoding: Hex.bytes(f.hex!)) == frame, "\(f.kind)")
        }
    }

    @Test func recordsMatchAcrossARekeyUnderBothCiphers() throws {
        for set in v.records {
            let cipher: RecordCipher = set.cipher == "aes-256-gcm" ? .aes256GCM : .chacha20Poly1305
            if cipher == .aes256GCM && !AEAD.isAES256GCMAvailable { continue }
            let key = SecureBytes(Hex.bytes(set.key_hex))
            var sealer = try RecordSealer(cipher: cipher, key: key, rekeyInterval: set.rekey_interval)
            var opener = try RecordOpener(cipher: cipher, key: key, rekeyInterval: set.rekey_interval)
            for r in set.records {
                #expect(sealer.counter == r.counter)
                let record = sealer.seal(Hex.bytes(r.plaintext_hex))
                #expect(Hex.string(record) == r.record_hex, "\(set.cipher) record \(r.counter)")
                opener.feed(Hex.bytes(r.record_hex))
                #expect(try opener.next() == Hex.bytes(r.plaintext_hex))
            }
        }
    }

    @Test func datagramsCarryPackedMessages() throws {
        let d = v.datagram
        let messages = d.messages_hex.map(Hex.bytes)
        #expect(DatagramMessages.pack(messages) == [Hex.bytes(d.plaintext_hex)])
        #expect(try DatagramMessages.split(Hex.bytes(d.plaintext_hex)) == messages)
        let hash = Hex.bytes(d.handshake_hash_hex)
        let keys = DatagramKeys(handshakeHash: hash, isInitiator: true)
        #expect(keys.send.withUnsafeBytes { Hex.string(Array($0)) } == d.initiator_key_hex)
        #expect(keys.receive.withUnsafeBytes { Hex.string(Array($0)) } == d.responder_key_hex)
        let id = Hex.bytes(d.receiver_id_hex)
        func session(initiator: Bool) throws -> SecureSession {
            let key = SecureBytes([UInt8](repeating: 0, count: 32))
            return SecureSession(
                peer: try PeerID(ed25519PublicKey: [UInt8](repeating: 1, count: 32)), isInitiator: initiator,
                cipher: .chacha20Poly1305, sendKey: key, receiveKey: key, handshakeHash: hash,
                localDatagramID: initiator ? [UInt8](repeating: 9, count: 8) : id,
                remoteDatagramID: initiator ? id : [UInt8](repeating: 9, count: 8),
                datagramKeys: DatagramKeys(handshakeHash: hash, isInitiator: initiator))
        }
        var sealer = DatagramSealer(session: try session(initiator: true))
        var opener = DatagramOpener(session: try session(initiator: false))
        let plaintexts = [Hex.bytes(d.plaintext_hex), []]
        for (sealed, plaintext) in zip(d.sealed_by_initiator, plaintexts) {
            #expect(Hex.string(try sealer.seal(plaintext)) == sealed.datagram_hex, "datagram \(sealed.counter)")
            #expect(try opener.open(Hex.bytes(sealed.datagram_hex)) == plaintext)
        }
    }

    @Test func malformedDatagramMessagesAreRefused() throws {
        let bad: [(String, [UInt8])] = [
            ("a length cut short", [0]),
            ("a zero length", [0, 0]),
            ("a length past the end", [0, 3, 1, 2]),
            ("a good message then a bad one", [0, 1, 7, 0, 9]),
        ]
        for (what, bytes) in bad {
            #expect(throws: SecureChannelError.self, "\(what)") { try DatagramMessages.split(bytes) }
        }
        #expect(try DatagramMessages.split([]) == [])
        // At the limit: one message filling the datagram; one more byte does not fit.
        let full = [UInt8](repeating: 1, count: DatagramMessages.maxMessage)
        #expect(DatagramMessages.pack([full]).map(\.count) == [DatagramLayer.maxPayload])
        #expect(DatagramMessages.pack([full, [2]]).count == 2)
    }
}
