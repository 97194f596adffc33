import Foundation
import JupyterKernel
import JupyterProtocol
@testable import PeriscopeKernel

/// An `ExecutionIO` that records every output instead of sending it, for tests without sockets.
final class RecordingIO: ExecutionIO, @unchecked Sendable {
    enum Output: Equatable {
        case stream(name: String, text: String)
        case display(data: [String: JSONValue], displayID: String?, update: Bool)
        case result(data: [String: JSONValue])
        case clear
        case payload([String: JSONValue])
    }

    var outputs: [Output] = []
    var executionCount = 1
    /// Set from any thread (as the kernel's control thread does).
    var isInterrupted: Bool {
        get { lock.lock(); defer { lock.unlock() }; return interrupted }
        set { lock.lock(); interrupted = newValue; lock.unlock() }
    }
    private var interrupted = false
    private let lock = NSLock()

    func stream(_ name: String, _ text: String) { outputs.append(.stream(name: name, text: text)) }
    func display(_ data: [String: JSONValue], metadata: [String: JSONValue], displayID: String?, update: Bool) {
        outputs.append(.display(data: data, displayID: displayID, update: update))
    }
    func result(_ data: [String: JSONValue], metadata: [String: JSONValue]) { outputs.append(.result(data: data)) }
    func clearOutput(wait: Bool) { outputs.append(.clear) }
    func payload(_ entry: [String: JSONValue]) { outputs.append(.payload(entry)) }

    /// text/plain of the execute_results, in order.
    var results: [String] {
        outputs.compactMap { if case .result(let d) = $0 { return d["text/plain"]?.stringValue }; return nil }
    }
    /// text/plain of display_data messages that are not progress bars.
    var displays: [String] {
        outputs.compactMap {
            if case .display(let d, nil, false) = $0 { return d["text/plain"]?.stringValue }
            return nil
        }
    }
    /// Sets `isInterrupted` after `delay` seconds from a thread of its own, as the kernel's control
    /// thread does, and returns when that is due. A thread of its own, not a dispatch queue: the
    /// forward pass keeps the dispatch pool's threads busy, and a block queued there can wait
    /// behind them for a second, which would time the queue instead of the interrupt.
    @discardableResult
    func interrupt(after delay: TimeInterval) -> Date {
        let due = Date().addingTimeInterval(delay)
        let thread = Thread { [self] in
            Thread.sleep(until: due)
            isInterrupted = true
        }
        thread.start()
        return due
    }

    /// stdout text joined.
    var stdout: String {
        outputs.compactMap { if case .stream("stdout", let t) = $0 { return t }; return nil }.joined()
    }
}

/// Only the general verbs, so these tests do not depend on which model verbs are registered.
func generalInterpreter() -> PeriscopeInterpreter {
    PeriscopeInterpreter(table: CommandTable([HelpCommand.spec, PrintCommand.spec, ShowCommand.spec, SleepCommand.spec]))
}
