import Foundation
import JupyterProtocol

/// The protocol brain of the kernel: dispatches each request to its handler, brackets it with
/// status busy/idle on iopub, keeps the execution counter and history, and turns the
/// `Interpreter`'s answers into replies (xeus's `xkernel_core` plays this part).
///
/// Threading: `handle(_:on: .shell)` runs on one shell thread; `handle(_:on: .control)` may run
/// concurrently on a control thread and touches only thread-safe state (cached kernel info,
/// the interrupt flag). The interpreter is only ever called from the shell thread.
public final class KernelCore: @unchecked Sendable {
    /// This kernel's session id, written into every header it sends.
    public let session: String
    public let history: HistoryStore
    private let interpreter: Interpreter
    private let server: KernelServer
    /// Captured at start so control-thread kernel_info never calls into the interpreter.
    private let info: KernelInfo
    /// Shell thread only.
    private var executionCount = 0
    private let interruptFlag = AtomicFlag()

    public init(interpreter: Interpreter, server: KernelServer, history: HistoryStore,
                session: String = Header.newMessageID()) {
        self.interpreter = interpreter
        self.server = server
        self.history = history
        self.session = session
        self.info = interpreter.info
    }

    /// The execution counter (the number of the last cell that stored history).
    public var currentExecutionCount: Int { executionCount }

    /// Publishes `status: starting`; call once when the sockets are bound.
    public func start() {
        server.publish(iopubMessage("status", ["execution_state": "starting"], parent: nil))
    }

    /// Sets the interrupt flag seen by `ExecutionIO.isInterrupted` (interrupt_request, SIGINT).
    public func interrupt() { interruptFlag.set(true) }

    /// Whether an interrupt arrived since the current cell started.
    public var isInterrupted: Bool { interruptFlag.value }

    // MARK: - Dispatch

    /// Handles one request that arrived on `channel`. Returns a reason when the request asked
    /// the kernel to stop (shutdown_request); the caller then stops serving.
    @discardableResult
    public func handle(_ request: Message, on channel: Channel) -> ShutdownReason? {
        var queuedBehindError: [Message] = []
        publish("status", ["execution_state": "busy"], parent: request)
        let reason = dispatch(request, on: channel, queuedBehindError: &queuedBehindError)
        publish("status", ["execution_state": "idle"], parent: request)

        // stop_on_error: the execute requests that were queued behind the failed cell are aborted;
        // anything else queued is handled as usual.
        var finalReason = reason
        for queued in queuedBehindError {
            if queued.msgType == "execute_request" {
                publish("status", ["execution_state": "busy"], parent: queued)
                KernelLog.debug("aborting \(queued.header.msgID) after an error")
                let reply = Message.reply(to: queued, msgType: "execute_reply", content: ["status": "aborted"],
                                          session: session, metadata: ["status": "aborted"])
                server.send(reply, on: .shell)
                publish("status", ["execution_state": "idle"], parent: queued)
            } else if let r = handle(queued, on: .shell) {
                finalReason = r
                break  // a queued shutdown ends the kernel; nothing after it is served
            }
        }
        return finalReason
    }

