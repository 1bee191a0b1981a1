import Testing

@testable import RESTAPI

/// The buffer between a stream's producer and its connection: backpressure at the limit,
/// batches of at most `maxChunk`, the error after the lines, a producer stopped when the
/// reader is gone.
@Suite struct LineBufferTests {
    struct Boom: Error {}

    @Test func batchesUpToTheChunkAndWaitsAtTheLimit() async throws {
        let b = LineBuffer(limit: 10)
        try await b.append([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])  // exactly at the limit: accepted
        // The next append waits until the reader takes something.
        let appended = Task { try await b.append([11]) }
        #expect(try await b.take() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        try await appended.value
        #expect(try await b.take() == [11])
        // More than maxChunk waiting: taken maxChunk at a time, in order.
        let big = LineBuffer(limit: 3 * LineBuffer.maxChunk)
        let bytes = (0..<(LineBuffer.maxChunk + 5)).map { UInt8(truncatingIfNeeded: $0) }
        try await big.append(bytes)
        let first = try await big.take()
        #expect(first?.count == LineBuffer.maxChunk)
        let rest = try await big.take()
        #expect((first ?? []) + (rest ?? []) == bytes)
    }

    @Test func theErrorComesAfterTheLinesAndTheEndIsNil() async throws {
        let b = LineBuffer()
        try await b.append([1])
        b.finish(Boom())
        #expect(try await b.take() == [1])
        await #expect(throws: Boom.self) { _ = try await b.take() }
        let c = LineBuffer()
        c.finish()
        #expect(try await c.take() == nil)
    }

    @Test func aFinishedBufferStopsItsProducer() async throws {
        let b = LineBuffer(limit: 4)
        try await b.append([1, 2, 3, 4])
        let waiting = Task { try await b.append([5]) }  // blocked at the limit
        b.finish()  // the reader went away
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await #expect(throws: CancellationError.self) { try await b.append([6]) }
    }
}
