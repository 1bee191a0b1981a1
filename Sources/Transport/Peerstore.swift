public import Foundation
public import Multiformats

/// The peers a node knows and where to reach them, kept in a JSON file across restarts.
///
/// Bounded: at most `maxPeers` peers (the least recently seen are forgotten first) and
/// `maxAddressesPerPeer` addresses each (the newest kept).
public struct Peerstore: Sendable, Equatable {
    public static let maxPeers = 10_000
    public static let maxAddressesPerPeer = 8

    struct Entry: Codable, Sendable, Equatable {
        var addresses: [String]
        /// Seconds since 1970 when the peer was last connected.
        var lastSeen: Double
    }

    private(set) var entries: [PeerID: Entry] = [:]

    public init() {}

    public var peers: [PeerID] { entries.keys.sorted() }
    public var count: Int { entries.count }

    /// Where `peer` listens, newest first; each ends in `/p2p/<peer>`.
    public func addresses(of peer: PeerID) -> [Multiaddr] {
        (entries[peer]?.addresses ?? []).compactMap { try? Multiaddr($0) }
    }

    /// Records `addresses` for `peer` (adding `/p2p/<peer>` where missing) and marks it seen at `now`.
    public mutating func add(_ peer: PeerID, addresses: [Multiaddr], seen now: Date = Date()) {
        var entry = entries[peer] ?? Entry(addresses: [], lastSeen: 0)
        for address in addresses.reversed() {
            let text = address.peerID == nil ? "\(address)/p2p/\(peer)" : "\(address)"
            guard address.peerID == nil || address.peerID == peer else { continue }
            entry.addresses.removeAll { $0 == text }
            entry.addresses.insert(text, at: 0)
        }
        entry.addresses = Array(entry.addresses.prefix(Self.maxAddressesPerPeer))
        entry.lastSeen = max(entry.lastSeen, now.timeIntervalSince1970)
        entries[peer] = entry
        if entries.count > Self.maxPeers, let oldest = entries.min(by: { ($0.value.lastSeen, $0.key) < ($1.value.lastSeen, $1.key) })?.key {
            entries[oldest] = nil
        }
    }

    public mutating func forget(_ peer: PeerID) { entries[peer] = nil }

    // MARK: file

    private struct File: Codable {
        var version = 1
        var peers: [String: Entry]
    }

    /// Reads the peerstore at `url`; a missing file is an empty peerstore.
    /// - Throws: `TransportError(.malformed)` naming the file when it cannot be parsed (it is left as is).
    public static func load(from url: URL) throws(TransportError) -> Peerstore {
        guard let data = try? Data(contentsOf: url) else { return Peerstore() }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw TransportError(.malformed, "peerstore \(url.path) is not valid JSON (\(error)); fix or delete it, peers are relearned from bootstrap")
        }
        guard file.version == 1 else {
            throw TransportError(.malformed, "peerstore \(url.path) has version \(file.version), this PinMesh reads version 1")
        }
        var store = Peerstore()
        for (text, entry) in file.peers {
            guard let peer = try? PeerID(text) else { continue }
            store.entries[peer] = Entry(addresses: Array(entry.addresses.prefix(maxAddressesPerPeer)), lastSeen: entry.lastSeen)
        }
        return store
    }

    /// Writes atomically (a temporary file renamed over the old one), so a crash leaves the old or the new file.
    public func save(to url: URL) throws(TransportError) {
        let file = File(peers: Dictionary(uniqueKeysWithValues: entries.map { ("\($0.key)", $0.value) }))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(file).write(to: url, options: .atomic) } catch {
            throw TransportError(.unreachable, "cannot write the peerstore \(url.path): \(error)")
        }
    }
}
