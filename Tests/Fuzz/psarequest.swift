/// Pin requests read back from a pin's metadata (`PSARequest.decodeAll`) and creation times
/// (`PSACreated.parse`): decoding never crashes; every request that decodes re-encodes to
/// exactly the entries it came from; every request key is either decoded or reported broken;
/// a parsed time formats and parses back to itself.
func fuzzPSARequest(_ bytes: [UInt8]) {
    // Lines of `key<TAB>value`: the metadata of one pin.
    let text = String(decoding: bytes, as: UTF8.self)
    var metadata: [String: String] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
        metadata[String(parts[0])] = parts.count == 2 ? String(parts[1]) : ""
    }
    let (requests, broken) = PSARequest.decodeAll(metadata, cid: fuzzPinsetKey)
    for r in requests {
        for (k, v) in r.entries() { fuzzCheck(metadata[k] == v, "a decoded request does not re-encode to its entries") }
    }
    let ids = Set(requests.map(\.requestID)).union(broken)
    for k in metadata.keys where k.hasPrefix(PSARequest.keyPrefix) {
        let id = k.dropFirst(PSARequest.keyPrefix.count).split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        fuzzCheck(ids.contains(String(id)), "a request key is neither decoded nor reported broken")
    }
    if let nanos = PSACreated.parse(text) {
        fuzzCheck(PSACreated.parse(PSACreated.format(nanos)) == nanos, "a creation time does not format back to itself")
    }
}
