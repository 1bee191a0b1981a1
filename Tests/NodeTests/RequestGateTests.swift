import Node
import Testing

/// The gate `ClusterPeer.stop()` closes before anything else: requests after it are refused,
/// and the stop waits for those admitted before it, within its bound.
@Suite struct RequestGateTests {
    @Test("a closed gate refuses requests and stays closed; a drain waits for the admitted request to leave")
    func drainWaitsForAdmittedRequests() async {
        let gate = RequestGate()
        #expect(gate.enter())
        gate.close()
        #expect(!gate.enter())
        #expect(gate.running == 1)
        async let drained = gate.drained(within: .seconds(20))
        gate.leave()
        #expect(await drained)
        #expect(gate.running == 0 && !gate.enter())
    }

    @Test("a drain gives up at its bound when an admitted request never leaves")
    func drainIsBounded() async {
        let gate = RequestGate()
        #expect(gate.enter())
        gate.close()
        #expect(await gate.drained(within: .milliseconds(50)) == false)
        #expect(await RequestGate().drained(within: .zero))
    }
}
