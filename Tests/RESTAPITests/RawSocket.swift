import Foundation

/// A raw TCP connection to 127.0.0.1, for requests no HTTP client sends (half-sent headers,
/// broken chunked bodies). Reads wait on a thread of their own, so a blocked read never holds
/// one of the concurrency pool's threads, and every wait is bounded.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): \(message)")
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// What arrives until `done` holds for the text so far, the server closes the connection,
    /// or `within` passes; `closed` tells whether the server closed (or reset) it.
    func read(within: Duration, until done: @escaping @Sendable (String) -> Bool = { _ in false }) async -> (text: String, closed: Bool) {
        await withCheckedContinuation { continuation in
            let fd = self.fd
            Thread.detachNewThread {
                let deadline = ContinuousClock.now + within
                var bytes: [UInt8] = []
                var closed = false
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while !done(String(decoding: bytes, as: UTF8.self)) {
                    let left = deadline - ContinuousClock.now
                    guard left > .zero else { break }
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    let ms = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
                    guard poll(&p, 1, ms) > 0 else { continue }
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n <= 0 {
                        closed = true
                        break
                    }
                    bytes += buffer[0..<n]
                }
                continuation.resume(returning: (String(decoding: bytes, as: UTF8.self), closed))
            }
        }
    }

    /// Sends body bytes for as long as the server takes them, reading what it answers, until
    /// the server tears the connection down (a reset, or a send refused after it closed) or
    /// `within` passes: what a client that uploads the whole body before it gives up does.
    func upload(within: Duration) async -> (text: String, torndown: Bool) {
        await withCheckedContinuation { continuation in
            let fd = self.fd
            Thread.detachNewThread {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                let deadline = ContinuousClock.now + within
                var bytes: [UInt8] = []
                var eof = false
                var torndown = false
                let chunk = [UInt8](repeating: 0x61, count: 16_384)
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while !torndown {
                    let left = deadline - ContinuousClock.now
                    guard left > .zero else { break }
                    var p = pollfd(fd: fd, events: Int16(POLLOUT) | (eof ? 0 : Int16(POLLIN)), revents: 0)
                    let ms = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
                    guard poll(&p, 1, ms) > 0 else { continue }
                    if p.revents & Int16(POLLIN) != 0 || p.revents & Int16(POLLERR | POLLHUP) != 0 {
                        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                        if n > 0 { bytes += buffer[0..<n] } else if n == 0 { eof = true } else if errno != EAGAIN { torndown = true }
                    }
                    if !torndown, p.revents & Int16(POLLOUT) != 0 {
                        let n = chunk.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        if n < 0 && errno != EAGAIN { torndown = true }
                    }
                }
                continuation.resume(returning: (String(decoding: bytes, as: UTF8.self), torndown))
            }
        }
    }

    /// The status code of the first response in `text` (nil when there is none).
    static func status(_ text: String) -> Int? {
        guard text.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }
}