    private func dispatch(_ request: Message, on channel: Channel, queuedBehindError: inout [Message]) -> ShutdownReason? {
        let type = request.msgType
        let fields = Fields(request.content.objectValue ?? [:])
        do {
            switch type {
            case "kernel_info_request":
                reply(request, on: channel, kernelInfoContent())
            case "shutdown_request":
                let restart = try fields.bool("restart", default: false)
                let content: JSONValue = ["status": "ok", "restart": .bool(restart)]
                reply(request, on: channel, content)
                // ipykernel also broadcasts the reply so every client learns of the shutdown.
                server.publish(iopubMessage("shutdown_reply", content, parent: request))
                interrupt()  // let a running cell stop
                return restart ? .restart : .shutdown
            case "interrupt_request":
                interrupt()
                reply(request, on: channel, ["status": "ok"])
            case _ where channel == .control:
                throw RequestError.notOnControl(type)
            case "execute_request":
                queuedBehindError = try execute(request, fields)
            case "complete_request":
                let code = try fields.string("code")
                let cursor = clampCursor(try fields.int("cursor_pos", default: code.scalarCount), code)
                let c = interpreter.complete(code: code, cursorPosition: cursor)
                reply(request, on: channel, [
                    "status": "ok", "matches": .array(c.matches.map { .string($0) }),
                    "cursor_start": .int(c.cursorStart), "cursor_end": .int(c.cursorEnd), "metadata": .object(c.metadata),
                ])
            case "inspect_request":
                let code = try fields.string("code")
                let cursor = clampCursor(try fields.int("cursor_pos", default: code.scalarCount), code)
                let detail = try fields.int("detail_level", default: 0)
                let data = interpreter.inspect(code: code, cursorPosition: cursor, detailLevel: detail)
                reply(request, on: channel, [
                    "status": "ok", "found": .bool(data != nil), "data": .object(data ?? [:]), "metadata": [:],
                ])
            case "is_complete_request":
                let code = try fields.string("code")
                switch interpreter.isComplete(code: code) {
                case .complete: reply(request, on: channel, ["status": "complete"])
                case .incomplete(let indent): reply(request, on: channel, ["status": "incomplete", "indent": .string(indent)])
                case .invalid: reply(request, on: channel, ["status": "invalid"])
                case .unknown: reply(request, on: channel, ["status": "unknown"])
                }
            case "history_request":
                reply(request, on: channel, try historyContent(fields))
            case "comm_info_request":
                _ = try fields.optionalString("target_name")
                reply(request, on: channel, ["status": "ok", "comms": [:]])
            case "comm_open":
                // No comm targets exist: close the comm politely, as ipykernel does for unknown targets.
                let id = try fields.string("comm_id")
                KernelLog.debug("comm_open for target \(fields.raw["target_name"]?.stringValue ?? "?") refused")
                publish("comm_close", ["comm_id": .string(id), "data": [:]], parent: request)
            case "comm_msg", "comm_close":
                KernelLog.debug("ignoring \(type): this kernel has no comms")
            default:
                throw RequestError.unknownType(type)
            }
        } catch let error as RequestError {
            KernelLog.warning("\(type) on \(channel.rawValue): \(error.description)")
            if type.hasSuffix("_request") {
                var content: [String: JSONValue] = [
                    "status": "error", "ename": .string(error.ename), "evalue": .string(error.description), "traceback": [],
                ]
                if type == "execute_request" {
                    content["execution_count"] = .int(executionCount)
                    content["user_expressions"] = [:]
                    content["payload"] = []
                }
                reply(request, on: channel, .object(content), msgType: Self.replyType(for: type))
            }
        } catch {
            KernelLog.warning("\(type): \(error)")
        }
        return nil
    }

    // MARK: - execute

    /// Runs a cell. When it fails with stop_on_error, returns the shell requests queued behind it,
    /// taken from the transport *before* the error reply leaves: a client cannot have seen the
    /// error yet, so every execute request among them was sent blind and is aborted.
    private func execute(_ request: Message, _ fields: Fields) throws(RequestError) -> [Message] {
        let code = try fields.string("code")
        let silent = try fields.bool("silent", default: false)
        let storeHistory = try fields.bool("store_history", default: !silent) && !silent
        let allowStdin = try fields.bool("allow_stdin", default: false)
        let stopOnError = try fields.bool("stop_on_error", default: true)
        let expressions = try fields.object("user_expressions", default: [:])
        var expressionCode: [(String, String)] = []
        for (name, value) in expressions.sorted(by: { $0.key < $1.key }) {
            guard let source = value.stringValue else {
                throw .wrongType(field: "user_expressions.\(name)", expected: "a string")
            }
            expressionCode.append((name, source))
        }

        interruptFlag.set(false)
        let started = Header.timestamp()
        if storeHistory {
            executionCount += 1
            history.append(line: executionCount, source: code)
        }
        let count = executionCount
        if !silent {
            publish("execute_input", ["code": .string(code), "execution_count": .int(count)], parent: request)
        }

        let io = CellIO(core: self, parent: request, silent: silent, executionCount: count)
        let outcome = interpreter.execute(
            ExecuteRequest(code: code, silent: silent, storeHistory: storeHistory, allowStdin: allowStdin,
                           stopOnError: stopOnError), io: io)
        io.close()
        releaseFreedMemory()

        var content: [String: JSONValue] = ["execution_count": .int(count), "payload": .array(io.payloads.map { .object($0) })]
        let failed: Bool
        switch outcome {
        case .ok:
            failed = false
            content["status"] = "ok"
            var results: [String: JSONValue] = [:]
            for (name, source) in expressionCode {
                switch interpreter.evaluate(expression: source) {
                case .ok(let data, let metadata):
                    results[name] = ["status": "ok", "data": .object(data), "metadata": .object(metadata)]
                case .error(let ename, let evalue, let traceback):
                    results[name] = ["status": "error", "ename": .string(ename), "evalue": .string(evalue),
                                     "traceback": .array(traceback.map { .string($0) })]
                }
            }
            content["user_expressions"] = .object(results)
        case .error(let ename, let evalue, let traceback):
            failed = true
            let error: [String: JSONValue] = [
                "ename": .string(ename), "evalue": .string(evalue), "traceback": .array(traceback.map { .string($0) }),
            ]
            if !silent { publish("error", .object(error), parent: request) }
            content.merge(error) { _, new in new }
            content["status"] = "error"
            content["user_expressions"] = [:]
        }
        let queued = failed && !silent && stopOnError ? server.takePendingShellRequests() : []
        if !queued.isEmpty { KernelLog.debug("stop_on_error: \(queued.count) request(s) queued behind the failed cell") }
        let status = content["status"] ?? "ok"
        let metadata: [String: JSONValue] = ["started": .string(started), "status": status, "dependencies_met": true]
        server.send(Message.reply(to: request, msgType: "execute_reply", content: .object(content),
                                  session: session, metadata: metadata), on: .shell)
        return queued
    }

