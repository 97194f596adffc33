import Foundation
import JupyterKernel
import JupyterProtocol
import PeriscopeLanguage
import Rendering
import Transformer

/// The Periscope language behind the Jupyter kernel: parses a cell, runs its statements in order
/// against the session, and renders what they produce. Variables survive failing cells.
public final class PeriscopeInterpreter: Interpreter {
    /// Variables and verb state kept between cells.
    public let session: Session
    /// The verbs; the single source for help, completion and inspection.
    public private(set) var table: CommandTable
    /// Seconds of work before a progress bar appears: quick commands show none, long ones show
    /// one soon enough that the cell never looks stuck.
    public var progressDelay: Double = 1.0

    public init(table: CommandTable = .standard, session: Session = Session()) {
        self.table = table
        self.session = session
    }

    /// Adds (or replaces) a verb.
    public func register(_ command: CommandSpec) { table.register(command) }

    // MARK: - kernel_info

    public var info: KernelInfo {
        KernelInfo(
            implementation: "periscope",
            implementationVersion: PeriscopeVersion.current,
            languageName: "periscope",
            languageVersion: PeriscopeVersion.language,
            mimetype: "text/x-periscope",
            fileExtension: ".scope",
            // The Pygments lexer of the `periscope-pygments` package, registered under this name.
            pygmentsLexer: "periscope",
            banner: """
                Periscope \(PeriscopeVersion.current) — look inside language models.
                Type `help` for the commands, `?verb` for one command's page.
                """,
            helpLinks: [
                (text: "Periscope commands (type `help` in a cell)", url: "https://jupyter.org/"),
                (text: "Jupyter messaging", url: "https://jupyter-client.readthedocs.io/en/stable/messaging.html"),
            ])
    }

    // MARK: - execute

    public func execute(_ request: ExecuteRequest, io: ExecutionIO) -> ExecuteOutcome {
        let source = request.code
        let statements: [Statement]
        switch parse(source) {
        case .success(let parsed):
            statements = parsed
        case .failure(let error):
            let diagnostic = Diagnostic(message: error.message, location: error.location, range: nil)
            return .error(name: "SyntaxError", value: error.message, traceback: diagnostic.syntaxTraceback(in: source))
        }
        for (index, statement) in statements.enumerated() {
            do {
                if io.isInterrupted { throw CancelledError() }
                try run(statement, isLast: index == statements.count - 1, io: io)
            } catch {
                return outcome(for: error, statement: statement, in: source)
            }
        }
        return .ok
    }

    /// Runs one statement: help opens the pager; an assignment binds; anything else displays.
    private func run(_ statement: Statement, isLast: Bool, io: ExecutionIO) throws {
        // Refuse a bad name before doing the work.
        if let (name, range) = statement.assignment { try checkAssignable(name, range: range) }
        let value: Value?
        switch statement.body {
        case .help(let topic, let range):
            io.payload(pagerPayload(try helpBundle(for: topic, range: range)))
            return
        case .value(let expr):
            value = try Evaluator(session: session).evaluate(expr)
        case .command(let head, let headRange, let arguments):
            value = try runCommand(head: head, headRange: headRange, arguments: arguments, statement: statement, io: io)
        }

        if let (name, _) = statement.assignment {
            guard let value else {
                let verb: String
                if case .command(let head, _, _) = statement.body { verb = head } else { verb = "this statement" }
                throw CommandError.nothingToAssign(name: name, verb: verb, range: statement.range)
            }
            session.variables[name] = value
            return
        }
        guard let value else { return }
        let data = jupyterData(value.render())
        if isLast {
            io.result(data, metadata: [:])
        } else {
            io.display(data, metadata: [:], displayID: nil, update: false)
        }
    }

    /// A verb with its arguments, or a lone name that is a variable.
    private func runCommand(head: String, headRange: SourceRange, arguments: [Expr], statement: Statement,
                            io: ExecutionIO) throws -> Value? {
        let spec: CommandSpec
        switch try table.meaning(ofHead: head, range: headRange, hasArguments: !arguments.isEmpty, session: session) {
        case .value(let value): return value
        case .verb(let verb): spec = verb
        }
        let bound = try ArgumentBinder(spec: spec, session: session).bind(arguments, headRange: headRange)
        let progress = ProgressReporter(io: io, delay: progressDelay)
        let context = CommandContext(io: io, session: session, table: table, statement: statement, progress: progress)
        do {
            let value = try spec.run(bound, context)
            progress.finish(completed: true)
            return value
        } catch {
            progress.finish(completed: false)
            throw error
        }
    }

