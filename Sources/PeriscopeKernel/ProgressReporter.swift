import Foundation
import JupyterKernel
import Rendering
import Transformer

/// The live progress bar of a long command (one that runs longer than about a second).
///
/// Nothing is shown for work that ends within `delay` (1 s). After that the bar appears as
/// display_data with a transient display_id, then changes through update_display_data at most
/// once per `interval` (0.1 s, i.e. 10 a second), and `finish()` sends a last update.
/// Reports from other threads are recorded and published by the next report on the thread
/// that owns `io` (ExecutionIO is single-threaded).
public final class ProgressReporter: @unchecked Sendable {
    /// Renders (fraction, label, elapsed seconds) into the bar's bundle.
    public typealias Renderer = @Sendable (_ fraction: Double, _ label: String, _ elapsed: Double) -> MimeBundle

    private let io: ExecutionIO
    private let now: @Sendable () -> Double
    private let render: Renderer
    private let delay: Double
    private let interval: Double
    private let owner = pthread_self()
    private let lock = NSLock()
    private let start: Double
    private var latest: (fraction: Double, label: String) = (0, "")
    private var lastSent = -Double.infinity
    private var finished = false

    /// The display_id of the bar, unique per command.
    public let displayID = "periscope-progress-" + UUID().uuidString.lowercased()
    /// Whether the bar has been put on screen.
    public private(set) var isShown = false
    /// How many update_display_data messages were sent (the first display excluded).
    public private(set) var updateCount = 0

    public init(io: ExecutionIO, delay: Double = 1.0, interval: Double = 0.1,
                now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime },
                render: @escaping Renderer = ProgressReporter.standardRenderer) {
        self.io = io; self.delay = delay; self.interval = interval; self.now = now; self.render = render
        self.start = now()
    }

    /// The bar as Rendering draws it.
    public static let standardRenderer: Renderer = { fraction, label, elapsed in
        progressBundle(fraction: fraction, label: label, elapsed: elapsed)
    }

    /// Records progress (0…1, clamped) and publishes it if the bar is due.
    public func report(_ fraction: Double, _ label: String = "") {
        lock.lock()
        latest = (min(max(fraction.isFinite ? fraction : 0, 0), 1), label)
        lock.unlock()
        guard pthread_equal(pthread_self(), owner) != 0 else { return }
        publishIfDue()
    }

    /// Ends the bar, if it was shown: at 100% when the work completed, or where it stood,
    /// marked "stopped", when it failed or was interrupted. Idempotent.
    public func finish(completed: Bool = true) {
        guard pthread_equal(pthread_self(), owner) != 0, !finished else { return }
        finished = true
        guard isShown else { return }
        lock.lock()
        let (fraction, label) = latest
        lock.unlock()
        let bundle = completed
            ? render(1, label, now() - start)
            : render(fraction, label.isEmpty ? "stopped" : "\(label) — stopped", now() - start)
        send(bundle, update: true)
    }

    private func publishIfDue() {
        guard !finished else { return }
        let time = now()
        if !isShown {
            guard time - start >= delay else { return }
            isShown = true
        } else {
            guard time - lastSent >= interval else { return }
        }
        lock.lock()
        let (fraction, label) = latest
        lock.unlock()
        send(render(fraction, label, time - start), update: lastSent != -Double.infinity)
        lastSent = time
    }

    private func send(_ bundle: MimeBundle, update: Bool) {
        if update { updateCount += 1 }
        io.display(jupyterData(bundle), metadata: [:], displayID: displayID, update: update)
    }

    /// A `TaskContext` for the model side: cancelled when the kernel's interrupt flag is set,
    /// reporting into this bar.
    func taskContext(interrupted flag: InterruptFlag) -> TaskContext {
        TaskContext(isCancelled: { flag.isSet }, progress: { [self] fraction, label in report(fraction, label) })
    }
}

/// Reads `ExecutionIO.isInterrupted` from the closures of a `TaskContext` (which must be Sendable;
/// the flag itself is set by the kernel's control thread and read atomically there).
final class InterruptFlag: @unchecked Sendable {
    private let io: ExecutionIO
    init(io: ExecutionIO) { self.io = io }
    var isSet: Bool { io.isInterrupted }
}
