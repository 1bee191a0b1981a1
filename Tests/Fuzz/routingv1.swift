func fuzzRoutingV1(_ bytes: [UInt8]) {
    let limits = RoutingV1.Limits(maxBodyBytes: 4096, maxProviders: 8, maxAddresses: 4, maxProtocols: 3, maxStringBytes: 128)
    // The first byte picks the form; both must reject or read within the limits.
    let body = Array(bytes.dropFirst())
    let read: RoutingV1.Decoded? = (bytes.first ?? 0) & 1 == 0
        ? try? RoutingV1.decodeJSON(body, limits: limits) : try? RoutingV1.decodeNDJSON(body, limits: limits)
    guard let decoded = read else { return }
    fuzzCheck(decoded.providers.count <= limits.maxProviders, "more providers than the limit")
    fuzzCheck(Set(decoded.providers.map(\.id)).count == decoded.providers.count, "a peer twice")
    for p in decoded.providers {
        fuzzCheck(p.addrs.count <= limits.maxAddresses && p.protocols.count <= limits.maxProtocols, "a record over its limits")
        fuzzCheck(p.addrs.allSatisfy { !$0.isEmpty && $0.utf8.count <= limits.maxStringBytes }, "an address over the string limit")
        fuzzCheck(p.protocols.allSatisfy { !$0.isEmpty && $0.utf8.count <= RoutingV1.maxProtocolBytes }, "a protocol over 63 bytes")
    }
    // What was read is written and read back the same, in both forms, with and without the
    // legacy records (which merge into the same providers).
    let roomy = RoutingV1.Limits(maxBodyBytes: 1 << 20, maxProviders: 8, maxAddresses: 4, maxProtocols: 3, maxStringBytes: 128)
    for legacy in [false, true] {
        fuzzCheck((try? RoutingV1.decodeJSON(RoutingV1.json(decoded.providers, legacy: legacy), limits: roomy))?.providers == decoded.providers, "JSON does not round-trip")
        let lines = decoded.providers.flatMap { RoutingV1.ndjsonLines($0, legacy: legacy) }
        fuzzCheck((try? RoutingV1.decodeNDJSON(lines, limits: roomy))?.providers == decoded.providers, "NDJSON does not round-trip")
    }
}
