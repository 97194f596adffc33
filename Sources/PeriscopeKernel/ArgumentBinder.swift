import PeriscopeLanguage

// MARK: - Bound arguments

/// One bound argument: its typed value and where it was written.
public struct BoundArgument: Sendable {
    public enum Payload: Sendable {
        case value(Value)
        case layers(LayerSelection)
        case positions(PositionSelection)
        case flag
    }
    public var payload: Payload
    public var range: SourceRange
}

/// A verb's arguments after binding: typed, checked, looked up by parameter name.
public struct BoundArguments: Sendable {
    public var verb: String
    public var arguments: [String: BoundArgument]
    /// Where the verb was written, for errors about the statement as a whole.
    public var headRange: SourceRange

    public func has(_ name: String) -> Bool { arguments[name] != nil }
    /// Where the argument `name` was written, or the verb's position when absent.
    public func range(of name: String) -> SourceRange { arguments[name]?.range ?? headRange }

    public func value(_ name: String) -> Value? {
        if case .value(let v)? = arguments[name]?.payload { return v }
        return nil
    }
    public func int(_ name: String) -> Int? {
        if case .int(let i)? = value(name) { return i }
        return nil
    }
    public func float(_ name: String) -> Double? {
        switch value(name) {
        case .float(let d)?: return d
        case .int(let i)?: return Double(i)
        default: return nil
        }
    }
    public func string(_ name: String) -> String? {
        if case .string(let s)? = value(name) { return s }
        return nil
    }
    /// The word of a `choice` or `name` argument (`same`), nil when an int was given.
    public func word(_ name: String) -> String? {
        switch value(name) {
        case .symbol(let w)?, .string(let w)?: return w
        default: return nil
        }
    }
    public func flag(_ name: String) -> Bool {
        if case .flag? = arguments[name]?.payload { return true }
        return false
    }
    public func layers(_ name: String) -> LayerSelection? {
        if case .layers(let l)? = arguments[name]?.payload { return l }
        return nil
    }
    public func positions(_ name: String) -> PositionSelection? {
        if case .positions(let p)? = arguments[name]?.payload { return p }
        return nil
    }
}

// MARK: - Binder

/// Turns the parser's flat argument list into a verb's typed arguments (keywords in any order,
/// flags, positionals in order), resolving variables and reporting mistakes with suggestions.
struct ArgumentBinder {
    let spec: CommandSpec
    let session: Session

    func bind(_ expressions: [Expr], headRange: SourceRange) throws -> BoundArguments {
        var bound: [String: BoundArgument] = [:]
        var nextPositional = 0
        var index = 0
        let keywordNames = spec.keywords.map(\.name)
        // Words renamed by an earlier keyword (see `CommandSpec.renamesAfter`).
        var renames: [String: String] = [:]

        while index < expressions.count {
            let expr = expressions[index]
            index += 1

            // A keyword: a bare word naming one of the verb's keywords.
            if case .identifier(let written) = expr.kind, let keyword = spec.keyword(renames[written] ?? written) {
                let word = keyword.name
                guard bound[word] == nil else {
                    throw CommandError.duplicateKeyword(written, verb: spec.name, range: expr.range)
                }
                if let next = spec.renamesAfter[word] { renames = next }
                if keyword.kind == .flag {
                    bound[word] = BoundArgument(payload: .flag, range: expr.range)
                    continue
                }
                guard index < expressions.count, !isKeyword(expressions[index]) else {
                    throw CommandError.missingValue(keyword: word, verb: spec.name, expected: keyword.kind.phrase,
                                                    range: expr.range)
                }
                let valueExpr = expressions[index]
                index += 1
                bound[word] = try bindValue(valueExpr, to: keyword)
                continue
            }

            // Otherwise the next positional, if the verb has one left.
            if nextPositional < spec.positionals.count {
                let parameter = spec.positionals[nextPositional]
                if case .identifier(let word) = expr.kind, !accepts(parameter.kind, word: word),
                   session.variables[word] == nil
                {
                    // A misspelt keyword is likelier than a misspelt variable when it is close to one.
                    let near = suggestions(for: word, among: keywordNames)
                    if !near.isEmpty {
                        throw CommandError.unknownKeyword(word, verb: spec.name, suggestions: near,
                                                          valid: keywordNames, range: expr.range)
                    }
                }
                nextPositional += 1
                bound[parameter.name] = try bindValue(expr, to: parameter)
                continue
            }

            // Nothing left to fill.
            if case .identifier(let word) = expr.kind {
                throw CommandError.unknownKeyword(word, verb: spec.name,
                                                  suggestions: suggestions(for: word, among: keywordNames),
                                                  valid: keywordNames, range: expr.range)
            }
            throw CommandError.unexpectedArgument(given: describe(expr), verb: spec.name, synopsis: spec.synopsis,
                                                  range: expr.range)
        }

        for parameter in spec.positionals + spec.keywords where parameter.isRequired && bound[parameter.name] == nil {
            let what = spec.keyword(parameter.name) != nil
                ? "the keyword `\(parameter.name)` with \(parameter.kind.phrase)"
                : "\(parameter.kind.phrase) (\(parameter.name))"
            throw CommandError.missingArgument(parameter: what, verb: spec.name, synopsis: spec.synopsis,
                                               range: headRange)
        }
        return BoundArguments(verb: spec.name, arguments: bound, headRange: headRange)
    }

