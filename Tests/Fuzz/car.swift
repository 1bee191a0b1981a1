func fuzzCAR(_ bytes: [UInt8]) {
    // Verification is the hash functions' job (tested elsewhere); here every block "verifies",
    // so the framing and header paths are what gets explored.
    var reader = CARReader { _, _ in true }
    // Feed in two pieces at a data-dependent split, to exercise incremental reading.
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    reader.feed(Array(bytes[..<split]))
    var blocks: [Block] = []
    while let b = try? reader.next() { blocks.append(b) }
    reader.feed(Array(bytes[split...]))
    while let b = try? reader.next() { blocks.append(b) }
    if (try? reader.finish()) != nil, let roots = reader.roots {
        var rebuilt = CAR.header(roots: roots)
        for b in blocks { rebuilt += CAR.section(b) }
        fuzzCheck(rebuilt == bytes, "a CAR that reads cleanly re-encodes to the same bytes")
    }
}
