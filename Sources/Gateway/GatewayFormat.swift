/// The response format a request asks for: the `format` query parameter, else the `Accept`
/// header (first media type the gateway knows, in the order given; `q` values are not weighed).
///
/// Rules: `format=raw|car` select the trustless answers; `format` takes precedence over
/// `Accept`; a `format` the gateway does not produce (`tar`, `dag-json`, …) is 400 naming what is
/// served; CAR parameters (`version`, `order`, `dups`, from `Accept` or `car-version`,
/// `car-order`, `car-dups`) are checked: version 1 only, order `dfs` or `unk` (answered `dfs`),
/// dups `y` or `n` (default `n`).
public enum GatewayFormat: Hashable, Sendable {
    /// The deserialized answer (file bytes, directory listing).
    case unixfs
    /// One block, `application/vnd.ipld.raw`.
    case raw
    /// A CARv1 stream, `application/vnd.ipld.car`.
    case car(dups: Bool)

    public static let maxAcceptBytes = 4096

    /// The format, and whether it came from `Accept` alone (then `Content-Location` is sent).
    public static func negotiate(
        format: String?, accept: String?, carVersion: String? = nil, carOrder: String? = nil, carDups: String? = nil
    ) throws(GatewayError) -> (format: GatewayFormat, fromAccept: Bool) {
        var params: [String: String] = [:]
        var chosen: GatewayFormat?
        var fromAccept = false
        if let format, !format.isEmpty {
            switch format {
            case "raw": chosen = .raw
            case "car": chosen = .car(dups: false)
            default:
                throw GatewayError(.badRequest, "format=\(format) is not served here; this gateway answers format=raw and format=car (or no format: the content itself)")
            }
        }
        if let accept, accept.utf8.count <= maxAcceptBytes {
            for item in accept.split(separator: ",") {
                let fields = item.split(separator: ";").map { String($0).gatewayTrimmed }
                guard let type = fields.first?.lowercased() else { continue }
                let kind: GatewayFormat? =
                    switch type {
                    case "application/vnd.ipld.raw": .raw
                    case "application/vnd.ipld.car": .car(dups: false)
                    default: nil
                    }
                guard let kind else { continue }
                if chosen == nil || chosen == kind || (chosen?.isCAR == true && kind.isCAR) {
                    if chosen == nil { fromAccept = true }
                    chosen = kind
                    for f in fields.dropFirst() {
                        let kv = f.split(separator: "=", maxSplits: 1).map { String($0).gatewayTrimmed.lowercased() }
                        if kv.count == 2 { params[kv[0]] = kv[1] }
                    }
                    break
                }
            }
        }
        if let carVersion { params["version"] = carVersion }
        if let carOrder { params["order"] = carOrder }
        if let carDups { params["dups"] = carDups }
        guard let chosen else { return (.unixfs, false) }
        guard case .car = chosen else { return (chosen, fromAccept) }
        if let v = params["version"], v != "1" {
            throw GatewayError(.badRequest, "CAR version \(v) is not served; this gateway writes CARv1 (version=1)")
        }
        if let o = params["order"], o != "dfs", o != "unk" {
            throw GatewayError(.badRequest, "CAR order \(o) is not served; this gateway writes blocks depth-first (order=dfs)")
        }
        let dups: Bool
        switch params["dups"] {
        case nil, "n": dups = false
        case "y": dups = true
        case let d?: throw GatewayError(.badRequest, "CAR dups=\(d) is not understood; use dups=y or dups=n")
        }
        return (.car(dups: dups), fromAccept)
    }

    var isCAR: Bool {
        if case .car = self { return true }
        return false
    }
}

/// The trustless gateway's `dag-scope` parameter.
public enum GatewayDAGScope: String, Hashable, Sendable {
    case all, entity, block

    public static func parse(_ text: String?) throws(GatewayError) -> GatewayDAGScope {
        guard let text, !text.isEmpty else { return .all }
        guard let s = GatewayDAGScope(rawValue: text) else {
            throw GatewayError(.badRequest, "dag-scope=\(text) is not understood; use all, entity or block")
        }
        return s
    }
}
