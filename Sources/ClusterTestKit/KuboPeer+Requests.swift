public import Multiformats

extension KuboPeer {
    /// The node's identity and listen addresses, asked again.
    public func identify() async throws(KuboPeerError) -> (id: PeerID, addrs: [Multiaddr]) {
        let reply = try await call(KuboPeerRequest(cmd: "id"), wait: Self.replySlack)
        guard let id = reply.id, let addrs = reply.addrs else { throw missing("id and addrs", in: reply) }
        return (id, addrs)
    }

    /// Adds the file or folder at `path` with kubo's default import (CIDv0, 256 KiB chunks,
    /// balanced), pinned recursively unless `onlyHash`; its root CID.
    public func add(path: String, onlyHash: Bool = false, timeout: Duration = .seconds(120)) async throws(KuboPeerError) -> CID {
        let request = KuboPeerRequest(cmd: "add", path: path, onlyHash: onlyHash, timeoutS: seconds(timeout))
        let reply = try await call(request, wait: timeout + Self.replySlack)
        guard let cid = reply.cid else { throw missing("cid", in: reply) }
        return cid
    }

    /// Connects to `addr` (which ends in `/p2p/<peer ID>`).
    public func connect(_ addr: Multiaddr, timeout: Duration = .seconds(15)) async throws(KuboPeerError) {
        let request = KuboPeerRequest(cmd: "connect", addr: addr.description, timeoutS: seconds(timeout))
        _ = try await call(request, wait: timeout + Self.replySlack)
    }

    /// The connected peers, as `<addr>/p2p/<peer ID>`, sorted.
    public func peers() async throws(KuboPeerError) -> [Multiaddr] {
        let reply = try await call(KuboPeerRequest(cmd: "peers"), wait: Self.replySlack)
        guard let peers = reply.peers else { throw missing("peers", in: reply) }
        return peers
    }

    /// Fetches `cid` (over bitswap when missing) and writes it to `dest` (a folder for a
    /// directory); the bytes written. A download still running at `timeout` is reported as
    /// failed and may still write `dest` later.
    public func download(cid: CID, to dest: String, timeout: Duration = .seconds(30)) async throws(KuboPeerError) -> Int {
        let request = KuboPeerRequest(cmd: "download", cid: cid.description, dest: dest, timeoutS: seconds(timeout))
        let reply = try await call(request, wait: timeout + Self.replySlack)
        guard let bytes = reply.bytes else { throw missing("bytes", in: reply) }
        return bytes
    }

    /// Pins `cid` recursively, fetching what is missing.
    public func pin(_ cid: CID, timeout: Duration = .seconds(30)) async throws(KuboPeerError) {
        let request = KuboPeerRequest(cmd: "pin", cid: cid.description, timeoutS: seconds(timeout))
        _ = try await call(request, wait: timeout + Self.replySlack)
    }

    /// Removes the recursive pin of `cid`.
    public func unpin(_ cid: CID, timeout: Duration = .seconds(30)) async throws(KuboPeerError) {
        let request = KuboPeerRequest(cmd: "unpin", cid: cid.description, timeoutS: seconds(timeout))
        _ = try await call(request, wait: timeout + Self.replySlack)
    }

    /// Every pinned CID, sorted: recursive, direct and indirect alike (the library does not
    /// say which).
    public func pins() async throws(KuboPeerError) -> [CID] {
        let reply = try await call(KuboPeerRequest(cmd: "pins"), wait: Self.replySlack)
        guard let pins = reply.pins else { throw missing("pins", in: reply) }
        return pins
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    private func missing(_ fields: String, in reply: KuboPeerReply) -> KuboPeerError {
        KuboPeerError(.badReply, "kubo's reply to \(reply.cmd ?? "a request") has no \(fields)")
    }
}