    // MARK: - Replies

    private func kernelInfoContent() -> JSONValue {
        var language: [String: JSONValue] = [
            "name": .string(info.languageName), "version": .string(info.languageVersion),
            "mimetype": .string(info.mimetype), "file_extension": .string(info.fileExtension),
            "nbconvert_exporter": "script",
        ]
        if let lexer = info.pygmentsLexer { language["pygments_lexer"] = .string(lexer) }
        if let mode = info.codemirrorMode { language["codemirror_mode"] = .string(mode) }
        return [
            "status": "ok",
            "protocol_version": .string(Header.protocolVersion),
            "implementation": .string(info.implementation),
            "implementation_version": .string(info.implementationVersion),
            "language_info": .object(language),
            "banner": .string(info.banner),
            "help_links": .array(info.helpLinks.map { ["text": .string($0.text), "url": .string($0.url)] }),
            "debugger": false,
        ]
    }

    private func historyContent(_ fields: Fields) throws(RequestError) -> JSONValue {
        let output = try fields.bool("output", default: false)
        _ = try fields.bool("raw", default: true)
        let access = try fields.string("hist_access_type", default: "tail")
        let entries: [HistoryStore.Entry]
        switch access {
        case "tail":
            entries = history.tail(try fields.int("n", default: 10))
        case "range":
            entries = history.range(session: try fields.int("session", default: 0),
                                    start: try fields.int("start", default: 1),
                                    stop: try fields.optionalInt("stop"))
        case "search":
            entries = history.search(pattern: try fields.string("pattern", default: "*"),
                                     n: try fields.optionalInt("n"),
                                     unique: try fields.bool("unique", default: false))
        default:
            throw .wrongType(field: "hist_access_type", expected: "one of \"tail\", \"range\", \"search\"")
        }
        // Outputs are not stored; with output=true each input is paired with null.
        let rows: [JSONValue] = entries.map {
            let input: JSONValue = output ? [.string($0.source), .null] : .string($0.source)
            return [.int($0.session), .int($0.line), input]
        }
        return ["status": "ok", "history": .array(rows)]
    }

    private func clampCursor(_ cursor: Int, _ code: String) -> Int { min(max(cursor, 0), code.scalarCount) }

    static func replyType(for requestType: String) -> String {
        requestType.hasSuffix("_request") ? String(requestType.dropLast("_request".count)) + "_reply" : requestType + "_reply"
    }

    // MARK: - Sending

    private func reply(_ request: Message, on channel: Channel, _ content: JSONValue, msgType: String? = nil) {
        let type = msgType ?? Self.replyType(for: request.msgType)
        server.send(Message.reply(to: request, msgType: type, content: content, session: session), on: channel)
    }

    fileprivate func publish(_ msgType: String, _ content: JSONValue, parent: Message) {
        server.publish(iopubMessage(msgType, content, parent: parent))
    }

    private func iopubMessage(_ msgType: String, _ content: JSONValue, parent: Message?) -> Message {
        Message(header: Header(session: session, msgType: msgType),
                parentHeader: parent?.header.objectValue ?? [:], content: content)
    }
}

// MARK: - ExecutionIO

/// The `ExecutionIO` of one execute_request: outputs go to iopub with the request as parent.
private final class CellIO: ExecutionIO {
    private weak var core: KernelCore?
    private let parent: Message
    private let silent: Bool
    let executionCount: Int
    private(set) var payloads: [[String: JSONValue]] = []
    private var closed = false

    init(core: KernelCore, parent: Message, silent: Bool, executionCount: Int) {
        self.core = core; self.parent = parent; self.silent = silent; self.executionCount = executionCount
    }

    /// Outputs after the reply would confuse clients; they are dropped.
    func close() { closed = true }

    var isInterrupted: Bool { core?.isInterrupted ?? false }

