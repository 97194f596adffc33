import Foundation
import JupyterProtocol

/// How `KernelCore` talks to the outside world. The ZeroMQ server implements it over sockets;
/// tests implement it in memory (the way swift-nio keeps an embedded transport beside the real one).
///
/// `send(_:on:)` for `.shell` is called only from the thread that handles shell requests, and for
/// `.control` only from the control thread; `publish(_:)` may be called from either and must be
/// safe to call concurrently.
public protocol KernelServer: AnyObject, Sendable {
    /// Sends a reply on `channel` (shell, control or stdin), addressed to `message.identities`.
    func send(_ message: Message, on channel: Channel)
    /// Broadcasts `message` on iopub.
    func publish(_ message: Message)
    /// Shell requests that already arrived but were not handled yet, removed from the queue.
    /// Called after a cell failed with stop_on_error and before its reply is sent, to abort the
    /// execute requests queued behind it. A transport may wait briefly for requests still in
    /// flight (a client sending several cells at once may still be sending).
    func takePendingShellRequests() -> [Message]
}

/// Why the kernel's serving loop ended.
public enum ShutdownReason: Sendable, Equatable {
    /// shutdown_request with `restart: false` (or the process was asked to stop).
    case shutdown
    /// shutdown_request with `restart: true`: the caller should start a fresh kernel.
    case restart
}

/// A minimal stderr logger for the protocol side (stdout belongs to nobody in a kernel).
public enum KernelLog {
    /// Set PERISCOPE_DEBUG=1 to also see debug lines.
    public static let debugEnabled = ProcessInfo.processInfo.environment["PERISCOPE_DEBUG"] == "1"

    public static func warning(_ text: String) { write("periscope kernel: \(text)\n") }

    public static func debug(_ text: @autoclosure () -> String) {
        if debugEnabled { write("periscope kernel [debug]: \(text())\n") }
    }

    private static func write(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }
}
