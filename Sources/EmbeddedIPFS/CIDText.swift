import Multiformats

/// How CIDs are printed in an answer, from kubo's `cid-base` and `upgrade-cidv0-in-output`
/// options (kubo's `cmdenv.GetCidEncoder`): CIDv1 in base32 unless `cid-base` names another
/// base; a CIDv0 stays `Qm…` unless upgraded (a `cid-base` upgrades it when `autoUpgrade`).
struct CIDText: Sendable {
    var base: Multibase = .base32
    var upgrade = false

    init(_ c: RPCCall, autoUpgrade: Bool = true) throws(KuboError) {
        if let name = try c.string("cid-base"), !name.isEmpty {
            base = try Self.base(named: name)
            if autoUpgrade { upgrade = true }
        }
        if try c.string("upgrade-cidv0-in-output") != nil {
            upgrade = try c.bool("upgrade-cidv0-in-output", default: false)
        }
    }

    init() {}

    /// A multibase by its name or one-character prefix, as go-multibase's `EncoderByName`.
    static func base(named name: String) throws(KuboError) -> Multibase {
        if let b = Multibase(name: name) { return b }
        if name.count == 1, let b = Multibase(rawValue: name.first!) { return b }
        throw .client("unsupported multibase encoding: \(name)")
    }

    func callAsFunction(_ cid: CID) -> String {
        if cid.version == .v0 && !upgrade { return cid.description }
        return cid.v1.string(base: base)
    }
}