    /// A keyword of this verb that cannot be a value here: a variable of the same name wins
    /// (`layers layers` with a variable `layers`), so `top chat` is "missing value" but not that.
    private func isKeyword(_ expr: Expr) -> Bool {
        if case .identifier(let word) = expr.kind { return spec.keyword(word) != nil && session.variables[word] == nil }
        return false
    }

    /// True when `word` is a valid bare-word value of `kind` (not a variable lookup).
    private func accepts(_ kind: ValueKind, word: String) -> Bool {
        if kind == .name { return true }
        return kind.words.contains(word)
    }

    // MARK: Typing one value

    private func bindValue(_ expr: Expr, to parameter: Parameter) throws -> BoundArgument {
        let kind = parameter.kind
        func mismatch(_ given: String? = nil) -> CommandError {
            .typeMismatch(parameter: parameter.name, verb: spec.name, expected: kind.phrase,
                          given: given ?? describe(expr), range: expr.range)
        }

        // Words with a meaning of their own for this kind come before variables.
        if case .identifier(let word) = expr.kind {
            switch kind {
            case .name:
                return BoundArgument(payload: .value(.symbol(word)), range: expr.range)
            case .layers where word == "all":
                return BoundArgument(payload: .layers(LayerSelection(.all, range: expr.range)), range: expr.range)
            case .positions where word == "all" || word == "last":
                let selection = PositionSelection(word == "all" ? .all : .last, range: expr.range)
                return BoundArgument(payload: .positions(selection), range: expr.range)
            case .choice(let words, _) where words.contains(word):
                return BoundArgument(payload: .value(.symbol(word)), range: expr.range)
            case .choice(let words, _) where session.variables[word] == nil:
                // A misspelt choice (`hook mlp`) is not a missing variable: name the valid words.
                throw CommandError.unknownChoice(word, parameter: parameter.name, verb: spec.name, valid: words,
                                                 suggestions: suggestions(for: word, among: words), range: expr.range)
            case .value where session.variables[word] == nil && !suggestions(for: word, among: parameter.words).isEmpty:
                return BoundArgument(payload: .value(.symbol(word)), range: expr.range)
            default:
                break
            }
        }

        let value = try Evaluator(session: session).evaluate(expr)
        // A result the editor's checker knows only by the verb that makes it may be of any kind.
        if value.isUnevaluated { return BoundArgument(payload: .value(value), range: expr.range) }
        let given = describe(expr, value: value)
        switch kind {
        case .value:
            return BoundArgument(payload: .value(value), range: expr.range)
        case .prompt:
            guard value.typeName == "string" || value.typeName == "Prompt" else { throw mismatch(given) }
        case .prompts:
            let ok: (Value) -> Bool = { $0.typeName == "string" || $0.typeName == "Prompt" }
            if case .list(let items) = value {
                guard !items.isEmpty, items.allSatisfy(ok) else { throw mismatch(given) }
            } else if !ok(value) {
                throw mismatch(given)
            }
        case .int:
            guard case .int = value else { throw mismatch(given) }
        case .float:
            switch value {
            case .int(let i): return BoundArgument(payload: .value(.float(Double(i))), range: expr.range)
            case .float: break
            default: throw mismatch(given)
            }
        case .string, .name:
            guard case .string = value else { throw mismatch(given) }
        case .layers:
            let selection: LayerSelection.Kind
            switch value {
            case .int(let i): selection = .indices([i])
            case .range(let a, let b): selection = .range(a, b)
            case .symbol("all"): selection = .all
            case .list(let items):
                selection = .indices(try items.map { item in
                    guard case .int(let i) = item else { throw mismatch(given) }
                    return i
                })
            default: throw mismatch(given)
            }
            return BoundArgument(payload: .layers(LayerSelection(selection, range: expr.range)), range: expr.range)
        case .positions:
            let selection: PositionSelection.Kind
            switch value {
            case .int(let i): selection = .indices([i])
            case .range(let a, let b): selection = .range(a, b)
            case .symbol("all"): selection = .all
            case .symbol("last"): selection = .last
            case .string(let s): selection = .text(s)
            case .list(let items):
                selection = .indices(try items.map { item in
                    guard case .int(let i) = item else { throw mismatch(given) }
                    return i
                })
            default: throw mismatch(given)
            }
            return BoundArgument(payload: .positions(PositionSelection(selection, range: expr.range)), range: expr.range)
        case .flag:
            throw mismatch(given)
        case .choice(let words, let allowsInt):
            switch value {
            case .int where allowsInt: break
            case .symbol(let w) where words.contains(w): break
            case .string(let w) where words.contains(w): return BoundArgument(payload: .value(.symbol(w)), range: expr.range)
            default: throw mismatch(given)
            }
        case .typed(let type):
            guard value.typeName == type else { throw mismatch(given) }
        }
        return BoundArgument(payload: .value(value), range: expr.range)
    }

    /// How an argument reads in an error: the source form, plus the type for variables.
    private func describe(_ expr: Expr, value: Value? = nil) -> String {
        switch expr.kind {
        case .identifier(let name):
            if let value { return "`\(name)` (\(withArticle(value.typeName)))" }
            return "`\(name)`"
        default:
            let v = value ?? (try? Evaluator(session: session).evaluate(expr))
            guard let v else { return "an expression" }
            return "\(withArticle(v.typeName)) `\(v.sourceText)`"
        }
    }
}

/// "an int", "a string", "a Prompt".
func withArticle(_ noun: String) -> String {
    guard let first = noun.lowercased().first else { return noun }
    return ("aeiou".contains(first) ? "an " : "a ") + noun
}
