import ArgumentParser
import ClusterTestKit
import Foundation
import Gossip
import Multiformats
import NIOConcurrencyHelpers
import NIOPosix
import Node
import SecureChannel
import Sodium
import Transport

/// `pinmesh-bench pubsub`: N real processes on loopback, one publishing, the others subscribed.
///
/// Baseline in the same run and processes: the publisher sends the same messages straight to
/// every other process as one-way RPC messages over the same secure transport (no pubsub).
struct PubSubNetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubsub",
        abstract: "Pubsub across real processes on loopback: delivered messages per second and latency, against direct sends.")

    @Option(help: "Processes (one publisher, the rest subscribers).") var processes = 5
    @Option(help: "Messages to publish.") var messages = 10_000
    @Option(help: "Payload bytes per message (at least 16).") var bytes = 256
    @Option(help: "Publish rate, messages per second.") var rate = 2000
    @Flag(help: "One JSON object instead of a table.") var json = false

    func validate() throws {
        guard processes >= 2, messages >= 1, bytes >= 16, bytes <= PubSubService.maxMessageBytes, rate >= 1 else {
            throw ValidationError("need --processes ≥ 2, --messages ≥ 1, --bytes within 16...\(PubSubService.maxMessageBytes), --rate ≥ 1")
        }
    }

    func run() async throws {
        let secret = SodiumRandom.bytes(32).map { String(format: "%02x", $0) }.joined()
        var children: [Child] = []
        for i in 0..<processes {
            children.append(try Child(arguments: [
                "pubsub-peer", "--secret", secret, "--messages", "\(messages)", "--bytes", "\(bytes)", "--rate", "\(rate)",
            ] + (i == 0 ? ["--publisher"] : [])))
        }
        defer { for c in children { c.terminate() } }
        let addresses = try children.map { try $0.expect("ADDR") }
        for c in children { c.send("PEERS " + addresses.joined(separator: " ")) }
        for c in children { _ = try c.expect("READY") }

        var fields: [(String, Double)] = [("processes", Double(processes)), ("messages", Double(messages)), ("bytes", Double(bytes))]
        var results: [String: (rate: Double, p50: Double, p99: Double, ratio: Double)] = [:]
        for phase in ["direct", "pubsub"] {
            progress("\(phase): \(messages) messages at \(rate)/s to \(processes - 1) processes")
            // Receivers first, so none resets its counters after the first messages arrived.
            for c in children.dropFirst() { c.send(phase.uppercased()) }
            for c in children.dropFirst() { _ = try c.expect("ARMED") }
            children[0].send(phase.uppercased())
            let sent = try children[0].expect("SENT").split(separator: " ").compactMap { Double($0) }
            var latencies: [Double] = []
            var received = 0.0
            var lastArrival = 0.0
            for c in children.dropFirst() {
                let parts = try c.expect("RESULT").split(separator: " ")
                received += Double(parts[0]) ?? 0
                lastArrival = max(lastArrival, Double(parts[1]) ?? 0)
                latencies += parts.dropFirst(2).compactMap { Double($0) }
            }
            latencies.sort()
            let pick = { (p: Double) in latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
            let seconds = max(lastArrival - sent[0], 1e-9) / 1e9
            results[phase] = (received / seconds, pick(0.5), pick(0.99), received / Double(messages * (processes - 1)))
        }
        for c in children { c.send("QUIT") }
        let d = results["direct"]!, p = results["pubsub"]!
        fields += [
            ("delivery_ratio", p.ratio), ("msgs_per_s", p.rate), ("latency_p50_ms", p.p50 / 1e6), ("latency_p99_ms", p.p99 / 1e6),
            ("direct_delivery_ratio", d.ratio), ("direct_msgs_per_s", d.rate), ("direct_latency_p99_ms", d.p99 / 1e6),
            ("ratio_rate_vs_direct", p.rate / d.rate), ("ratio_p99_vs_direct", p.p99 / max(d.p99, 1)),
        ]
        BenchReport.print(scenario: "pubsub", fields: fields, json: json)
    }

    private func progress(_ s: String) { FileHandle.standardError.write(Data("pubsub: \(s)...\n".utf8)) }
}

/// One child process of the benchmark, spoken to by lines on stdin and stdout.
final class Child {
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffer = Data()

    init(arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    func send(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

    /// The rest of the next line that starts with `tag` (other lines are skipped).
    func expect(_ tag: String) throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                if line.hasPrefix(tag + " ") || line == tag { return String(line.dropFirst(tag.count)).trimmingCharacters(in: .whitespaces) }
                continue
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw ValidationError("a benchmark process exited before saying \(tag)") }
            buffer += chunk
        }
    }

    func terminate() { if process.isRunning { process.terminate() } }

    /// The child's peak resident set (VmHWM), in MB.
    func peakRSS() -> Double { ProcessMemory.megabytes("VmHWM", pid: process.processIdentifier) }
}

