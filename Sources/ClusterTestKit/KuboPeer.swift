public import Foundation
public import Multiformats

/// A real kubo 0.22 node in a child process, for interop tests: `python3 Tests/Compat/kubo_peer.py`
/// (its docstring is the wire protocol and the list of what keeps kubo on loopback).
///
/// - The node listens on 127.0.0.1 with an OS-assigned TCP port, has an Ed25519 identity, no
///   bootstrap peers, and refuses every address outside 127.0.0.0/8.
/// - Its repo and logs live in ``directory`` (a fresh temporary folder, removed by ``stop()``):
///   `repo/` (kubo's own log: `repo/kubo.log`) and `stderr.log` (the harness's log).
/// - Replies are read on a dedicated thread and matched to requests by sequence number; every
///   wait is bounded (start: `readyTimeout`; a request: its own timeout plus ``replySlack``),
///   so no task waits forever on a dead or stuck kubo.
/// - Starting one sets SIGPIPE to ignored in this process, so writing to a dead child fails
///   with an error instead of killing the tests.
/// - A peer not stopped is killed when released.
public final class KuboPeer: @unchecked Sendable {
    /// kubo_peer.py's `--routing`.
    public enum Routing: String, Sendable {
        /// No providing, DHT client mode (kubo still builds its DHT; it has no peers but yours).
        case none
        /// Providing on, both DHTs in server mode (see the harness's note on the LAN DHT).
        case dht
    }

    /// What a request may take beyond its own timeout before the wait gives up.
    public static let replySlack: Duration = .seconds(10)

    public let id: PeerID
    /// TCP listen addresses on 127.0.0.1, without `/p2p/`.
    public let addrs: [Multiaddr]
    /// `addrs[0]/p2p/id`: the address another node dials.
    public let dialAddress: Multiaddr
    public let directory: URL
    let process: Process
    let input: FileHandle
    let inbox: KuboPeerInbox
    private let lock = NSLock()
    private var nextSeq = 1
    private var stopped = false

    init(ready: Ready, directory: URL, process: Process, input: FileHandle, inbox: KuboPeerInbox) {
        id = ready.id
        addrs = ready.addrs
        dialAddress = ready.dialAddress
        self.directory = directory
        self.process = process
        self.input = input
        self.inbox = inbox
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        if !stopped { try? FileManager.default.removeItem(at: directory) }
    }

    struct Ready {
        let id: PeerID
        let addrs: [Multiaddr]
        let dialAddress: Multiaddr
    }

    /// Launches a kubo and waits (at most `readyTimeout`) until it is listening.
    public static func start(routing: Routing = .none, readyTimeout: Duration = .seconds(60)) async throws(KuboPeerError) -> KuboPeer {
        if let reason = availability() { throw KuboPeerError(.unavailable, reason) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubo-peer-\(UUID().uuidString)")
        let inbox = KuboPeerInbox()
        let (process, input) = try launch(routing: routing, in: directory, inbox: inbox)
        let outcome = await inbox.wait(for: KuboPeerInbox.readySlot, within: readyTimeout)
        do {
            let ready = try readiness(outcome, within: readyTimeout)
            return KuboPeer(ready: ready, directory: directory, process: process, input: input, inbox: inbox)
        } catch {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let log = stderrTail(of: directory)
            try? FileManager.default.removeItem(at: directory)
            throw KuboPeerError(.startFailed, "\(error.message) (harness stderr: \(log))")
        }
    }

    static func launch(routing: Routing, in directory: URL, inbox: KuboPeerInbox) throws(KuboPeerError) -> (Process, FileHandle) {
        let stdin = Pipe()
        let stdout = Pipe()
        let process = Process()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let errPath = directory.appendingPathComponent("stderr.log").path
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            guard let errors = FileHandle(forWritingAtPath: errPath), let python = python3() else {
                throw KuboPeerError(.startFailed, "cannot write \(errPath) or find python3")
            }
            process.executableURL = python
            process.arguments = [
                harnessScript.path, "--repo", directory.appendingPathComponent("repo").path, "--routing", routing.rawValue,
            ]
            process.currentDirectoryURL = directory
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = errors
            inbox.expect(KuboPeerInbox.readySlot)
            inbox.expect(KuboPeerInbox.exitSlot)
            process.terminationHandler = { inbox.processExited($0.terminationStatus) }
            signal(SIGPIPE, SIG_IGN)
            try process.run()
            try? errors.close()
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw KuboPeerError(.startFailed, "could not launch python3 \(harnessScript.path): \(error)")
        }
        readLines(stdout.fileHandleForReading, into: inbox)
        return (process, stdin.fileHandleForWriting)
    }

