import PeriscopeLanguage

/// Evaluates a value expression (`value` in `protocol/grammar.ebnf`) against the session's variables.
struct Evaluator {
    /// Bare words that are values in their own right when no variable has that name.
    static let symbols: Set<String> = ["all", "last", "local"]

    let session: Session

    func evaluate(_ expr: Expr) throws -> Value {
        switch expr.kind {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .float(let d): return .float(d)
        case .range(let a, let b): return .range(a, b)
        case .list(let items): return .list(try items.map(evaluate))
        case .identifier(let name): return try lookup(name, range: expr.range)
        }
    }

    /// A variable's value, or `all`/`last`; otherwise "`name` is not defined" with suggestions.
    func lookup(_ name: String, range: SourceRange) throws -> Value {
        if let value = session.variables[name] { return value }
        if Evaluator.symbols.contains(name) { return .symbol(name) }
        throw CommandError.undefinedVariable(name, suggestions: suggestions(for: name, among: session.variableNames),
                                             range: range)
    }
}
