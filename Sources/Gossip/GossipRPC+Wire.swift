import Multiformats

extension GossipMessage {
    /// The protobuf encoding (libp2p pubsub `Message`).
    public func encoded(includingSignature: Bool = true) -> [UInt8] {
        var e = ProtoEncoder()
        encode(into: &e, includingSignature: includingSignature)
        return e.bytes
    }

    func encode(into e: inout ProtoEncoder, includingSignature: Bool = true) {
        if let from { e.bytes(1, from.bytes) }
        e.bytes(2, data)
        if let seqno { e.bytes(3, seqno.bigEndianBytes) }
        e.string(4, topic)
        if includingSignature {
            if let signature { e.bytes(5, signature) }
            if let key { e.bytes(6, key) }
        }
    }

    static func decode(_ bytes: [UInt8], _ range: Range<Int>, maxData: Int) throws(GossipError) -> GossipMessage {
        var f = ProtoFields(bytes, range, what: "pubsub message")
        var message = GossipMessage(data: [], topic: "")
        var sawTopic = false
        while let (field, value) = try f.next() {
            switch field {
            case 1:
                let raw = try f.bytes(value, field: "from", limit: 128)
                do { message.from = try PeerID(bytes: raw) } catch {
                    throw GossipError(.malformed, "pubsub message: from is not a peer ID (\(error.message))")
                }
            case 2: message.data = try f.bytes(value, field: "data", limit: maxData)
            case 3:
                let raw = try f.bytes(value, field: "seqno", limit: 8)
                guard raw.count == 8 else { throw GossipError(.malformed, "pubsub message: seqno must be 8 bytes, got \(raw.count)") }
                message.seqno = raw.reduce(0) { $0 << 8 | UInt64($1) }
            case 4:
                message.topic = try f.string(value, field: "topic", limit: GossipRPC.maxTopicBytes)
                sawTopic = true
            case 5: message.signature = try f.bytes(value, field: "signature", limit: 128)
            case 6: message.key = try f.bytes(value, field: "key", limit: 128)
            default: continue
            }
        }
        guard sawTopic else { throw GossipError(.malformed, "pubsub message: no topic") }
        return message
    }
}

extension GossipRPC {
    /// The protobuf encoding (libp2p pubsub `RPC`).
    public func encoded() -> [UInt8] {
        var e = ProtoEncoder()
        for s in subscriptions {
            e.message(1) { sub in
                sub.varint(1, s.subscribe ? 1 : 0)
                sub.string(2, s.topic)
            }
        }
        for m in messages { e.message(2) { m.encode(into: &$0) } }
        if !(ihave.isEmpty && iwant.isEmpty && graft.isEmpty && prune.isEmpty && idontwant.isEmpty && choke.isEmpty && unchoke.isEmpty) {
            e.message(3) { c in
                for h in ihave {
                    c.message(1) { x in
                        x.string(1, h.topic)
                        for id in h.ids { x.bytes(2, id.bytes) }
                    }
                }
                if !iwant.isEmpty { c.message(2) { x in for id in iwant { x.bytes(1, id.bytes) } } }
                for t in graft { c.message(3) { $0.string(1, t) } }
                for p in prune {
                    c.message(4) { x in
                        x.string(1, p.topic)
                        for peer in p.peers { x.message(2) { $0.bytes(1, peer.bytes) } }
                        if let b = p.backoffSeconds { x.varint(3, b) }
                    }
                }
                if !idontwant.isEmpty { c.message(5) { x in for id in idontwant { x.bytes(1, id.bytes) } } }
                for t in choke { c.message(6) { $0.string(1, t) } }
                for t in unchoke { c.message(7) { $0.string(1, t) } }
            }
        }
        return e.bytes
    }

    /// Decodes one frame; every count and length is checked against the limits above.
    public init(decoding bytes: [UInt8], maxMessageBytes: Int = 1 << 20) throws(GossipError) {
        guard bytes.count <= Self.maxFrameBytes else {
            throw GossipError(.tooLarge, "pubsub frame of \(bytes.count) bytes exceeds \(Self.maxFrameBytes)")
        }
        self.init()
        var ids = 0
        var f = ProtoFields(bytes, 0..<bytes.count, what: "pubsub frame")
        while let (field, value) = try f.next() {
            switch field {
            case 1:
                try Self.check(subscriptions.count, "subscriptions")
                subscriptions.append(try Self.decodeSubscription(bytes, f.range(value, field: "subscription")))
            case 2:
                try Self.check(messages.count, "messages")
                messages.append(try GossipMessage.decode(bytes, f.range(value, field: "message"), maxData: maxMessageBytes))
            case 3: try decodeControl(bytes, f.range(value, field: "control"), ids: &ids)
            default: continue
            }
        }
    }

    private static func check(_ count: Int, _ what: String) throws(GossipError) {
        guard count < maxEntries else { throw GossipError(.tooLarge, "pubsub frame: more than \(maxEntries) \(what)") }
    }

