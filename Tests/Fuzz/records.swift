func fuzzRecords(_ bytes: [UInt8]) {
    let key = SecureBytes([UInt8](repeating: 7, count: 32))
    var opener = try! RecordOpener(cipher: .chacha20Poly1305, key: key)
    // Split at a data-dependent point to exercise incremental framing.
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    opener.feed(Array(bytes[..<split]))
    while (try? opener.next()) != nil {}
    opener.feed(Array(bytes[split...]))
    while (try? opener.next()) != nil {}
    // A sealed record with fuzzed payload always opens to the same payload.
    var sealer = try! RecordSealer(cipher: .chacha20Poly1305, key: key)
    var check = try! RecordOpener(cipher: .chacha20Poly1305, key: key)
    let payload = Array(bytes.prefix(RecordLayer.maxPlaintext))
    check.feed(sealer.seal(payload, compressible: true))
    fuzzCheck((try? check.next()) == payload, "record round trip")
}
