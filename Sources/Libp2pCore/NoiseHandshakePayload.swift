import Multiformats

/// libp2p's Noise handshake payload:
/// `NoiseHandshakePayload { bytes identity_key = 1; bytes identity_sig = 2; NoiseExtensions extensions = 4; }`
/// with `NoiseExtensions { repeated bytes webtransport_certhashes = 1; repeated string stream_muxers = 2; }`.
///
/// - identity_key is the protobuf `PublicKey` (at most ``maxKeyBytes``), identity_sig the
///   signature of "noise-libp2p-static-key:" ‖ the sender's Noise static key (at most ``maxSignatureBytes``).
/// - Only stream_muxers is read from the extensions (at most ``maxMuxers`` of ``maxMuxerBytes``);
///   unknown fields are skipped. The whole payload is at most ``maxBytes``.
public struct NoiseHandshakePayload: Sendable, Equatable {
    public static let maxBytes = 8192
    public static let maxKeyBytes = 2100
    public static let maxSignatureBytes = 1024
    public static let maxMuxers = 16
    public static let maxMuxerBytes = 256
    /// The signed prefix before the static key.
    public static let signaturePrefix = Array("noise-libp2p-static-key:".utf8)

    public var identityKey: [UInt8]
    public var identitySignature: [UInt8]
    public var streamMuxers: [String]

    public init(identityKey: [UInt8], identitySignature: [UInt8], streamMuxers: [String] = []) {
        self.identityKey = identityKey
        self.identitySignature = identitySignature
        self.streamMuxers = streamMuxers
    }

    /// The protobuf encoding (extensions only when muxers are listed).
    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        w.bytes(1, identityKey)
        w.bytes(2, identitySignature)
        if !streamMuxers.isEmpty {
            w.message(4) { e in for m in streamMuxers { e.string(2, m) } }
        }
        return w.bytes
    }

    /// Decodes a payload; identity_key and identity_sig are required.
    public init(decoding bytes: [UInt8]) throws(Libp2pProtocolError) {
        guard bytes.count <= NoiseHandshakePayload.maxBytes else {
            throw Libp2pProtocolError(.tooLarge, "Noise handshake payload of \(bytes.count) bytes exceeds \(NoiseHandshakePayload.maxBytes)")
        }
        do throws(MultiformatsError) {
            var key: [UInt8]?
            var sig: [UInt8]?
            var muxers: [String] = []
            var r = ProtobufReader(bytes, what: "Noise handshake payload")
            while let (field, value) = try r.next() {
                switch field {
                case 1: key = try r.bytes(value, field: "identity_key", limit: NoiseHandshakePayload.maxKeyBytes)
                case 2: sig = try r.bytes(value, field: "identity_sig", limit: NoiseHandshakePayload.maxSignatureBytes)
                case 4: muxers = try NoiseHandshakePayload.muxers(bytes, try r.range(value, field: "extensions"))
                default: continue
                }
            }
            guard let key, let sig else {
                throw MultiformatsError(.truncated, "Noise handshake payload lacks identity_key or identity_sig")
            }
            self.init(identityKey: key, identitySignature: sig, streamMuxers: muxers)
        } catch {
            throw Libp2pProtocolError(.malformed, error.message)
        }
    }

    private static func muxers(_ bytes: [UInt8], _ range: Range<Int>) throws(MultiformatsError) -> [String] {
        var r = ProtobufReader(bytes, range: range, what: "Noise extensions")
        var out: [String] = []
        while let (field, value) = try r.next() {
            guard field == 2 else { continue }
            guard out.count < maxMuxers else {
                throw MultiformatsError(.tooLong, "Noise extensions list more than \(maxMuxers) stream muxers")
            }
            out.append(try r.string(value, field: "stream_muxers", limit: maxMuxerBytes))
        }
        return out
    }
}