    private func checkAssignable(_ name: String, range: SourceRange) throws {
        try table.checkAssignable(name, range: range)
    }

    // MARK: - Help and the pager

    /// The page for `?topic`: a verb's help, or a variable's summary and display.
    func helpBundle(for topic: String, range: SourceRange) throws -> MimeBundle {
        if let spec = table[topic] { return table.helpPage(for: spec) }
        if let value = session.variables[topic] {
            return variableBundle(topic, value, detailed: true)
        }
        throw CommandError.unknownVerb(topic, suggestions: suggestions(for: topic, among: table.verbNames + session.variableNames),
                                       range: range)
    }

    /// A variable described for inspection: `x: int 3`, then its display when `detailed`.
    func variableBundle(_ name: String, _ value: Value, detailed: Bool) -> MimeBundle {
        let headline = "\(name): \(value.summary)"
        guard detailed else {
            return MimeBundle(data: [MimeBundle.plain: headline, MimeBundle.html: "<code>\(escapeHTML(headline))</code>"])
        }
        let shown = value.render()
        var data = [MimeBundle.plain: headline + "\n\n" + shown.plainText]
        if let html = shown.data[MimeBundle.html] {
            data[MimeBundle.html] = "<p><code>\(escapeHTML(headline))</code></p>" + html
        }
        return MimeBundle(data: data)
    }

    private func pagerPayload(_ bundle: MimeBundle) -> [String: JSONValue] {
        var data: [String: JSONValue] = [MimeBundle.plain: .string(bundle.plainText)]
        if let html = bundle.data[MimeBundle.html] { data[MimeBundle.html] = .string(html) }
        return ["source": "page", "data": .object(data), "start": 0]
    }

    // MARK: - Errors

    /// The error reply for a statement that threw.
    private func outcome(for error: Error, statement: Statement, in source: String) -> ExecuteOutcome {
        switch error {
        case let error as CommandError:
            let range = error.range ?? statement.range
            if case .interrupted = error {
                return failure(name: "KeyboardInterrupt", message: error.description, at: statement.range.start,
                               range: nil, in: source)
            }
            return failure(name: "CommandError", message: error.description, at: range.start, range: range, in: source)
        case is CancelledError:
            return failure(name: "KeyboardInterrupt", message: CommandError.interrupted.description,
                           at: statement.range.start, range: nil, in: source)
        default:
            // Errors of the model side (GGUFError, …) carry their own sentence.
            let name = String(describing: type(of: error))
            return failure(name: name, message: String(describing: error), at: statement.range.start,
                           range: statement.range, in: source)
        }
    }

    private func failure(name: String, message: String, at location: SourceLocation, range: SourceRange?,
                         in source: String) -> ExecuteOutcome {
        let traceback = Diagnostic(message: message, location: location, range: range).traceback(in: source)
        return .error(name: name, value: message, traceback: traceback)
    }

    // MARK: - user_expressions

    public func evaluate(expression: String) -> ExpressionResult {
        let statements: [Statement]
        switch parse(expression) {
        case .success(let parsed): statements = parsed
        case .failure(let error):
            return .error(name: "SyntaxError", value: error.message,
                          traceback: Diagnostic(message: error.message, location: error.location, range: nil)
                            .traceback(in: expression))
        }
        guard statements.count == 1, let statement = statements.first, statement.assignment == nil else {
            let message = "a user expression must be a single value or variable name."
            return .error(name: "CommandError", value: message, traceback: [message])
        }
        do {
            let value: Value
            switch statement.body {
            case .value(let expr):
                value = try Evaluator(session: session).evaluate(expr)
            case .command(let head, let range, let arguments) where arguments.isEmpty && table[head] == nil:
                value = try Evaluator(session: session).lookup(head, range: range)
            default:
                let message = "a user expression cannot run a command; give a value or a variable name."
                return .error(name: "CommandError", value: message, traceback: [message])
            }
            return .ok(data: jupyterData(value.render()), metadata: [:])
        } catch {
            let message = String(describing: error)
            return .error(name: "CommandError", value: message, traceback: [message])
        }
    }

    // MARK: - is_complete

    public func isComplete(code: String) -> CompletenessStatus {
        switch completeness(of: code) {
        case .complete: return .complete
        case .incomplete(let indent): return .incomplete(indent: indent)
        case .invalid: return .invalid
        }
    }
}

/// The versions reported in kernel_info and by `periscope --version`.
public enum PeriscopeVersion {
    public static let current = "0.1.0"
    /// The command language's version (v0 until its grammar changes incompatibly).
    public static let language = "0.1"
}
