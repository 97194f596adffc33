import CZeroMQ
import Foundation
import JupyterKernel
import JupyterProtocol

/// The ZeroMQ side of the kernel: binds the five channels of a connection file and carries
/// messages between them and a `KernelCore`.
///
/// Threads (ZeroMQ sockets are not thread-safe, so each socket has one owner):
/// - the caller's thread serves shell (and drains stdin), where cells run;
/// - a control thread, so interrupt, shutdown and kernel_info answer while a cell runs;
/// - an iopub thread owning the XPUB socket: it forwards what others publish through an inproc
///   PUSH→PULL pipe (the PUSH end is guarded by a lock) and answers new subscriptions with
///   `iopub_welcome` (JEP 65);
/// - a heartbeat thread echoing on its REP socket.
public final class ZMQKernelServer: KernelServer, @unchecked Sendable {
    /// The connection as bound: a port given as 0 is replaced by the port the system chose.
    public private(set) var connection: ConnectionInfo
    private let codec: WireCodec
    private let context: UnsafeMutableRawPointer
    private let shell: ZMQSocket
    private let control: ZMQSocket
    private let stdin: ZMQSocket
    private let iopub: ZMQSocket
    private let heartbeat: ZMQSocket
    private let pipeIn: ZMQSocket
    private let pipeOut: ZMQSocket
    private let pipeLock = NSLock()
    /// Set once the kernel must stop; read by every loop.
    private let stopState = StopState()
    private let iopubStop = StopState()
    /// The session id used for kernel-originated messages (iopub_welcome); set by `run`.
    private var session = Header.newMessageID()
    /// Signatures already seen, to refuse replayed messages (as jupyter_client does).
    private var seenSignatures = Set<Data>()
    private let seenLock = NSLock()

    /// After a failed cell, how long to wait for queued requests still in flight.
    public var abortGracePeriod: TimeInterval = 0.02

    /// How long loops wait in zmq_poll before rechecking the stop flag.
    private let pollInterval = 100

    /// Binds every socket. Throws if a port is taken or the connection file asks for
    /// something this libzmq cannot do.
    public init(connection: ConnectionInfo) throws(ZMQKernelError) {
        self.connection = connection
        self.codec = WireCodec(signer: connection.signer)
        guard let ctx = zmq_ctx_new() else { throw .context }
        context = ctx
        shell = try ZMQSocket(context: ctx, type: ZMQ_ROUTER, name: "shell")
        control = try ZMQSocket(context: ctx, type: ZMQ_ROUTER, name: "control")
        stdin = try ZMQSocket(context: ctx, type: ZMQ_ROUTER, name: "stdin")
        iopub = try ZMQSocket(context: ctx, type: ZMQ_XPUB, name: "iopub")
        heartbeat = try ZMQSocket(context: ctx, type: ZMQ_REP, name: "hb")
        pipeIn = try ZMQSocket(context: ctx, type: ZMQ_PULL, name: "iopub-pipe-in")
        pipeOut = try ZMQSocket(context: ctx, type: ZMQ_PUSH, name: "iopub-pipe-out")

        do {
            try bindAll(connection)
        } catch {
            // Release what was opened, so a failed start leaves no ports or threads behind.
            close()
            throw error
        }
    }

    private func bindAll(_ connection: ConnectionInfo) throws(ZMQKernelError) {
        if connection.usesCurve, zmq_has("curve") == 0 { throw .curveUnavailable }
        let bound: [(ZMQSocket, Channel)] = [(shell, .shell), (control, .control), (stdin, .stdin), (iopub, .iopub), (heartbeat, .hb)]
        for (socket, channel) in bound {
            try socket.set(ZMQ_LINGER, 1000, name: "ZMQ_LINGER")
            if let secret = connection.curveSecretKey, let publicKey = connection.curvePublicKey {
                try socket.set(ZMQ_CURVE_SERVER, 1, name: "ZMQ_CURVE_SERVER")
                try socket.set(ZMQ_CURVE_SECRETKEY, secret, name: "ZMQ_CURVE_SECRETKEY")
                try socket.set(ZMQ_CURVE_PUBLICKEY, publicKey, name: "ZMQ_CURVE_PUBLICKEY")
            }
            if channel == .control || channel == .shell {
                // Let a reconnecting client with the same identity take over (ipykernel does this too).
                try socket.set(ZMQ_ROUTER_HANDOVER, 1, name: "ZMQ_ROUTER_HANDOVER")
            }
            if channel == .iopub {
                // Pass every subscription up, not only the first per topic, so each client gets a welcome.
                try socket.set(ZMQ_XPUB_VERBOSE, 1, name: "ZMQ_XPUB_VERBOSE")
            }
            if connection.transport == .tcp, connection.port(for: channel) == 0 {
                // Port 0: let the system choose, then record the port (ipykernel does the same).
                let host = connection.endpoint(for: channel).dropLast(2)  // strip ":0"
                try socket.bind("\(host):*")
                if let endpoint = socket.lastEndpoint(), let colon = endpoint.lastIndex(of: ":"),
                   let port = Int(endpoint[endpoint.index(after: colon)...]) {
                    self.connection.setPort(port, for: channel)
                }
            } else {
                try socket.bind(connection.endpoint(for: channel))
            }
        }
        let pipe = "inproc://periscope-iopub-\(UUID().uuidString)"
        try pipeIn.set(ZMQ_RCVHWM, 0, name: "ZMQ_RCVHWM")
        try pipeOut.set(ZMQ_SNDHWM, 0, name: "ZMQ_SNDHWM")
        try pipeIn.bind(pipe)
        try pipeOut.connect(pipe)
    }

