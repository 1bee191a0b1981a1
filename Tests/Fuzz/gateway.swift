/// The gateway's request parsers: any bytes as a path, a Range header, entity-bytes, an Accept
/// header and sniffed content. A parsed path must print as a content path that parses back to
/// the same CID and names (when the escaped form fits the path limit); a resolved range must
/// lie inside the content.
func fuzzGateway(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    // The escaped form may be longer than the limit the request was held to (every non-ASCII
    // byte becomes three): only paths whose escaped form fits must parse back.
    if let p = try? GatewayPath.parse(text), p.contentPath.utf8.count <= GatewayPath.maxPathBytes {
        let back = try? GatewayPath.parse(p.contentPath)
        fuzzCheck(back?.cid == p.cid && back?.names == p.names, "content path \(p.contentPath) does not parse back")
    }
    let size = UInt64(bytes.first ?? 0) * 1000 + UInt64(bytes.last ?? 0)
    switch GatewayRange.resolve(text, size: size) {
    case .partial(let a, let b): fuzzCheck(a <= b && b < size, "range \(a)-\(b) outside \(size) bytes")
    case .whole, .unsatisfiable: break
    }
    if let eb = try? GatewayEntityBytes.parse(text), let r = eb.resolve(size: size) {
        fuzzCheck(!r.isEmpty && r.upperBound <= size, "entity-bytes \(r) outside \(size) bytes")
    }
    _ = try? GatewayFormat.negotiate(format: nil, accept: text)
    _ = try? GatewayFormat.negotiate(format: text, accept: nil, carVersion: text, carOrder: text, carDups: text)
    _ = try? GatewayDAGScope.parse(text)
    _ = GatewayContentType.sniff(bytes)
    _ = GatewayContentType.byName(text)
}
