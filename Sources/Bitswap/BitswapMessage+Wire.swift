import Multiformats

extension BitswapMessage {
    /// The protobuf encoding: fields in number order, default values (0, false, empty) omitted,
    /// as Go's and Python's protobuf libraries write them. No length prefix.
    public func encoded() -> [UInt8] {
        var w = ProtobufWriter(capacity: 64 + payload.reduce(0) { $0 + $1.data.count + 16 } + blocks.reduce(0) { $0 + $1.count + 8 })
        if let wantlist {
            w.message(1) { l in
                for e in wantlist.entries { l.message(1) { e.encode(into: &$0) } }
                if wantlist.full { l.bool(2, true) }
            }
        }
        for b in blocks { w.bytes(2, b) }
        for p in payload {
            w.message(3) { m in
                m.bytes(1, p.prefix.bytes)
                if !p.data.isEmpty { m.bytes(2, p.data) }
            }
        }
        for p in blockPresences {
            w.message(4) { m in
                m.bytes(1, p.cid.bytes)
                if p.type != .have { m.varint(2, p.type.rawValue) }
            }
        }
        if pendingBytes != 0 { w.varint(5, UInt64(bitPattern: Int64(pendingBytes))) }
        return w.bytes
    }

    /// Decodes one message (without its length prefix), checking every limit of ``BitswapMessage``.
    ///
    /// Unknown fields are skipped; a repeated `wantlist` field is merged (entries appended, `full`
    /// kept once set), as protobuf merges a message field. A missing or malformed CID, an unknown
    /// want or presence type, or a payload block without a valid prefix fails the whole message.
    public init(decoding bytes: [UInt8]) throws(BitswapError) {
        guard bytes.count <= Self.maxMessageBytes else {
            throw BitswapError(.tooLarge, "bitswap message of \(bytes.count) bytes exceeds the limit of \(Self.maxMessageBytes)")
        }
        self.init()
        do {
            try decodeFields(bytes)
        } catch let error as BitswapError {
            throw error
        } catch let error as MultiformatsError {
            throw BitswapError(error.code == .truncated ? .truncated : error.code == .tooLong ? .tooLarge : .malformed, error.message)
        } catch {
            throw BitswapError(.malformed, "bitswap message: \(error)")
        }
    }

    private mutating func decodeFields(_ bytes: [UInt8]) throws {
        var r = ProtobufReader(bytes, what: "bitswap message")
        while let (field, value) = try r.next() {
            switch field {
            case 1:
                var list = wantlist ?? BitswapWantlist()
                try list.decode(bytes, r.range(value, field: "wantlist"))
                wantlist = list
            case 2:
                try Self.checkCount(blocks.count + payload.count, "blocks")
                blocks.append(try r.bytes(value, field: "block", limit: Self.maxBlockBytes))
            case 3:
                try Self.checkCount(blocks.count + payload.count, "blocks")
                payload.append(try BitswapPayloadBlock.decode(bytes, r.range(value, field: "payload")))
            case 4:
                try Self.checkCount(blockPresences.count, "block presences")
                blockPresences.append(try BitswapBlockPresence.decode(bytes, r.range(value, field: "block presence")))
            case 5:
                pendingBytes = Int32(truncatingIfNeeded: try r.uint(value, field: "pendingBytes"))
            default: continue
            }
        }
    }

    static func checkCount(_ count: Int, _ what: String) throws(BitswapError) {
        guard count < maxEntries else {
            throw BitswapError(.tooLarge, "bitswap message: more than \(maxEntries) \(what)")
        }
    }

    static func decodeCID(_ r: ProtobufReader, _ value: ProtobufReader.Value, field: String) throws -> CID {
        let raw = try r.bytes(value, field: field, limit: maxCIDBytes)
        guard !raw.isEmpty else { throw BitswapError(.malformed, "\(r.what): empty \(field)") }
        do {
            return try CID(bytes: raw)
        } catch {
            throw BitswapError(.malformed, "\(r.what): \(field) is not a CID (\(error.message))")
        }
    }
}

