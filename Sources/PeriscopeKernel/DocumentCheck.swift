import PeriscopeLanguage
import Rendering

/// A whole document (a .scope file, or a notebook's cells joined in order) checked without
/// running it: the parser, the command table and the argument binder the kernel uses, against a
/// session that holds each assignment's value where it is known without running anything (a
/// literal) and a stand-in for a verb's result. An editor reads its problems as diagnostics and
/// its assignments for completion, definitions and the outline.
public struct DocumentCheck: Sendable {
    public enum Severity: Sendable, Equatable {
        case error
        /// Might be fine when run: a name a later statement assigns (notebook cells run in any order).
        case warning
    }

    /// One mistake, with a stable code (`syntax`, `unknown-verb`, `unknown-keyword`, `wrong-kind`, …).
    public struct Problem: Sendable, Equatable {
        public var code: String
        public var message: String
        public var range: SourceRange
        public var severity: Severity
    }

    /// `name = …`: where the name is written and the statement it heads.
    public struct Assignment: Sendable {
        public var name: String
        public var nameRange: SourceRange
        public var statement: Statement
        /// The literal's value, or a stand-in for a verb's result.
        var value: Value
    }

    public let source: String
    public let table: CommandTable
    /// Every statement that parses, in order.
    public private(set) var statements: [Statement] = []
    /// Syntax errors first in source order, then binding problems in source order.
    public private(set) var problems: [Problem] = []
    public private(set) var assignments: [Assignment] = []

    public init(source: String, table: CommandTable = .standard) {
        self.source = source
        self.table = table
        let (statements, syntaxErrors) = parseDocument(source)
        self.statements = statements
        var problems = syntaxErrors.map {
            Problem(code: "syntax", message: $0.message, range: syntaxErrorRange($0, in: source), severity: .error)
        }

        // Where each name is first assigned, to tell "assigned later" from "never assigned".
        var firstAssignment: [String: SourceRange] = [:]
        for statement in statements {
            if let (name, range) = statement.assignment, firstAssignment[name] == nil { firstAssignment[name] = range }
        }

        let session = Session()
        for statement in statements {
            var value: Value?
            do {
                if let (name, range) = statement.assignment { try table.checkAssignable(name, range: range) }
                value = try Self.staticValue(of: statement, table: table, session: session)
            } catch let error as CommandError {
                problems.append(Self.problem(error, assignedLater: firstAssignment, statement: statement))
            } catch {
                problems.append(Problem(code: "failed", message: "\(error)", range: statement.range, severity: .error))
            }
            if let (name, range) = statement.assignment {
                // Even a failing right-hand side defines the name, so its uses are not flagged again.
                let known = value ?? .object(UnevaluatedResult(verb: nil))
                session.variables[name] = known
                assignments.append(Assignment(name: name, nameRange: range, statement: statement, value: known))
            }
        }
        self.problems = problems
    }

    /// What the statement yields as far as it is known without running it; throws what binding throws.
    private static func staticValue(of statement: Statement, table: CommandTable, session: Session) throws -> Value? {
        switch statement.body {
        case .help(let topic, let range):
            if table[topic] == nil, session.variables[topic] == nil {
                throw CommandError.unknownVerb(
                    topic, suggestions: suggestions(for: topic, among: table.verbNames + session.variableNames), range: range)
            }
            return nil
        case .value(let expr):
            return try Evaluator(session: session).evaluate(expr)
        case .command(let head, let headRange, let arguments):
            switch try table.meaning(ofHead: head, range: headRange, hasArguments: !arguments.isEmpty, session: session) {
            case .value(let value):
                return value
            case .verb(let spec):
                _ = try ArgumentBinder(spec: spec, session: session).bind(arguments, headRange: headRange)
                return .object(UnevaluatedResult(verb: spec.name))
            }
        }
    }

    private static func problem(_ error: CommandError, assignedLater: [String: SourceRange], statement: Statement) -> Problem {
        let range = error.range ?? statement.range
        if case .undefinedVariable(let name, _, let at) = error, let assignment = assignedLater[name],
           assignment.start.offset > at.start.offset
        {
            return Problem(code: "used-before-assignment",
                           message: "`\(name)` is used before it is assigned (on line \(assignment.start.line)); run that line first.",
                           range: at, severity: .warning)
        }
        return Problem(code: error.code, message: error.description, range: range, severity: .error)
    }

    // MARK: - Reading the document

    /// The variables assigned by statements that end at or before `offset` (Unicode scalars).
    public func session(before offset: Int) -> Session {
        let session = Session()
        for assignment in assignments where assignment.statement.range.end.offset <= offset {
            session.variables[assignment.name] = assignment.value
        }
        return session
    }

    /// The assignment a use of `name` at `offset` refers to: the last one before it, else the first.
    public func definition(of name: String, at offset: Int) -> Assignment? {
        let all = assignments.filter { $0.name == name }
        return all.last { $0.nameRange.start.offset <= offset } ?? all.first
    }

    /// The statement whose span holds `offset`, if any.
    public func statement(at offset: Int) -> Statement? {
        statements.first { $0.range.start.offset <= offset && offset <= $0.range.end.offset }
    }

    // MARK: - Completion

    /// What a completion offers: a verb, a keyword, a variable, or a word a slot accepts.
    public enum CompletionKind: Sendable, Equatable {
        case verb, keyword, variable, value
    }

    /// The completions at `offset` and the span they replace: the kernel's own completion, with
    /// the variables of the statements before the cursor.
    public func completions(at offset: Int) -> (items: [(text: String, kind: CompletionKind)], range: Range<Int>) {
        let cursor = min(max(offset, 0), source.unicodeScalars.count)
        let at = wordAtCursor(in: source, cursorOffset: cursor)
        let typed = String(String.UnicodeScalarView(at.word.unicodeScalars.prefix(max(cursor - at.range.lowerBound, 0))))
        let interpreter = PeriscopeInterpreter(table: table, session: session(before: at.range.lowerBound))
        var seen = Set<String>()
        let items = interpreter.completionCandidates(head: at.statementHead, previousWords: at.previousWords)
            .filter { $0.text.hasPrefix(typed) && seen.insert($0.text).inserted }
            .map { candidate -> (text: String, kind: CompletionKind) in
                switch candidate.kind {
                case .verb: return (candidate.text, .verb)
                case .keyword: return (candidate.text, .keyword)
                case .variable: return (candidate.text, .variable)
                case .value: return (candidate.text, .value)
                }
            }
        return (items, at.range)
    }
}

// MARK: - Values known only statically

/// Stands for what a verb returns in a document that is checked, not run.
struct UnevaluatedResult: ValueContent {
    /// The verb that makes it, or nil for a statement that failed to check.
    var verb: String?
    var typeName: String { "result" }
    var summary: String { verb.map { "the result of `\($0)`" } ?? "a value" }
    func render() -> MimeBundle { MimeBundle(plain: summary) }
}

extension Value {
    /// True for a stand-in of the document checker, or a list holding one: its kind is unknown.
    var isUnevaluated: Bool {
        switch self {
        case .object(let content): return content is UnevaluatedResult
        case .list(let items): return items.contains { $0.isUnevaluated }
        default: return false
        }
    }
}
