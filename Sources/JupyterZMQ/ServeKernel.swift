import Foundation
import JupyterKernel
import JupyterProtocol

/// Runs a Jupyter kernel for `interpreter` on the sockets described by `connectionFile` until a
/// shutdown request arrives. Returns `.restart` when the client asked for a restart.
///
/// History goes to `$PERISCOPE_HOME/history.jsonl` (default `~/.cache/periscope`). SIGINT is
/// turned into an interrupt of the running cell, like interrupt_request.
public func serveKernel(connectionFile: String, interpreter: Interpreter,
                        history: HistoryStore? = nil) throws -> ShutdownReason {
    // Block SIGINT before any thread starts, so every thread inherits the mask and only the
    // signal thread receives it.
    let entered = Date()
    SignalInterrupts.shared.install()
    let connection: ConnectionInfo
    do { connection = try ConnectionInfo(contentsOfFile: connectionFile) } catch {
        throw ZMQKernelError.connectionFile(error)
    }
    let server = try ZMQKernelServer(connection: connection)
    let core = KernelCore(interpreter: interpreter, server: server,
                          history: history ?? HistoryStore(fileURL: HistoryStore.defaultURL()))
    SignalInterrupts.shared.setTarget { [weak core] in core?.interrupt() }
    defer { SignalInterrupts.shared.setTarget(nil) }
    return server.run(core: core) {
        KernelLog.debug("ready (sockets bound, status starting sent) \(Int(Date().timeIntervalSince(entered) * 1000)) ms after serveKernel was called")
    }
}

/// SIGINT → interrupt. SIGINT is blocked in all threads and a dedicated thread waits for it
/// with `sigwait`, then calls the current target (set by the running kernel).
public final class SignalInterrupts: @unchecked Sendable {
    public static let shared = SignalInterrupts()
    private let lock = NSLock()
    private var installed = false
    private var target: (@Sendable () -> Void)?
    /// The sigwait thread, once it runs (tests direct a SIGINT at it with pthread_kill).
    private(set) var waiter: pthread_t?

    /// Blocks SIGINT in the calling thread (and so in threads it creates later) and starts the
    /// waiting thread. Call from the main thread before other threads start. Idempotent.
    public func install() {
        lock.lock()
        defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            lock.lock(); waiter = pthread_self(); lock.unlock()
            started.signal()
            var waitSet = sigset_t()
            sigemptyset(&waitSet)
            sigaddset(&waitSet, SIGINT)
            while true {
                var signal: Int32 = 0
                guard sigwait(&waitSet, &signal) == 0 else { continue }
                KernelLog.debug("SIGINT received")
                fire()
            }
        }
        thread.name = "periscope-sigint"
        thread.start()
        lock.unlock()
        started.wait()
        lock.lock()
        // Threads started before install (a BLAS pool created when its library loaded, say) still
        // have SIGINT unblocked; if one of them receives it, this handler hands it to the waiter
        // instead of letting the default action kill the kernel.
        sigintWaiterThread = waiter
        signal(SIGINT, { _ in
            if let thread = sigintWaiterThread { pthread_kill(thread, SIGINT) }
        })
    }

    /// Sets what SIGINT does (nil: nothing).
    public func setTarget(_ action: (@Sendable () -> Void)?) {
        lock.lock(); target = action; lock.unlock()
    }

    private func fire() {
        lock.lock(); let action = target; lock.unlock()
        action?()
    }
}

/// The sigwait thread, for the async-signal-safe forwarding handler (written once, before the
/// handler is installed).
nonisolated(unsafe) private var sigintWaiterThread: pthread_t?