    private func send(_ type: String, _ content: JSONValue) {
        guard !silent, !closed, let core else { return }
        core.publish(type, content, parent: parent)
    }

    func stream(_ name: String, _ text: String) {
        send("stream", ["name": .string(name), "text": .string(text)])
    }

    func display(_ data: [String: JSONValue], metadata: [String: JSONValue], displayID: String?, update: Bool) {
        var content: [String: JSONValue] = ["data": .object(data), "metadata": .object(metadata), "transient": [:]]
        if let displayID { content["transient"] = ["display_id": .string(displayID)] }
        send(update ? "update_display_data" : "display_data", .object(content))
    }

    func result(_ data: [String: JSONValue], metadata: [String: JSONValue]) {
        send("execute_result", ["execution_count": .int(executionCount), "data": .object(data), "metadata": .object(metadata)])
    }

    func clearOutput(wait: Bool) { send("clear_output", ["wait": .bool(wait)]) }

    func payload(_ entry: [String: JSONValue]) {
        guard !closed else { return }
        payloads.append(entry)
    }
}

// MARK: - Request fields

/// Why a request's content could not be used.
enum RequestError: Error, CustomStringConvertible {
    case missing(String)
    case wrongType(field: String, expected: String)
    case unknownType(String)
    case notOnControl(String)

    var ename: String {
        switch self {
        case .missing, .wrongType: return "BadRequest"
        case .unknownType: return "UnknownMessageType"
        case .notOnControl: return "WrongChannel"
        }
    }

    var description: String {
        switch self {
        case .missing(let f): return "The request has no \"\(f)\" field; add it and send again."
        case .wrongType(let f, let expected): return "The request field \"\(f)\" must be \(expected)."
        case .unknownType(let t): return "This kernel does not handle \"\(t)\" messages."
        case .notOnControl(let t): return "\"\(t)\" is not accepted on the control channel; send it on shell."
        }
    }
}

/// Typed access to a request's content that reports wrong types instead of crashing.
struct Fields {
    let raw: [String: JSONValue]
    init(_ raw: [String: JSONValue]) { self.raw = raw }

    func string(_ key: String, default fallback: String? = nil) throws(RequestError) -> String {
        switch raw[key] {
        case .string(let s)?: return s
        case nil, .null?: if let fallback { return fallback }; throw .missing(key)
        default: throw .wrongType(field: key, expected: "a string")
        }
    }

    func optionalString(_ key: String) throws(RequestError) -> String? {
        switch raw[key] {
        case .string(let s)?: return s
        case nil, .null?: return nil
        default: throw .wrongType(field: key, expected: "a string")
        }
    }

    func bool(_ key: String, default fallback: Bool) throws(RequestError) -> Bool {
        switch raw[key] {
        case .bool(let b)?: return b
        case nil, .null?: return fallback
        default: throw .wrongType(field: key, expected: "true or false")
        }
    }

    func int(_ key: String, default fallback: Int) throws(RequestError) -> Int {
        try optionalInt(key) ?? fallback
    }

    func optionalInt(_ key: String) throws(RequestError) -> Int? {
        switch raw[key] {
        case nil, .null?: return nil
        case .int(let i)?: return i
        // Some clients (JavaScript) may send 3.0 for 3.
        case .double(let d)? where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: throw .wrongType(field: key, expected: "an integer")
        }
    }

    func object(_ key: String, default fallback: [String: JSONValue]) throws(RequestError) -> [String: JSONValue] {
        switch raw[key] {
        case .object(let o)?: return o
        case nil, .null?: return fallback
        default: throw .wrongType(field: key, expected: "an object")
        }
    }
}

// MARK: - AtomicFlag

/// A Bool shared between threads (interrupts arrive on the control and signal threads).
final class AtomicFlag: @unchecked Sendable {
    private var state = false
    private let lock = NSLock()
    var value: Bool { lock.lock(); defer { lock.unlock() }; return state }
    func set(_ v: Bool) { lock.lock(); state = v; lock.unlock() }
}

/// Hands the pages of memory the cell freed back to the system. glibc keeps freed heap memory for
/// reuse and returns only the top of each heap, so a cell's large temporaries (a sweep's logits, a
/// gradient pass's tape) freed below longer-lived allocations stayed resident; the kernel's
/// resident memory then grew with the largest cell seen rather than following what is live.
/// `malloc_trim` releases every free page of every arena (a few milliseconds at most).
private func releaseFreedMemory() {
    #if os(Linux)
    _ = glibcMallocTrim(0)
    #endif
}

#if os(Linux)
/// glibc's `int malloc_trim(size_t pad)` (declared in malloc.h, which the Glibc module leaves out).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
