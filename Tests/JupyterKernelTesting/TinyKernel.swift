import Foundation
import JupyterKernel
import JupyterProtocol

// MARK: - A test kernel beside the real one
//
// The kernel machinery (JupyterKernel) and its ZeroMQ server (JupyterZMQ) are tested against this
// tiny interpreter and an in-memory transport, the way swift-nio tests its channels on an embedded
// one; the Periscope interpreter is tested on its own in PeriscopeKernelTests.

/// A tiny but real interpreter for exercising the kernel machinery:
/// `fail` → error, `clear` → clear_output, `print X` → stdout, `show X` → display_data, `page X` → pager payload,
/// `wait` → loops until interrupted (2 s at most), anything else → execute_result echoing the code.
public final class TinyInterpreter: Interpreter, @unchecked Sendable {
    public init() {}

    private let lock = NSLock()
    private var _executed: [String] = []
    /// Every cell `execute` was called with, in order.
    public var executed: [String] { lock.lock(); defer { lock.unlock() }; return _executed }

    public var info: KernelInfo {
        KernelInfo(implementation: "tiny", implementationVersion: "0.1", languageName: "tiny", languageVersion: "1.0",
                   mimetype: "text/x-tiny", fileExtension: ".tiny", pygmentsLexer: "text", banner: "Tiny test language",
                   helpLinks: [(text: "Tiny", url: "https://example.org/tiny")])
    }

    public func execute(_ request: ExecuteRequest, io: ExecutionIO) -> ExecuteOutcome {
        lock.lock(); _executed.append(request.code); lock.unlock()
        let code = request.code
        if code == "fail" { return .error(name: "TinyError", value: "it failed", traceback: ["line 1, column 1: it failed"]) }
        if code == "wait" {
            let start = Date()
            while Date().timeIntervalSince(start) < 2 {
                if io.isInterrupted { return .error(name: "Interrupted", value: "interrupted", traceback: []) }
                usleep(2_000)
            }
            return .ok
        }
        if code == "clear" { io.clearOutput(wait: true); return .ok }
        if code.hasPrefix("print ") { io.stream("stdout", String(code.dropFirst(6)) + "\n"); return .ok }
        if code.hasPrefix("show ") {
            io.display(["text/plain": .string(String(code.dropFirst(5)))], metadata: [:], displayID: "d1", update: false)
            io.display(["text/plain": "updated"], metadata: [:], displayID: "d1", update: true)
            return .ok
        }
        if code.hasPrefix("page ") {
            io.payload(["source": "page", "data": ["text/plain": .string(String(code.dropFirst(5)))], "start": 0])
            return .ok
        }
        io.result(["text/plain": .string(code)], metadata: [:])
        return .ok
    }

    public func evaluate(expression: String) -> ExpressionResult {
        expression == "bad"
            ? .error(name: "TinyError", value: "bad expression", traceback: [])
            : .ok(data: ["text/plain": .string(expression.uppercased())], metadata: [:])
    }

    public func complete(code: String, cursorPosition: Int) -> Completion {
        Completion(matches: ["print", "page"].filter { $0.hasPrefix(code) }, cursorStart: 0, cursorEnd: cursorPosition)
    }

    public func inspect(code: String, cursorPosition: Int, detailLevel: Int) -> [String: JSONValue]? {
        code.hasPrefix("print") ? ["text/plain": .string("print: writes text (detail \(detailLevel))")] : nil
    }

    public func isComplete(code: String) -> CompletenessStatus {
        if code.hasSuffix("\\") { return .incomplete(indent: "  ") }
        if code.hasPrefix(")") { return .invalid }
        return .complete
    }
}

/// The in-memory transport: records what the core sends and lets tests queue shell requests.
public final class InMemoryServer: KernelServer, @unchecked Sendable {
    public init() {}

    private let lock = NSLock()
    private var _replies: [(channel: Channel, message: Message)] = []
    private var _published: [Message] = []
    private var _events: [String] = []
    /// "take" and "send:<msg_type>:<status>" in the order they happened.
    public var events: [String] { lock.lock(); defer { lock.unlock() }; return _events }
    /// Shell requests "already received" (what stop_on_error must abort).
    public var pending: [Message] = []

    public var replies: [(channel: Channel, message: Message)] { lock.lock(); defer { lock.unlock() }; return _replies }
    public var published: [Message] { lock.lock(); defer { lock.unlock() }; return _published }

    public func send(_ message: Message, on channel: Channel) {
        lock.lock()
        _replies.append((channel, message))
        _events.append("send:\(message.msgType):\(message.content["status"]?.stringValue ?? "")")
        lock.unlock()
    }

    public func publish(_ message: Message) {
        lock.lock(); _published.append(message); lock.unlock()
    }

    public func takePendingShellRequests() -> [Message] {
        lock.lock(); defer { lock.unlock() }
        _events.append("take")
        let taken = pending
        pending = []
        return taken
    }

    public func clear() {
        lock.lock(); _replies = []; _published = []; _events = []; lock.unlock()
    }

    /// Published messages as (msg_type, parent msg_id) pairs.
    public var publishedTypes: [String] { published.map(\.msgType) }
}

/// Builds a request message as a client would.
public func request(_ msgType: String, _ content: [String: JSONValue] = [:], id: String = Header.newMessageID()) -> Message {
    Message(identities: [Data("client".utf8)],
            header: Header(msgID: id, session: "client-session", username: "tester", msgType: msgType),
            content: .object(content))
}

/// A fresh temporary directory for history files.
public func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("periscope-kernel-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