    private static func decodeSubscription(_ bytes: [UInt8], _ range: Range<Int>) throws(GossipError) -> Subscription {
        var f = ProtoFields(bytes, range, what: "subscription")
        var sub = Subscription(subscribe: false, topic: "")
        var sawTopic = false
        while let (field, value) = try f.next() {
            switch field {
            case 1: sub.subscribe = try f.uint(value, field: "subscribe") != 0
            case 2:
                sub.topic = try f.string(value, field: "topic", limit: maxTopicBytes)
                sawTopic = true
            default: continue
            }
        }
        guard sawTopic else { throw GossipError(.malformed, "subscription: no topic") }
        return sub
    }

    private mutating func decodeControl(_ bytes: [UInt8], _ range: Range<Int>, ids: inout Int) throws(GossipError) {
        var f = ProtoFields(bytes, range, what: "control message")
        func readIDs(_ r: Range<Int>, field idField: UInt64, what: String, topic: inout String?) throws(GossipError) -> [MessageID] {
            var g = ProtoFields(bytes, r, what: what)
            var out: [MessageID] = []
            while let (field, value) = try g.next() {
                if field == idField {
                    ids += 1
                    guard ids <= Self.maxMessageIDs else {
                        throw GossipError(.tooLarge, "pubsub frame: more than \(Self.maxMessageIDs) message IDs")
                    }
                    out.append(MessageID(bytes: try g.bytes(value, field: "message ID", limit: Self.maxMessageIDBytes)))
                } else if field == 1, topic != nil {
                    topic = try g.string(value, field: "topic", limit: Self.maxTopicBytes)
                }
            }
            return out
        }
        while let (field, value) = try f.next() {
            switch field {
            case 1:
                try Self.check(ihave.count, "IHAVE entries")
                var topic: String? = ""
                let list = try readIDs(try f.range(value, field: "ihave"), field: 2, what: "IHAVE", topic: &topic)
                ihave.append(IHave(topic: topic ?? "", ids: list))
            case 2:
                var none: String? = nil
                iwant += try readIDs(try f.range(value, field: "iwant"), field: 1, what: "IWANT", topic: &none)
            case 3:
                try Self.check(graft.count, "GRAFT entries")
                graft.append(try Self.decodeTopicEntry(bytes, try f.range(value, field: "graft"), what: "GRAFT"))
            case 4:
                try Self.check(prune.count, "PRUNE entries")
                prune.append(try Self.decodePrune(bytes, try f.range(value, field: "prune")))
            case 5:
                var none: String? = nil
                idontwant += try readIDs(try f.range(value, field: "idontwant"), field: 1, what: "IDONTWANT", topic: &none)
            case 6:
                try Self.check(choke.count, "CHOKE entries")
                choke.append(try Self.decodeTopicEntry(bytes, try f.range(value, field: "choke"), what: "CHOKE"))
            case 7:
                try Self.check(unchoke.count, "UNCHOKE entries")
                unchoke.append(try Self.decodeTopicEntry(bytes, try f.range(value, field: "unchoke"), what: "UNCHOKE"))
            default: continue
            }
        }
    }

    /// GRAFT, CHOKE and UNCHOKE: a message whose field 1 is the topic.
    private static func decodeTopicEntry(_ bytes: [UInt8], _ range: Range<Int>, what: String) throws(GossipError) -> String {
        var f = ProtoFields(bytes, range, what: what)
        var topic = ""
        while let (field, value) = try f.next() {
            if field == 1 { topic = try f.string(value, field: "topic", limit: maxTopicBytes) }
        }
        return topic
    }

    private static func decodePrune(_ bytes: [UInt8], _ range: Range<Int>) throws(GossipError) -> Prune {
        var f = ProtoFields(bytes, range, what: "PRUNE")
        var prune = Prune(topic: "")
        while let (field, value) = try f.next() {
            switch field {
            case 1: prune.topic = try f.string(value, field: "topic", limit: maxTopicBytes)
            case 2:
                guard prune.peers.count < maxExchangedPeers else {
                    throw GossipError(.tooLarge, "PRUNE: more than \(maxExchangedPeers) exchanged peers")
                }
                var g = ProtoFields(bytes, try f.range(value, field: "peer info"), what: "PRUNE peer info")
                var id: PeerID?
                while let (pf, pv) = try g.next() {
                    guard pf == 1 else { continue }
                    let raw = try g.bytes(pv, field: "peer ID", limit: 128)
                    do { id = try PeerID(bytes: raw) } catch {
                        throw GossipError(.malformed, "PRUNE: exchanged peer ID is invalid (\(error.message))")
                    }
                }
                if let id { prune.peers.append(id) }
            case 3: prune.backoffSeconds = try f.uint(value, field: "backoff")
            default: continue
            }
        }
        return prune
    }
}

extension UInt64 {
    var bigEndianBytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: self >> (56 - 8 * UInt64($0))) } }
}
