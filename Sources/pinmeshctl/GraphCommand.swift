import ArgumentParser
import ClusterClient
import Foundation

extension HealthCommand {
    /// ipfs-cluster's `ConnectGraph`, as the API answers it.
    struct ConnectGraph: Codable {
        var cluster_id: String
        var id_to_peername: [String: String]
        var ipfs_links: [String: [String]]
        var cluster_links: [String: [String]]
        var cluster_trust_links: [String: Bool]
        var cluster_to_ipfs: [String: String]

        static func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        static func short(_ id: String) -> String { id.count > 12 ? String(id.suffix(8)) : id }

        /// Graphviz, sorted so equal graphs print alike: cluster peers as boxes (this API's
        /// peer doubled, trusted ones bold) with their connections; each peer's IPFS daemon an
        /// ellipse joined to it by a dashed line (red "not answering" when the peer reported
        /// none); gray arrows the daemons' swarm connections among themselves, or with
        /// `allIPFSPeers` to every swarm peer (dotted ellipses), as ipfs-cluster-ctl's
        /// `--all-ipfs-peers`. `legend` adds a box naming each kind of node and link.
        func dot(allIPFSPeers: Bool = false, legend: Bool = false) -> String {
            let q = Self.quote
            var out = "digraph cluster {\n  rankdir=LR;\n  node [shape=box];\n"
            let daemons = Set(cluster_to_ipfs.values).union(ipfs_links.keys)
            let peers = Set(id_to_peername.keys).union(cluster_links.keys).sorted()
            for id in peers {
                let name = id_to_peername[id] ?? ""
                var attrs = ["label=\(q((name.isEmpty ? "" : name + "\\n") + Self.short(id)))"]
                if cluster_trust_links[id] == true { attrs.append("style=bold") }
                if id == cluster_id { attrs.append("peripheries=2") }
                out += "  \(q(id)) [\(attrs.joined(separator: ", "))];\n"
                if let ipfs = cluster_to_ipfs[id] {
                    out += "  \(q(ipfs)) [label=\(q("IPFS\\n" + Self.short(ipfs))), shape=ellipse];\n"
                    out += "  \(q(id)) -> \(q(ipfs)) [style=dashed, arrowhead=none];\n"
                } else {
                    out += "  \(q(id + "/ipfs")) [label=\"IPFS\\nnot answering\", shape=ellipse, color=red, fontcolor=red];\n"
                    out += "  \(q(id)) -> \(q(id + "/ipfs")) [style=dashed, arrowhead=none, color=red];\n"
                }
            }
            if allIPFSPeers {
                let others = Set(ipfs_links.values.joined()).subtracting(daemons).sorted()
                for ipfs in others { out += "  \(q(ipfs)) [label=\(q("IPFS peer\\n" + Self.short(ipfs))), shape=ellipse, style=dotted];\n" }
            }
            for (from, tos) in cluster_links.sorted(by: { $0.key < $1.key }) {
                for to in tos.sorted() { out += "  \(q(from)) -> \(q(to));\n" }
            }
            for (from, tos) in ipfs_links.sorted(by: { $0.key < $1.key }) {
                for to in tos.sorted() where allIPFSPeers || daemons.contains(to) { out += "  \(q(from)) -> \(q(to)) [color=gray];\n" }
            }
            if legend { out += Self.legend }
            return out + "}\n"
        }

        /// Every kind of node and link `dot` draws, each labelled.
        static let legend = """
              subgraph cluster_legend {
                label="Legend"; fontsize=11; color=gray;
                node [fontsize=10];
                edge [fontsize=9];
                "legend:self" [label="cluster peer\\nanswering the API", peripheries=2];
                "legend:trusted" [label="trusted\\ncluster peer", style=bold];
                "legend:peer" [label="cluster peer"];
                "legend:ipfs" [label="IPFS daemon\\nof a cluster peer", shape=ellipse];
                "legend:down" [label="IPFS daemon\\nnot answering", shape=ellipse, color=red, fontcolor=red];
                "legend:other" [label="other IPFS peer\\n(--all-ipfs-peers)", shape=ellipse, style=dotted];
                "legend:peer" -> "legend:self" [label="cluster connection"];
                "legend:trusted" -> "legend:ipfs" [style=dashed, arrowhead=none, label="its IPFS daemon"];
                "legend:ipfs" -> "legend:other" [color=gray, label="IPFS swarm connection"];
                "legend:self" -> "legend:down" [style=dashed, arrowhead=none, color=red, label="daemon missing"];
              }

            """
    }

    struct Graph: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "graph", abstract: "The cluster's connection graph in Graphviz dot (--png also renders it, with a legend, using `dot`).", usage: "pinmeshctl health graph [<options>]")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("file"), help: "-f, --file: write the dot text to this file instead of standard output (as ipfs-cluster-ctl).")
        var file: String?
        @Flag(name: .customLong("all-ipfs-peers"), help: "Also draw the IPFS daemons' swarm peers that belong to no cluster peer.")
        var allIPFSPeers = false
        @Option(help: "Also render the graph, with a legend, to this PNG (needs Graphviz's `dot`).") var png: String?

        /// `-f` after `health graph` is `--file` (ipfs-cluster-ctl's), not the global `--force-http`.
        static func fileFlag(_ arguments: [String]) -> [String] {
            guard arguments.prefix(2) == ["health", "graph"] else { return arguments }
            return Array(arguments.prefix(2)) + arguments.dropFirst(2).map { $0 == "-f" ? "--file" : $0.hasPrefix("-f=") ? "--file=" + $0.dropFirst(3) : $0 }
        }

        func run() async throws {
            let c = try global.client()
            let graph = try await api { try await c.decode(ConnectGraph.self, .GET, "/health/graph") }
            if global.enc == .json { return try global.printJSON(graph) }
            let dot = graph.dot(allIPFSPeers: allIPFSPeers)
            if let file {
                guard FileManager.default.createFile(atPath: file, contents: Data(dot.utf8)) else {
                    throw RuntimeError("cannot write \(file): check that its directory exists and is writable")
                }
            } else {
                print(dot, terminator: "")
            }
            guard let png else { return }
            try Self.render(graph.dot(allIPFSPeers: allIPFSPeers, legend: true), png: png)
        }

        static func render(_ dot: String, png: String) throws {
            let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
                .map { "\($0)/dot" }.first { FileManager.default.isExecutableFile(atPath: $0) }
            guard let path else { throw RuntimeError("--png needs Graphviz's `dot` (apt-get install graphviz); the dot text was written") }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = ["-Tpng", "-o", png]
            let input = Pipe()
            p.standardInput = input
            try p.run()
            input.fileHandleForWriting.write(Data(dot.utf8))
            try input.fileHandleForWriting.close()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw RuntimeError("dot failed with status \(p.terminationStatus) rendering \(png)") }
        }
    }
}
