// Shared by every fuzz target: compiled together with the Multiformats sources into one
// libFuzzer binary (not a SwiftPM target); PINMESH_FUZZ_TARGET picks the target. A failed
// oracle traps, which libFuzzer reports as a crash with its input.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func fuzzCheck(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { fatalError("fuzz oracle failed: \(what())") }
}

let fuzzTargets: [String: ([UInt8]) -> Void] = [
    "varint": fuzzVarint, "multihash": fuzzMultihash, "multibase": fuzzMultibase,
    "cid": fuzzCID, "multiaddr": fuzzMultiaddr, "peerid": fuzzPeerID,
    "dagpb": fuzzDagPB, "unixfsdata": fuzzUnixFSData, "dagcbor": fuzzDagCBOR, "dagjson": fuzzDagJSON, "car": fuzzCAR,
    "records": fuzzRecords, "handshake": fuzzHandshake, "datagram": fuzzDatagram, "datagrammessages": fuzzDatagramMessages, "pubsub": fuzzPubSub, "rpcframe": fuzzRPCFrame,
    "pinset": fuzzPinset, "snapshot": fuzzPinsetSnapshot, "rpcquery": fuzzRPCQuery, "bitswap": fuzzBitswap,
    "multistream": fuzzMultistream, "noisepayload": fuzzNoisePayload, "yamux": fuzzYamux, "identify": fuzzIdentify, "dht": fuzzDHT, "psarequest": fuzzPSARequest,
    "gateway": fuzzGateway, "routingv1": fuzzRoutingV1,
    "proxylines": fuzzProxyLines,
]

nonisolated(unsafe) let selectedFuzzTarget: ([UInt8]) -> Void = {
    let name = getenv("PINMESH_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = fuzzTargets[name] else {
        fatalError("set PINMESH_FUZZ_TARGET to one of: \(fuzzTargets.keys.sorted().joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = (start != nil && count > 0) ? Array(UnsafeRawBufferPointer(start: start, count: count)) : []
    selectedFuzzTarget(bytes)
    return 0
}
