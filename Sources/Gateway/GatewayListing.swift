public import Multiformats

/// The HTML page listing a UnixFS directory that has no `index.html`.
///
/// Names are HTML-escaped and percent-escaped in links; sizes are the links' `Tsize` (DAG
/// size, as the spec advises: no child block is fetched to list a directory).
public enum GatewayListing {
    /// Changes whenever the page's markup changes (part of the listing's `ETag`).
    public static let version = "pinmesh-1"

    public static func html(path: GatewayPath, cid: CID, entries: [(name: String, cid: CID, size: UInt64?)]) -> String {
        let base = path.contentPath + "/"
        var rows = ""
        if !path.names.isEmpty {
            rows += "<tr><td><a href=\"./..\">..</a></td><td></td><td></td></tr>\n"
        }
        for e in entries {
            let href = escape(base + GatewayPath.escape(e.name))
            rows += "<tr><td><a href=\"\(href)\">\(escape(e.name))</a></td>"
            rows += "<td><a class=\"cid\" href=\"/ipfs/\(e.cid)?filename=\(escape(GatewayPath.escape(e.name)))\">\(e.cid)</a></td>"
            rows += "<td>\(e.size.map(String.init) ?? "")</td></tr>\n"
        }
        let title = escape(path.contentPath + (path.names.isEmpty ? "/" : ""))
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>\(title)</title>
            <style>body{font-family:sans-serif}td{padding:0 1em 0 0}.cid{font-family:monospace;font-size:small}</style></head>
            <body><h1>Index of \(title)</h1>
            <p>\(cid) · <a href="/ipfs/\(cid)?format=car">CAR</a></p>
            <table><tr><th>name</th><th>CID</th><th>DAG size</th></tr>
            \(rows)</table></body></html>

            """
    }

    /// `&`, `<`, `>`, `"` and `'` as HTML character references.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
