func fuzzDagJSON(_ bytes: [UInt8]) {
    for links in [true, false] {
        guard let value = try? DagJSON.decode(bytes, links: links) else { continue }
        // What the encoder writes reads back; without floats (an integral float prints as an
        // integer, as Go's encoder does) as the same value, re-encoding identically.
        let text = DagJSON.encode(value)
        guard let again = try? DagJSON.decode(text, links: links) else {
            fuzzCheck(false, "dag-json encoding of a decoded value does not decode")
            return
        }
        if !dagJSONHasFloat(value) {
            if links { fuzzCheck(again == value, "dag-json value changes through encode and decode") }
            fuzzCheck(DagJSON.encode(again) == text, "dag-json encoding is not stable")
        }
    }
}

/// Every float prints as text that reads back as the same number.
func dagJSONHasFloat(_ v: DagCBOR) -> Bool {
    switch v {
    case .float(let d):
        fuzzCheck(Double(DagJSON.formatFloat(d)) == d, "float \(d) prints as \(DagJSON.formatFloat(d))")
        return true
    case .list(let items): return items.map(dagJSONHasFloat).contains(true)
    case .map(let m): return m.values.map(dagJSONHasFloat).contains(true)
    default: return false
    }
}