/// The child side of `pinmesh-bench pubsub` (not for direct use).
struct PubSubPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pubsub-peer", shouldDisplay: false)

    @Option var secret: String
    @Option var messages: Int
    @Option var bytes: Int
    @Option var rate: Int
    @Flag var publisher = false

    static let topic = "bench/pubsub"
    static let directMethod = "bench/direct"

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let key = Ed25519.PrivateKey.generate()
        let secretBytes = stride(from: 0, to: secret.count, by: 2).map { i -> UInt8 in
            let s = secret.index(secret.startIndex, offsetBy: i)
            return UInt8(secret[s...secret.index(after: s)], radix: 16) ?? 0
        }
        let transport = SecureTransport(settings: HandshakeSettings(clusterSecret: SecureBytes(secretBytes), identity: key), group: group)
        let pubsub = try PubSubService(transport: transport, identity: key)
        await pubsub.start()
        let recorder = Recorder()
        transport.server.registerOneWay(Self.directMethod) { _, payload in recorder.record(payload) }
        let port = try await transport.listen()
        let me = "/ip4/127.0.0.1/tcp/\(port)/p2p/\(transport.localPeer)"
        say("ADDR \(me)")
        let lines = StdinLines()
        for await line in lines.stream {
            let words = line.split(separator: " ").map(String.init)
            switch words.first {
            case "PEERS":
                let others = Array(words.dropFirst())
                let mine = others.firstIndex(of: me)!
                for address in others[(mine + 1)...] { _ = try await transport.dial(try Multiaddr(address)) }
                let stream = await pubsub.subscribe(Self.topic)
                Task { for await m in stream { recorder.record(m.data) } }
                _ = await pubsub.waitForPeers(subscribedTo: Self.topic, count: others.count - 1, timeout: .seconds(20))
                say("READY")
            case "DIRECT", "PUBSUB":
                recorder.reset()
                let direct = words[0] == "DIRECT"
                if publisher {
                    let targets = transport.connectedPeers.compactMap { transport.connection(to: $0) }
                    let start = Self.monotonicNanos()
                    try await paced { data in
                        if direct { for t in targets { try t.send(Self.directMethod, data) } } else { try await pubsub.publish(Self.topic, data) }
                    }
                    say("SENT \(start) \(Self.monotonicNanos())")
                } else {
                    say("ARMED")
                    let deadline = ContinuousClock.now + .seconds(15) + .milliseconds(messages * 1000 / rate)
                    while recorder.count < messages, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
                    say("RESULT " + recorder.summary())
                }
            case "QUIT":
                await pubsub.stop()
                await transport.shutdown()
                try await group.shutdownGracefully()
                return
            default: continue
            }
        }
    }

    /// Calls `body` `messages` times with a payload stamped with the send time, at `rate` per second.
    private func paced(_ body: ([UInt8]) async throws -> Void) async throws {
        let start = ContinuousClock.now
        for k in 0..<messages {
            var data = [UInt8](repeating: 0, count: bytes)
            let t = Self.monotonicNanos(), n = UInt64(k)
            for b in 0..<8 { data[b] = UInt8(truncatingIfNeeded: t >> (8 * UInt64(b))); data[8 + b] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(b))) }
            try await body(data)
            let due = start + .nanoseconds(Int64(k + 1) * 1_000_000_000 / Int64(rate))
            if due > ContinuousClock.now, k % 10 == 9 { try await Task.sleep(until: due) }
        }
    }

    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
}

/// Latencies of received benchmark payloads (send time in the first 8 bytes, little-endian).
final class Recorder: @unchecked Sendable {
    private let lock = NIOLock()
    private var latencies: [UInt64] = []
    private var last: UInt64 = 0

    var count: Int { lock.withLock { latencies.count } }

    func reset() { lock.withLock { latencies = []; last = 0 } }

    func record(_ payload: [UInt8]) {
        let now = PubSubPeer.monotonicNanos()
        let sent = payload.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        lock.withLock {
            latencies.append(now &- sent)
            last = now
        }
    }

    /// `count last-arrival latency...` (a sample of up to 2,000 latencies, in ns).
    func summary() -> String {
        lock.withLock {
            let step = max(1, latencies.count / 2000)
            let sample = stride(from: 0, to: latencies.count, by: step).map { String(latencies[$0]) }
            return "\(latencies.count) \(last) " + sample.joined(separator: " ")
        }
    }
}

/// Lines of standard input, read on a thread of their own.
final class StdinLines: @unchecked Sendable {
    let stream: AsyncStream<String>

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        self.stream = stream
        Thread.detachNewThread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
    }
}
