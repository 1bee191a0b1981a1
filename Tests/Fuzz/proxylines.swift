/// The IPFS proxy's NDJSON line splitter: never crashes, never holds or returns a line over
/// its limit, and gives the same lines whatever the chunking (the first byte picks the chunk
/// size; the limit is small so that long lines are reached).
func fuzzProxyLines(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let input = Array(bytes.dropFirst())
    let step = Int(first % 17) + 1
    var whole = ProxyLineSplitter(limit: 64)
    let once = whole.feed(input).map { $0 + [whole.finish()].compactMap { $0 } }
    var chunked = ProxyLineSplitter(limit: 64)
    var lines: [[UInt8]]? = []
    var i = 0
    while i < input.count, lines != nil {
        let end = min(i + step, input.count)
        if let more = chunked.feed(input[i..<end]) { lines! += more } else { lines = nil }
        fuzzCheck(chunked.pending.count <= 64, "the splitter holds more than its limit")
        i = end
    }
    if lines != nil, let last = chunked.finish() { lines!.append(last) }
    fuzzCheck(once == lines, "the lines depend on how the answer was chunked")
    for line in once ?? [] {
        fuzzCheck(line.count <= 64 && !line.contains(0x0A), "a line is over the limit or holds a newline")
    }
}
