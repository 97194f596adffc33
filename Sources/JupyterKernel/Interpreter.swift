import JupyterProtocol

/// The seam between the Jupyter kernel machinery and a language: the kernel owns sockets,
/// message bookkeeping, busy/idle, execution counts and history; the interpreter only
/// answers the requests below (the way xeus splits `xinterpreter` from its `*_impl`s).
///
/// All methods are called on the shell thread, one at a time. `ExecutionIO` may be used
/// from that thread only, and only while `execute` runs.
public protocol Interpreter: AnyObject {
    /// language_info, banner, help_links, implementation name/version for kernel_info_reply.
    var info: KernelInfo { get }

    /// Runs a cell. Outputs go through `io` (stream, display_data, execute_result, pager
    /// payloads). Returns ok or an error with the traceback lines to show.
    func execute(_ request: ExecuteRequest, io: ExecutionIO) -> ExecuteOutcome

    /// Evaluates one user_expression silently; returns a MIME bundle (`data`) or an error.
    func evaluate(expression: String) -> ExpressionResult

    /// complete_request: matches and the replaced range, cursor in Unicode scalars.
    func complete(code: String, cursorPosition: Int) -> Completion

    /// inspect_request: a MIME bundle describing the name under the cursor, or nil if none.
    func inspect(code: String, cursorPosition: Int, detailLevel: Int) -> [String: JSONValue]?

    /// is_complete_request.
    func isComplete(code: String) -> CompletenessStatus
}

/// What the kernel hands `execute`: where outputs go, and the interrupt flag.
public protocol ExecutionIO: AnyObject {
    /// The execution_count of this request (already incremented if store_history).
    var executionCount: Int { get }
    /// True once an interrupt (control message or SIGINT) arrived for this execution.
    var isInterrupted: Bool { get }
    /// stream on iopub (name "stdout" or "stderr").
    func stream(_ name: String, _ text: String)
    /// display_data; with `displayID` set it goes into `transient.display_id`;
    /// `update: true` sends update_display_data instead.
    func display(_ data: [String: JSONValue], metadata: [String: JSONValue], displayID: String?, update: Bool)
    /// execute_result with the current execution count (not sent when the request is silent).
    func result(_ data: [String: JSONValue], metadata: [String: JSONValue])
    /// clear_output.
    func clearOutput(wait: Bool)
    /// A payload entry for execute_reply, e.g. ["source": "page", "data": {...}, "start": 0].
    func payload(_ entry: [String: JSONValue])
}

public struct ExecuteRequest: Sendable {
    public var code: String
    public var silent: Bool
    public var storeHistory: Bool
    public var allowStdin: Bool
    public var stopOnError: Bool
    public init(code: String, silent: Bool = false, storeHistory: Bool = true,
                allowStdin: Bool = false, stopOnError: Bool = true) {
        self.code = code; self.silent = silent; self.storeHistory = storeHistory
        self.allowStdin = allowStdin; self.stopOnError = stopOnError
    }
}

public enum ExecuteOutcome: Sendable, Equatable {
    case ok
    /// ename, evalue, traceback lines (may carry ANSI colour) as in the `error` message.
    case error(name: String, value: String, traceback: [String])
}

public enum ExpressionResult: Sendable, Equatable {
    case ok(data: [String: JSONValue], metadata: [String: JSONValue])
    case error(name: String, value: String, traceback: [String])
}

public struct Completion: Sendable, Equatable {
    public var matches: [String]
    public var cursorStart: Int
    public var cursorEnd: Int
    public var metadata: [String: JSONValue]
    public init(matches: [String], cursorStart: Int, cursorEnd: Int, metadata: [String: JSONValue] = [:]) {
        self.matches = matches; self.cursorStart = cursorStart; self.cursorEnd = cursorEnd; self.metadata = metadata
    }
}

public enum CompletenessStatus: Sendable, Equatable {
    case complete
    /// `indent` is the suggested indentation for the next line.
    case incomplete(indent: String)
    case invalid
    case unknown
}

public struct KernelInfo: Sendable {
    public var implementation: String
    public var implementationVersion: String
    public var languageName: String
    public var languageVersion: String
    public var mimetype: String
    public var fileExtension: String
    public var pygmentsLexer: String?
    public var codemirrorMode: String?
    public var banner: String
    public var helpLinks: [(text: String, url: String)]
    public init(implementation: String, implementationVersion: String, languageName: String,
                languageVersion: String, mimetype: String, fileExtension: String,
                pygmentsLexer: String? = nil, codemirrorMode: String? = nil, banner: String,
                helpLinks: [(text: String, url: String)] = []) {
        self.implementation = implementation; self.implementationVersion = implementationVersion
        self.languageName = languageName; self.languageVersion = languageVersion
        self.mimetype = mimetype; self.fileExtension = fileExtension
        self.pygmentsLexer = pygmentsLexer; self.codemirrorMode = codemirrorMode
        self.banner = banner; self.helpLinks = helpLinks
    }
}