    static func readiness(_ outcome: KuboPeerInbox.Outcome, within limit: Duration) throws(KuboPeerError) -> Ready {
        switch outcome {
        case .reply(let reply):
            guard reply.ready == true, let id = reply.id, let first = reply.addrs?.first else {
                throw KuboPeerError(.startFailed, "kubo did not start: \(reply.error ?? "its ready line has no id or address")")
            }
            guard let dial = try? Multiaddr("\(first)/p2p/\(id)") else {
                throw KuboPeerError(.badReply, "kubo's address \(first) does not take /p2p/\(id)")
            }
            return Ready(id: id, addrs: reply.addrs ?? [], dialAddress: dial)
        case .closed, .exited:
            throw KuboPeerError(.startFailed, "kubo_peer exited before it was ready")
        case .timedOut:
            throw KuboPeerError(.startFailed, "kubo was not ready within \(limit)")
        }
    }

    /// Reads `handle` line by line on a thread of its own until EOF (one `read(2)` at a time:
    /// FileHandle's reads wait for a full count).
    static func readLines(_ handle: FileHandle, into inbox: KuboPeerInbox) {
        let thread = Thread {
            var buffer = Data()
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                buffer.append(contentsOf: chunk[0..<count])
                while let newline = buffer.firstIndex(of: 0x0A) {
                    inbox.deliver(line: Data(buffer[buffer.startIndex..<newline]))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            try? handle.close()
            inbox.closeOutput()
        }
        thread.name = "kubo-peer-reader"
        thread.start()
    }

    /// Sends `request` and waits for its reply (at most `wait`); throws unless the reply is ok.
    func call(_ request: KuboPeerRequest, wait: Duration) async throws(KuboPeerError) -> KuboPeerReply {
        var request = request
        request.seq = lock.withLock {
            defer { nextSeq += 1 }
            return nextSeq
        }
        inbox.expect(request.seq)
        do {
            let line = try JSONEncoder().encode(request) + Data([0x0A])
            try lock.withLock { try input.write(contentsOf: line) }
        } catch {
            inbox.resolve(request.seq, .closed)
        }
        switch await inbox.wait(for: request.seq, within: wait) {
        case .reply(let reply):
            guard reply.ok == true else {
                throw KuboPeerError(.refused, "kubo: \(request.cmd) failed: \(reply.error ?? "no reason given")")
            }
            return reply
        case .closed, .exited:
            throw KuboPeerError(.exited, "kubo_peer exited before answering \(request.cmd) (harness stderr: \(Self.stderrTail(of: directory)))")
        case .timedOut:
            throw KuboPeerError(.timedOut, "kubo did not answer \(request.cmd) within \(wait) (the harness may be stuck: see \(directory.path))")
        }
    }

    /// Quits the node and waits for the process (30 s, then kills it); removes ``directory``.
    /// Returns the exit status (0: a clean close), nil when it had to be killed or was stopped already.
    @discardableResult
    public func stop() async -> Int32? {
        let first = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return nil }
        _ = try? await call(KuboPeerRequest(cmd: "quit"), wait: .seconds(30))
        try? lock.withLock { try input.close() }
        var status: Int32?
        if case .exited(let code) = await inbox.wait(for: KuboPeerInbox.exitSlot, within: .seconds(30)) {
            status = code
        } else {
            inbox.expect(KuboPeerInbox.exitSlot)
            kill(process.processIdentifier, SIGKILL)
            _ = await inbox.wait(for: KuboPeerInbox.exitSlot, within: .seconds(10))
        }
        try? FileManager.default.removeItem(at: directory)
        return status
    }

    /// The last 2,000 characters of the harness's stderr in `directory`.
    static func stderrTail(of directory: URL) -> String {
        let data = (try? Data(contentsOf: directory.appendingPathComponent("stderr.log"))) ?? Data()
        let text = String(decoding: data.suffix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "empty" : text
    }
}
