import Multiformats

/// Writes protobuf fields (the subset pubsub frames use): the shared writer.
typealias ProtoEncoder = ProtobufWriter

/// Iterates the fields of one protobuf message with the shared reader (`ProtobufReader`:
/// unknown fields skipped, every length checked), its errors said as pubsub's.
struct ProtoFields {
    typealias Value = ProtobufReader.Value

    private var reader: ProtobufReader
    var bytes: [UInt8] { reader.bytes }
    var what: String { reader.what }

    init(_ bytes: [UInt8], _ range: Range<Int>, what: String) { reader = ProtobufReader(bytes, range: range, what: what) }

    /// The next field, or nil at the end of the message.
    mutating func next() throws(GossipError) -> (field: UInt64, value: Value)? {
        do { return try reader.next() } catch { throw Self.gossip(error) }
    }

    func bytes(_ value: Value, field: String, limit: Int) throws(GossipError) -> [UInt8] {
        do { return try reader.bytes(value, field: field, limit: limit) } catch { throw Self.gossip(error) }
    }

    func range(_ value: Value, field: String) throws(GossipError) -> Range<Int> {
        do { return try reader.range(value, field: field) } catch { throw Self.gossip(error) }
    }

    func string(_ value: Value, field: String, limit: Int) throws(GossipError) -> String {
        do { return try reader.string(value, field: field, limit: limit) } catch { throw Self.gossip(error) }
    }

    func uint(_ value: Value, field: String) throws(GossipError) -> UInt64 {
        do { return try reader.uint(value, field: field) } catch { throw Self.gossip(error) }
    }

    static func gossip(_ e: MultiformatsError) -> GossipError {
        switch e.code {
        case .truncated: GossipError(.truncated, e.message)
        case .tooLong: GossipError(.tooLarge, e.message)
        default: GossipError(.malformed, e.message)
        }
    }
}