    // MARK: - KernelServer

    public func send(_ message: Message, on channel: Channel) {
        let socket: ZMQSocket
        switch channel {
        case .shell: socket = shell
        case .control: socket = control
        case .stdin: socket = stdin
        case .iopub: publish(message); return
        case .hb: return
        }
        if !socket.send(codec.encode(message)) {
            KernelLog.warning("could not send \(message.msgType) on \(channel.rawValue): \(zmqErrorText())")
        }
    }

    public func publish(_ message: Message) {
        var m = message
        m.identities = []
        // ipykernel's topic form; subscribers to "" receive everything.
        let topic = Data("kernel.\(m.header.session).\(m.msgType)".utf8)
        let frames = [topic] + codec.encode(m)
        pipeLock.lock()
        let ok = pipeOut.send(frames)
        pipeLock.unlock()
        if !ok { KernelLog.warning("could not queue \(message.msgType) for iopub: \(zmqErrorText())") }
    }

    /// Drains the shell queue, waiting up to `abortGracePeriod` for requests still in flight
    /// (a client that sends several cells at once may still be sending).
    public func takePendingShellRequests() -> [Message] {
        var pending: [Message] = []
        let deadline = Date().addingTimeInterval(abortGracePeriod)
        while true {
            while let frames = shell.receive(dontWait: true) {
                if let m = decode(frames, channel: .shell) { pending.append(m) }
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, poll([shell], timeoutMilliseconds: Int(remaining * 1000) + 1)[0] else { return pending }
        }
    }

    // MARK: - Serving

    /// Serves `core` until a shutdown request arrives: control, iopub and heartbeat on their own
    /// threads, shell on the calling thread. Closes every socket before returning.
    public func run(core: KernelCore, onReady: () -> Void = {}) -> ShutdownReason {
        session = core.session
        let iopubDone = spawn("periscope-iopub") { [self] in iopubLoop() }
        let heartbeatDone = spawn("periscope-heartbeat") { [self] in heartbeatLoop() }
        let controlDone = spawn("periscope-control") { [self] in controlLoop(core) }
        core.start()
        onReady()
        shellLoop(core)

        controlDone.wait()
        heartbeatDone.wait()
        iopubStop.stop(.shutdown)
        iopubDone.wait()
        close()
        return stopState.reason ?? .shutdown
    }

    private var closed = false
    private let closeLock = NSLock()

    /// Closes every socket and the context (done by `run`; also on deinit for a server never run).
    /// Replies already sent on shell, control and iopub get up to a second to leave.
    public func close() {
        closeLock.lock()
        defer { closeLock.unlock() }
        guard !closed else { return }
        closed = true
        for socket in [stdin, heartbeat, pipeIn, pipeOut] { socket.close(lingerMilliseconds: 0) }
        for socket in [shell, control, iopub] { socket.close(lingerMilliseconds: 1000) }
        zmq_ctx_term(context)
    }

    deinit { close() }

    /// Asks every loop to stop (used by signals or embedding code; shutdown_request does it itself).
    public func requestStop(_ reason: ShutdownReason = .shutdown) { stopState.stop(reason) }

    private func shellLoop(_ core: KernelCore) {
        // Like ipykernel's parent poller: when Jupyter launched us (JPY_PARENT_PID) and our
        // parent dies, stop instead of lingering as an orphan.
        let watchParent = ProcessInfo.processInfo.environment["JPY_PARENT_PID"] != nil
        let parent = getppid()
        while !stopState.isStopped {
            if watchParent && getppid() != parent {
                KernelLog.warning("the process that started this kernel exited; shutting down.")
                stopState.stop(.shutdown)
                break
            }
            let ready = poll([shell, stdin], timeoutMilliseconds: pollInterval)
            if ready[1] {
                // No input_request is ever sent, so anything on stdin is unsolicited: drop it.
                while let frames = stdin.receive(dontWait: true) {
                    KernelLog.debug("dropping an unsolicited stdin message of \(frames.count) frames")
                }
            }
            guard ready[0], let frames = shell.receive(dontWait: true) else { continue }
            guard let message = decode(frames, channel: .shell) else { continue }
            if let reason = core.handle(message, on: .shell) { stopState.stop(reason) }
        }
    }

    private func controlLoop(_ core: KernelCore) {
        while !stopState.isStopped {
            guard poll([control], timeoutMilliseconds: pollInterval)[0],
                  let frames = control.receive(dontWait: true) else { continue }
            guard let message = decode(frames, channel: .control) else { continue }
            if let reason = core.handle(message, on: .control) { stopState.stop(reason) }
        }
    }

    private func heartbeatLoop() {
        while !stopState.isStopped {
            guard poll([heartbeat], timeoutMilliseconds: pollInterval)[0],
                  let frames = heartbeat.receive(dontWait: true) else { continue }
            heartbeat.send(frames)
        }
    }

    private func iopubLoop() {
        while true {
            let ready = poll([pipeIn, iopub], timeoutMilliseconds: pollInterval)
            if ready[0] {
                while let frames = pipeIn.receive(dontWait: true) {
                    // A subscriber that joined meanwhile gets its welcome before anything published
                    // after it joined (JEP 65: the welcome is its first message).
                    answerSubscriptions()
                    if !iopub.send(frames) { KernelLog.warning("iopub send failed: \(zmqErrorText())") }
                }
            }
            if ready[1] { answerSubscriptions() }
            if iopubStop.isStopped && !ready[0] {
                // Producers are gone; forward what is left, then stop.
                while let frames = pipeIn.receive(dontWait: true) { iopub.send(frames) }
                return
            }
        }
    }

    /// Sends iopub_welcome for every subscription frame waiting on the XPUB socket.
    private func answerSubscriptions() {
        while let frames = iopub.receive(dontWait: true) {
            for frame in frames { handleSubscription(frame) }
        }
    }

    /// XPUB delivers `\u{1}topic` for a subscription and `\u{0}topic` for an unsubscription.
    private func handleSubscription(_ frame: Data) {
        guard let kind = frame.first, kind == 1 else { return }
        guard let topic = String(data: frame.dropFirst(), encoding: .utf8) else { return }
        let welcome = Message(header: Header(session: session, msgType: "iopub_welcome"),
                              content: ["subscription": .string(topic)])
        let frames = (topic.isEmpty ? [] : [Data(topic.utf8)]) + codec.encode(welcome)
        if !iopub.send(frames) { KernelLog.warning("could not send iopub_welcome: \(zmqErrorText())") }
    }

    // MARK: - Decoding

    /// Decodes and verifies a received message; logs and returns nil when it must be dropped.
    private func decode(_ frames: [Data], channel: Channel) -> Message? {
        do {
            let message = try codec.decode(frames)
            if codec.signer.isEnabled, let split = frames.firstIndex(of: WireCodec.delimiter), split + 1 < frames.count {
                let signature = frames[split + 1]
                seenLock.lock()
                let fresh = seenSignatures.insert(signature).inserted
                if seenSignatures.count > 100_000 { seenSignatures.removeAll(keepingCapacity: true) }
                seenLock.unlock()
                guard fresh else {
                    KernelLog.warning("dropped message \(message.msgType) on \(channel.rawValue): its signature was already used (replayed message).")
                    return nil
                }
            }
            return message
        } catch {
            KernelLog.warning("dropped a message on \(channel.rawValue): \(error.description)")
            return nil
        }
    }
}

// MARK: - Helpers

/// The stop request shared by the loops.
final class StopState: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: ShutdownReason?
    var reason: ShutdownReason? { lock.lock(); defer { lock.unlock() }; return stored }
    var isStopped: Bool { reason != nil }
    func stop(_ r: ShutdownReason) {
        lock.lock()
        if stored == nil { stored = r }
        lock.unlock()
    }
}

/// Starts a named thread; `wait()` on the result blocks until it finishes.
func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) -> DispatchSemaphoreWaiter {
    let done = DispatchSemaphoreWaiter()
    let thread = Thread {
        body()
        done.signal()
    }
    thread.name = name
    thread.start()
    return done
}

/// A one-shot completion signal for a thread.
final class DispatchSemaphoreWaiter: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func signal() { semaphore.signal() }
    func wait() { semaphore.wait() }
}

extension ConnectionInfo {
    mutating func setPort(_ port: Int, for channel: Channel) {
        switch channel {
        case .shell: shellPort = port
        case .iopub: iopubPort = port
        case .stdin: stdinPort = port
        case .control: controlPort = port
        case .hb: hbPort = port
        }
    }
}
