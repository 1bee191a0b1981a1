public import Logging
public import ServiceLifecycle

/// A server (a Hummingbird application) running in a task of its own, stopped gracefully.
///
/// Cancelling a Hummingbird server's task while a connection is being accepted leaves that
/// connection's NIOAsyncChannel unfinished, which traps ("Deinited NIOAsyncWriter without
/// calling finish()", swift-nio issue 2637); a graceful shutdown stops accepting first and lets
/// every open connection finish.
public final class RunningApp: Sendable {
    let group: ServiceGroup
    let task: Task<Void, any Error>
    public let port: Int

    /// Starts the service `make` builds; `make` hands the bound port to its argument.
    public static func start<S: Service>(
        logger: Logger = Logger(label: "pinmesh.test.app"), _ make: (@escaping @Sendable (Int) async -> Void) throws -> S
    ) async throws -> RunningApp {
        let (ports, cont) = AsyncStream<Int>.makeStream()
        let service = try make { cont.yield($0) }
        let group = ServiceGroup(services: [service], logger: logger)
        let task = Task { try await group.run() }
        var it = ports.makeAsyncIterator()
        guard let port = await it.next() else {
            task.cancel()
            throw CancellationError()
        }
        return RunningApp(group: group, task: task, port: port)
    }

    init(group: ServiceGroup, task: Task<Void, any Error>, port: Int) {
        self.group = group
        self.task = task
        self.port = port
    }

    /// Stops accepting, lets open connections finish, and waits for the server to end.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
