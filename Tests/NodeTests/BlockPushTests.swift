import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import NIOConcurrencyHelpers
import Node
import Testing
import Transport
import UnixFS

/// `ipfs/put` (blocks pushed to a peer during an add): the wire format against
/// `Specs/vectors/cluster-rpc.json`, malformed input, the limits, reassembly in any order,
/// tampering, and the sender's window and failure.
@Suite struct BlockPushTests {
    struct Vectors: Decodable {
        struct Put: Decodable {
            let small_request_hex: String
            let small_and_1000_x_request_sha256: String
            let small_and_1000_x_request_bytes: Int
            let chunked_first_header_hex: String
            let chunked_first_bytes: Int
            let chunked_second_header_hex: String
            let chunked_second_bytes: Int
        }
        let put: Put
    }

    static func raw(_ bytes: [UInt8]) -> Block { Block(cid: CID.v1(codec: .raw, .sha256(bytes)), bytes: bytes) }
    static let small = raw(Array("hello world\n".utf8))
    static let big = raw((0..<400).flatMap { _ in (0...255).map { UInt8($0) } })
    static let peer = try! PeerID("12D3KooWB3BxEsEbKEsK5NswCCaA1U4uwpErqebpzLGUZEX5XF1r")

    @Test func knownAnswers() throws {
        let v = try ClusterTestKit.Vectors.json("cluster-rpc.json", as: Vectors.self).put
        #expect(BlockPush.requests([Self.small]) == [Hex.bytes(v.small_request_hex)])
        let two = BlockPush.requests([Self.small, Self.raw([UInt8](repeating: 0x78, count: 1000))])
        #expect(two.count == 1 && two[0].count == v.small_and_1000_x_request_bytes)
        #expect(Hex.string(Multihash.sha256(two[0]).digest) == v.small_and_1000_x_request_sha256)
        let chunked = BlockPush.requests([Self.big])
        #expect(chunked.count == 2 && chunked.allSatisfy { $0.count <= RPCFrame.maxPayload })
        let h1 = Hex.bytes(v.chunked_first_header_hex), h2 = Hex.bytes(v.chunked_second_header_hex)
        #expect(Array(chunked[0].prefix(h1.count)) == h1 && chunked[0].count == h1.count + v.chunked_first_bytes)
        #expect(Array(chunked[1].prefix(h2.count)) == h2 && chunked[1].count == h2.count + v.chunked_second_bytes)
        let pieces = try BlockPush.parse(chunked[1])
        #expect(pieces.count == 1 && pieces[0].offset == v.chunked_first_bytes && pieces[0].size == Self.big.bytes.count)
    }

    @Test func piecesComeTogetherInAnyOrderAndEveryBlockIsChecked() throws {
        // Many blocks, large and small, cut into requests and taken in reverse order.
        let blocks = (0..<20).map { i in Self.raw([UInt8](repeating: UInt8(i), count: i % 3 == 0 ? 150_000 + i : 100 + i)) }
        let requests = BlockPush.requests(blocks)
        #expect(requests.allSatisfy { $0.count <= RPCFrame.maxPayload })
        let assembler = BlockPush.Assembler()
        var got: [Block] = []
        for r in requests.reversed() {
            for p in try BlockPush.parse(r) { if let b = try assembler.take(p, from: Self.peer) { got.append(b) } }
        }
        #expect(Set(got) == Set(blocks) && got.count == blocks.count && assembler.partialCount == 0)
        // An empty block travels too.
        let empty = Self.raw([])
        #expect(try BlockPush.parse(BlockPush.requests([empty])[0]).compactMap { try assembler.take($0, from: Self.peer) } == [empty])

        // Bytes that do not hash to the CID are refused, whole or in pieces.
        var tampered = BlockPush.requests([Self.small])[0]
        tampered[tampered.count - 1] ^= 1
        #expect(throws: TransportError.self) { try BlockPush.parse(tampered).forEach { _ = try assembler.take($0, from: Self.peer) } }
        var bigRequests = BlockPush.requests([Self.big])
        bigRequests[1][bigRequests[1].count - 1] ^= 1
        #expect(try BlockPush.parse(bigRequests[0]).compactMap { try assembler.take($0, from: Self.peer) }.isEmpty)
        #expect(throws: TransportError.self) { try BlockPush.parse(bigRequests[1]).forEach { _ = try assembler.take($0, from: Self.peer) } }
        // The same block twice at once (repeated content): every piece is taken once, the
        // block comes out once, and late duplicates start nothing.
        let twice = BlockPush.requests([Self.big])
        var outs: [Block] = []
        for r in [twice[0], twice[0], twice[1], twice[1]] {
            for p in try BlockPush.parse(r) { if let b = try assembler.take(p, from: Self.peer) { outs.append(b) } }
        }
        #expect(outs == [Self.big] && assembler.partialCount == 0)
        // A piece claiming a different size for the same block is refused.
        var other = try BlockPush.parse(twice[0])[0]
        _ = try BlockPush.Assembler().take(other, from: Self.peer)
        let fresh = BlockPush.Assembler()
        _ = try fresh.take(other, from: Self.peer)
        other.size += 1
        other.offset = 1
        #expect(throws: TransportError.self) { try fresh.take(other, from: Self.peer) }
    }

