public import ArgumentParser
import Foundation
import Ingest
import Multiformats
public import UnixFS

/// `pinmeshctl add`: imports files as UnixFS exactly as `ipfs add` does.
struct AddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add files to the cluster, or with --only-hash print the CIDs `ipfs add` would give.",
        discussion: """
            Prints `added <cid> <path>` for every file, then every directory (children first), \
            as `ipfs add` does. Reads standard input when no path or `-` is given.

            Exit codes: 0 success, 1 a file could not be read or imported, 64 bad usage.
            """)

    @Argument(help: "Files or directories to add ('-' or nothing: standard input).")
    var paths: [String] = []

    @Flag(name: [.customShort("n"), .long], help: "Only compute CIDs; store and pin nothing.")
    var onlyHash = false

    @Flag(name: .shortAndLong, help: "Add directories recursively.")
    var recursive = false

    @Flag(name: [.customShort("w"), .long], help: "Wrap the added paths in a directory.")
    var wrapWithDirectory = false

    @Flag(name: [.customShort("H"), .long], help: "Include files whose names start with a dot.")
    var hidden = false

    @Flag(name: .shortAndLong, help: "Print only CIDs.")
    var quiet = false

    @Flag(name: [.customShort("Q"), .long], help: "Print only the final root CID.")
    var quieter = false

    @Option(help: "CID version: 0 or 1 (1 implies --raw-leaves unless --raw-leaves=false).")
    var cidVersion: Int?

    @Option(name: .customLong("raw-leaves"), help: "Use raw blocks for leaves (--raw-leaves or --raw-leaves=true|false).")
    var rawLeaves: Bool?

    @Option(help: "Chunker: size-N, rabin, rabin-AVG, rabin-MIN-AVG-MAX or buzhash (default: the profile's, size-262144).")
    var chunker: String?

    @Option(help: "DAG layout: balanced or trickle.")
    var layout: Layout = .balanced

    @Flag(help: "Same as --layout trickle (kubo's flag).")
    var trickle = false

    @Option(help: "Hash function: sha2-256, sha2-512 or blake2b-256.")
    var hash: String = "sha2-256"

    @Option(help: "Import profile: unixfs-v0-2015 or unixfs-v1-2025 (other flags override it).")
    var profile: String?

    func validate() throws {
        if let v = cidVersion, v != 0 && v != 1 { throw ValidationError("--cid-version must be 0 or 1") }
        if let p = profile, ImportSettings(profile: p) == nil {
            throw ValidationError("unknown --profile \(p): use unixfs-v0-2015 or unixfs-v1-2025")
        }
    }

    /// The profile's settings, overridden by every flag given.
    func settings() throws -> ImportSettings {
        let base = profile.flatMap(ImportSettings.init(profile:)) ?? ImportSettings()
        guard let function = Multicodec(name: hash) else {
            throw ValidationError("unknown --hash \(hash): use sha2-256, sha2-512 or blake2b-256")
        }
        var chunking = base.chunker
        if let chunker {
            do throws(UnixFSError) { chunking = try ChunkerSpec(parsing: chunker) } catch { throw ValidationError(error.message) }
        }
        // An explicit --cid-version brings kubo's leaf default for it unless --raw-leaves is given.
        let settings = ImportSettings(
            cidVersion: cidVersion.map { $0 == 0 ? .v0 : .v1 } ?? base.cidVersion,
            rawLeaves: rawLeaves ?? (cidVersion != nil ? nil : base.rawLeaves),
            chunker: chunking, layout: trickle ? .trickle : layout, hashFunction: function, maxLinks: base.maxLinks,
            hamtShardingThreshold: base.hamtShardingThreshold, hamtSizeEstimation: base.hamtSizeEstimation,
            hamtFanout: base.hamtFanout)
        do throws(UnixFSError) { try settings.validate() } catch { throw ValidationError(error.message) }
        return settings
    }

    func run() throws {
        guard onlyHash else {
            throw RuntimeError("adding to the cluster through the REST API (/add) is not built yet; use --only-hash, or add through the IPFS API and run `pinmeshctl pin add <cid>`")
        }
        var options = AddOptions(settings: try settings())
        options.recursive = recursive
        options.hidden = hidden
        options.wrapWithDirectory = wrapWithDirectory
        var adder = try PathAdder(options: options)
        var last: AddedEntry?
        let print: (AddedEntry) -> Void = { e in
            last = e
            guard !quieter else { return }
            if quiet {
                Swift.print(e.cid)
            } else {
                Swift.print(e.path.isEmpty ? "added \(e.cid)" : "added \(e.cid) \(e.path)")
            }
        }
        do {
            if paths.isEmpty || paths == ["-"] {
                _ = try adder.add(handle: .standardInput, name: "", entry: print)
            } else {
                _ = try adder.add(paths, entry: print)
            }
        } catch let error as AddError {
            throw RuntimeError(error.message)
        } catch let error as UnixFSError {
            throw RuntimeError(error.message)
        }
        if quieter, let last { Swift.print(last.cid) }
    }
}

extension Layout: ExpressibleByArgument {}

/// A failure reported to the user with exit code 1.
struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
