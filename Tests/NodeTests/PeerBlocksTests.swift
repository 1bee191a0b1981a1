import ClusterTestKit
import Foundation
import Multiformats
import Node
import Testing
import Transport

/// `ipfs/block` between peers: the wire format against `Specs/vectors/cluster-rpc.json`,
/// malformed input, the size limit, and a chunked fetch over the real transport.
@Suite struct PeerBlocksTests {
    struct Vectors: Decodable {
        struct Small: Decodable { let block_hex: String; let cid: String; let request_offset0_hex: String; let answer_hex: String }
        struct Chunked: Decodable { let block_sha256: String; let cid: String; let request_offset_65000_hex: String; let answer_prefix_hex: String }
        let small: Small
        let absent_answer_hex: String
        let chunked: Chunked
    }

    static let bigBlock: [UInt8] = (0..<400).flatMap { _ in (0...255).map { UInt8($0) } }

    @Test func knownAnswers() throws {
        let v = try ClusterTestKit.Vectors.json("cluster-rpc.json", as: Vectors.self)
        let cid = try CID(v.small.cid)
        let block = Hex.bytes(v.small.block_hex)
        #expect(PeerBlocks.request(cid, offset: 0) == Hex.bytes(v.small.request_offset0_hex))
        #expect(try PeerBlocks.answer(block, offset: 0) == Hex.bytes(v.small.answer_hex))
        #expect(try PeerBlocks.answer(nil, offset: 0) == Hex.bytes(v.absent_answer_hex))
        let parsed = try #require(try PeerBlocks.parseAnswer(Hex.bytes(v.small.answer_hex)))
        #expect(parsed.size == block.count && Array(parsed.chunk) == block)
        #expect(try PeerBlocks.parseAnswer([0]) == nil)
        let big = try CID(v.chunked.cid)
        #expect(cid.multihash.verifies(block) == true && big.multihash.verifies(Self.bigBlock) == true)
        #expect(PeerBlocks.request(big, offset: 65_000) == Hex.bytes(v.chunked.request_offset_65000_hex))
        let (c, offset) = try PeerBlocks.parseRequest(Hex.bytes(v.chunked.request_offset_65000_hex))
        #expect(c == big && offset == 65_000)
        let first = try PeerBlocks.answer(Self.bigBlock, offset: 0)
        #expect(Array(first.prefix(5)) == Hex.bytes(v.chunked.answer_prefix_hex))
        // One answer fits one RPC frame.
        #expect(first.count <= RPCFrame.maxPayload)
    }

    @Test func malformedRequestsAndAnswersAreRefused() throws {
        let cid = CID.v1(codec: .raw, .sha256([1, 2, 3]))
        for bad: [UInt8] in [[], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], PeerBlocks.request(cid, offset: PeerBlocks.maxBlockBytes + 1)] {
            #expect(throws: TransportError.self) { try PeerBlocks.parseRequest(bad) }
        }
        #expect(throws: TransportError.self) { try PeerBlocks.answer([1, 2, 3], offset: 4) }
        let oversized = [UInt8(1)] + withUnsafeBytes(of: UInt32(PeerBlocks.maxBlockBytes + 1).bigEndian) { Array($0) }
        for bad: [UInt8] in [[], [2], [0, 0], [1, 0, 0], oversized, [1, 0, 0, 0, 1, 7, 7]] {
            #expect(throws: TransportError.self) { try PeerBlocks.parseAnswer(bad) }
        }
    }

    @Test func theSizeLimitIsServedAndOneByteMoreIsNot() throws {
        let atLimit = [UInt8](repeating: 9, count: PeerBlocks.maxBlockBytes)
        let answer = try PeerBlocks.answer(atLimit, offset: PeerBlocks.maxBlockBytes - 10)
        let parsed = try #require(try PeerBlocks.parseAnswer(answer))
        #expect(parsed.size == PeerBlocks.maxBlockBytes && parsed.chunk.count == 10)
        #expect(try PeerBlocks.answer(atLimit + [9], offset: 0) == [0])
    }

    @Test func aBlockTravelsInChunksAndIsCheckedAgainstItsCID() async throws {
        let peers = try await PubSubServiceTests.cluster(2)
        defer { Task { await PubSubServiceTests.shutdown(peers) } }
        let block = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let cid = CID.v1(codec: .raw, .sha256(block))
        let liar = CID.v1(codec: .raw, .sha256([42]))
        PeerBlocks.serve(on: peers[1].transport.server) { c in c == cid || c == liar ? block : nil }
        let connection = try #require(peers[0].transport.connection(to: peers[1].transport.localPeer))
        #expect(try await PeerBlocks.fetch(cid, from: connection) == block)
        #expect(try await PeerBlocks.fetch(CID.v1(codec: .raw, .sha256([7])), from: connection) == nil)
        // Bytes that do not hash to the CID are refused.
        await #expect(throws: TransportError.self) { _ = try await PeerBlocks.fetch(liar, from: connection) }
        // The fetcher asks connected peers and returns the first good answer.
        let fetcher = PeerBlockFetcher(transport: peers[0].transport)
        #expect(try await fetcher.fetch(cid) == block)
    }
}