    @Test func malformedRequestsAreRefused() throws {
        let good = BlockPush.requests([Self.small])[0]
        let cid = Self.small.cid.bytes
        func piece(cidLength: Int = cid.count, size: Int, offset: Int, count: Int, bytes: Int) -> [UInt8] {
            Varint.encode(UInt64(cidLength)) + cid + Varint.encode(UInt64(size)) + Varint.encode(UInt64(offset)) + Varint.encode(UInt64(count))
                + [UInt8](repeating: 1, count: bytes)
        }
        let bad: [[UInt8]] = [
            Array(good.dropLast()),  // truncated bytes
            Array(good.prefix(10)),  // truncated CID
            [0x80],  // truncated varint
            piece(cidLength: 200, size: 1, offset: 0, count: 1, bytes: 1),  // CID length over the limit
            piece(size: BlockPush.maxBlockBytes + 1, offset: 0, count: 1, bytes: 1),  // block over the limit
            piece(size: 10, offset: 11, count: 0, bytes: 0),  // offset past the block
            piece(size: 10, offset: 5, count: 6, bytes: 6),  // piece past the block's end
            piece(size: 10, offset: 0, count: 0, bytes: 0),  // a piece with no bytes
            [UInt8](repeating: 0, count: RPCFrame.maxPayload + 1),  // over one frame
        ]
        for b in bad { #expect(throws: TransportError.self, "\(b.prefix(12))") { try BlockPush.parse(b) } }
        // At the limits: a block of exactly maxBlockBytes, and a request of exactly one frame.
        let atLimit = piece(size: BlockPush.maxBlockBytes, offset: BlockPush.maxBlockBytes - 1, count: 1, bytes: 1)
        #expect(try BlockPush.parse(atLimit).first?.size == BlockPush.maxBlockBytes)
        let full = BlockPush.requests([Self.raw([UInt8](repeating: 3, count: 200_000))])
        #expect(full[0].count == RPCFrame.maxPayload)
        #expect(try BlockPush.parse(full[0]).count == 1)
    }

    @Test func partialBlocksAreBoundedOldestDroppedFirst() throws {
        let assembler = BlockPush.Assembler(limit: 4)
        let blocks = (0..<6).map { i in Self.raw([UInt8](repeating: UInt8(i), count: 100_000)) }
        let firsts = try blocks.map { try BlockPush.parse(BlockPush.requests([$0])[0])[0] }
        for p in firsts { #expect(try assembler.take(p, from: Self.peer) == nil) }
        #expect(assembler.partialCount == 4)
        // Block 0 was dropped: its second piece starts a new partial; block 5 still completes.
        let last = try BlockPush.parse(BlockPush.requests([blocks[5]])[1])[0]
        #expect(try assembler.take(last, from: Self.peer) == blocks[5])
        #expect(assembler.partialBytes == 3 * 100_000)
        // The byte bound: at the limit two 100,000-byte partials fit; a third drops the oldest.
        let tight = BlockPush.Assembler(limit: 64, byteLimit: 200_000)
        for p in firsts.prefix(2) { _ = try tight.take(p, from: Self.peer) }
        #expect(tight.partialCount == 2 && tight.partialBytes == 200_000)
        _ = try tight.take(firsts[2], from: Self.peer)
        #expect(tight.partialCount == 2 && tight.partialBytes == 200_000)
    }

    /// What remembers recently sent or completed blocks: exactly the last `capacity` values.
    @Test func recentSetForgetsTheOldestAtItsCapacity() {
        var r = RecentSet<Int>(capacity: 3)
        let fresh = [r.insert(1), r.insert(2), r.insert(3), r.insert(2)]
        #expect(fresh == [true, true, true, false] && r.contains(1))
        let fourth = r.insert(4)  // forgets the first
        #expect(fourth && !r.contains(1) && r.contains(2) && r.contains(3) && r.contains(4))
        let again = r.insert(1)  // forgets the second
        #expect(again && !r.contains(2))
    }

    /// The sender keeps at most `window` calls in flight, packs small blocks, and reports a
    /// failed call from `put` or `finish`.
    @Test func theSenderHoldsItsWindowAndReportsFailure() async throws {
        struct Failure: Error {}
        let state = NIOLockedValueBox((inFlight: 0, most: 0, calls: 0, syncs: 0, open: false))
        let d = RemoteDestination(peer: Self.peer, window: 3) { payload in
            if payload.isEmpty {
                state.withLockedValue { $0.syncs += 1 }
                return
            }
            state.withLockedValue {
                $0.inFlight += 1
                $0.calls += 1
                $0.most = max($0.most, $0.inFlight)
            }
            // Generous bounds: on 2 cores the whole suite runs beside this test.
            _ = await LocalCluster.eventually(timeout: .seconds(600)) { state.withLockedValue { $0.open } }
            state.withLockedValue { $0.inFlight -= 1 }
        }
        let blocks = (0..<10).map { i in Self.raw([UInt8](repeating: UInt8(i), count: 100_000)) }
        let sender = Task { for b in blocks { try await d.put([b]) } }
        // Calls wait on the gate; the sender stalls once three are in flight.
        #expect(await LocalCluster.eventually(timeout: .seconds(600)) { state.withLockedValue { $0.inFlight == 3 } })
        #expect(state.withLockedValue { $0.calls } == 3)
        state.withLockedValue { $0.open = true }
        try await sender.value
        try await d.finish()
        #expect(state.withLockedValue { $0.most } == 3)
        #expect(state.withLockedValue { $0.syncs } == 1)

        let failing = RemoteDestination(peer: Self.peer, window: 2) { _ in throw Failure() }
        await #expect(throws: Failure.self) {
            for b in blocks { try await failing.put([b]) }
            try await failing.finish()
        }
    }
}
