import Foundation
import JupyterKernel
import JupyterProtocol
import PeriscopeLanguage

/// An `ExecutionIO` for running scripts outside Jupyter: every output's text/plain goes to
/// `out`, stderr streams to `err`; progress bars (displays with an id) are left out.
public final class ConsoleIO: ExecutionIO {
    public let executionCount = 1
    /// Set from a signal handler to stop the running command.
    public var isInterrupted: Bool { interrupted.withLock { $0 } }
    private let interrupted = Mutex(false)
    private let out: (String) -> Void
    private let err: (String) -> Void

    public init(out: @escaping (String) -> Void, err: @escaping (String) -> Void) {
        self.out = out; self.err = err
    }

    /// Marks the running command as interrupted.
    public func interrupt() { interrupted.withLock { $0 = true } }

    public func stream(_ name: String, _ text: String) { name == "stderr" ? err(text) : out(text) }

    public func display(_ data: [String: JSONValue], metadata: [String: JSONValue], displayID: String?, update: Bool) {
        guard displayID == nil, !update else { return }
        writePlain(data)
    }

    public func result(_ data: [String: JSONValue], metadata: [String: JSONValue]) { writePlain(data) }

    public func clearOutput(wait: Bool) {}

    public func payload(_ entry: [String: JSONValue]) {
        if entry["source"] == "page", let data = entry["data"]?.objectValue { writePlain(data) }
    }

    private func writePlain(_ data: [String: JSONValue]) {
        guard let text = data["text/plain"]?.stringValue else { return }
        out(text.hasSuffix("\n") ? text : text + "\n")
    }
}

/// A tiny lock around a value (Synchronization's Mutex needs newer platforms on macOS).
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
}

/// Runs a whole script as one cell, printing each output's text; at the first error prints
/// `ename: evalue` and the traceback to `err`. Returns the process exit status (0 or 1).
///
/// A script with a syntax error still runs the statements before the one that fails (a script
/// is read top to bottom), then reports the error with the script's own line numbers.
public func runScript(_ source: String, interpreter: PeriscopeInterpreter = PeriscopeInterpreter(),
                      io: ConsoleIO, err: (String) -> Void) -> Int32 {
    if case .failure(let error) = parse(source) {
        // The longest run of whole lines before the error that parses on its own.
        let count = completeLineCount(of: source, before: error.location.line)
        if count > 0 {
            let prefix = source.split(separator: "\n", omittingEmptySubsequences: false)[0..<count]
                .joined(separator: "\n")
            if report(interpreter.execute(ExecuteRequest(code: prefix), io: io), err: err) != 0 { return 1 }
        }
    }
    return report(interpreter.execute(ExecuteRequest(code: source), io: io), err: err)
}

/// 0 for success; otherwise writes the error to `err` and returns 1.
private func report(_ outcome: ExecuteOutcome, err: (String) -> Void) -> Int32 {
    switch outcome {
    case .ok:
        return 0
    case .error(let name, let value, let traceback):
        err("\(name): \(value)\n" + traceback.map { $0 + "\n" }.joined())
        return 1
    }
}
