import Bitswap
import ClusterTestKit
import Foundation
import Multiformats
import Testing

struct BitswapVectorFile: Decodable {
    struct Entry: Decodable { let cid: String; let priority: Int32; let cancel: Bool; let wantType: UInt64; let sendDontHave: Bool }
    struct Wantlist: Decodable { let full: Bool; let entries: [Entry] }
    struct Block: Decodable { let data: String; let cid: String }
    struct Payload: Decodable { let prefix: String; let data: String; let cid: String }
    struct Presence: Decodable { let cid: String; let type: UInt64 }
    struct Message: Decodable {
        let name, hex: String
        let wantlist: Wantlist?
        let blocks: [Block]
        let payload: [Payload]
        let blockPresences: [Presence]
        let pendingBytes: Int32
    }
    struct Malformed: Decodable { let name, hex, code: String }
    let messages: [Message]
    let malformed: [Malformed]
}

@Suite struct BitswapVectorTests {
    let file: BitswapVectorFile = try! Vectors.json("bitswap.json")

    /// The message the vector describes, built field by field from its JSON (not from its bytes).
    func expected(_ v: BitswapVectorFile.Message) throws -> BitswapMessage {
        let wantlist = try v.wantlist.map { w in
            BitswapWantlist(
                entries: try w.entries.map {
                    BitswapWantEntry(cid: try CID($0.cid), priority: $0.priority, cancel: $0.cancel,
                                     wantType: BitswapWantType(rawValue: $0.wantType)!, sendDontHave: $0.sendDontHave)
                }, full: w.full)
        }
        return BitswapMessage(
            wantlist: wantlist,
            blocks: v.blocks.map { Hex.bytes($0.data) },
            payload: try v.payload.map { BitswapPayloadBlock(prefix: try BitswapCIDPrefix(bytes: Hex.bytes($0.prefix)), data: Hex.bytes($0.data)) },
            blockPresences: try v.blockPresences.map { BitswapBlockPresence(cid: try CID($0.cid), type: BitswapPresenceType(rawValue: $0.type)!) },
            pendingBytes: v.pendingBytes)
    }

    @Test("every message the Python protobuf library encoded decodes to what its vector says")
    func decodesVectors() throws {
        #expect(file.messages.count >= 7)
        for v in file.messages {
            let decoded = try BitswapMessage(decoding: Hex.bytes(v.hex))
            #expect(decoded == (try expected(v)), "\(v.name)")
        }
    }

    @Test("every vector re-encodes byte for byte, both from the decoded and from the built message")
    func reencodesVectors() throws {
        for v in file.messages {
            #expect(Hex.string(try BitswapMessage(decoding: Hex.bytes(v.hex)).encoded()) == v.hex, "\(v.name)")
            #expect(Hex.string(try expected(v).encoded()) == v.hex, "\(v.name)")
        }
    }

    @Test("the blocks of the vectors hash to the CIDs hashlib computed")
    func hashesVectorBlocks() throws {
        for v in file.messages {
            let hashed = try BitswapMessage(decoding: Hex.bytes(v.hex)).hashedBlocks()
            let want = v.blocks.map(\.cid) + v.payload.map(\.cid)
            #expect(hashed.map { $0.cid?.description ?? "rejected" } == want, "\(v.name)")
        }
    }

    @Test("every malformed vector is refused with its error code")
    func refusesMalformedVectors() throws {
        #expect(file.malformed.count >= 8)
        for v in file.malformed {
            #expect(throws: BitswapError.self, "\(v.name)") { try BitswapMessage(decoding: Hex.bytes(v.hex)) }
            do {
                _ = try BitswapMessage(decoding: Hex.bytes(v.hex))
            } catch {
                #expect(error.code.name == v.code, "\(v.name): \(error.message)")
            }
        }
    }
}