extension BitswapWantlist {
    mutating func decode(_ bytes: [UInt8], _ range: Range<Int>) throws {
        var r = ProtobufReader(bytes, range: range, what: "bitswap wantlist")
        while let (field, value) = try r.next() {
            switch field {
            case 1:
                try BitswapMessage.checkCount(entries.count, "wantlist entries")
                entries.append(try BitswapWantEntry.decode(bytes, r.range(value, field: "entry")))
            case 2: full = try r.bool(value, field: "full") || full
            default: continue
            }
        }
    }
}

extension BitswapWantEntry {
    func encode(into w: inout ProtobufWriter) {
        w.bytes(1, cid.bytes)
        if priority != 0 { w.varint(2, UInt64(bitPattern: Int64(priority))) }
        if cancel { w.bool(3, true) }
        if wantType != .block { w.varint(4, wantType.rawValue) }
        if sendDontHave { w.bool(5, true) }
    }

    static func decode(_ bytes: [UInt8], _ range: Range<Int>) throws -> BitswapWantEntry {
        var r = ProtobufReader(bytes, range: range, what: "bitswap wantlist entry")
        var cid: CID?
        var priority: Int32 = 0
        var cancel = false
        var wantType = BitswapWantType.block
        var sendDontHave = false
        while let (field, value) = try r.next() {
            switch field {
            case 1: cid = try BitswapMessage.decodeCID(r, value, field: "block")
            case 2: priority = Int32(truncatingIfNeeded: try r.uint(value, field: "priority"))
            case 3: cancel = try r.bool(value, field: "cancel")
            case 4:
                let raw = try r.uint(value, field: "wantType")
                guard let type = BitswapWantType(rawValue: raw) else {
                    throw BitswapError(.malformed, "bitswap wantlist entry: unknown want type \(raw) (0 block, 1 have)")
                }
                wantType = type
            case 5: sendDontHave = try r.bool(value, field: "sendDontHave")
            default: continue
            }
        }
        guard let cid else { throw BitswapError(.malformed, "bitswap wantlist entry without a CID") }
        return BitswapWantEntry(cid: cid, priority: priority, cancel: cancel, wantType: wantType, sendDontHave: sendDontHave)
    }
}

extension BitswapPayloadBlock {
    static func decode(_ bytes: [UInt8], _ range: Range<Int>) throws -> BitswapPayloadBlock {
        var r = ProtobufReader(bytes, range: range, what: "bitswap payload block")
        var prefix: BitswapCIDPrefix?
        var data: [UInt8] = []
        while let (field, value) = try r.next() {
            switch field {
            case 1: prefix = try BitswapCIDPrefix(bytes: r.bytes(value, field: "prefix", limit: BitswapMessage.maxCIDBytes))
            case 2: data = try r.bytes(value, field: "data", limit: BitswapMessage.maxBlockBytes)
            default: continue
            }
        }
        guard let prefix else { throw BitswapError(.malformed, "bitswap payload block without a CID prefix") }
        return BitswapPayloadBlock(prefix: prefix, data: data)
    }
}

extension BitswapBlockPresence {
    static func decode(_ bytes: [UInt8], _ range: Range<Int>) throws -> BitswapBlockPresence {
        var r = ProtobufReader(bytes, range: range, what: "bitswap block presence")
        var cid: CID?
        var type = BitswapPresenceType.have
        while let (field, value) = try r.next() {
            switch field {
            case 1: cid = try BitswapMessage.decodeCID(r, value, field: "cid")
            case 2:
                let raw = try r.uint(value, field: "type")
                guard let t = BitswapPresenceType(rawValue: raw) else {
                    throw BitswapError(.malformed, "bitswap block presence: unknown type \(raw) (0 have, 1 dont-have)")
                }
                type = t
            default: continue
            }
        }
        guard let cid else { throw BitswapError(.malformed, "bitswap block presence without a CID") }
        return BitswapBlockPresence(cid: cid, type: type)
    }
}
