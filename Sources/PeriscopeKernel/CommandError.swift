import PeriscopeLanguage

/// Everything that can go wrong while binding or running a statement. Each case's
/// description is a sentence the user can act on; `range` points into the cell.
public enum CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The statement's head is not a verb (and, if it stands alone, not a variable either).
    case unknownVerb(String, suggestions: [String], range: SourceRange)
    /// A keyword the verb does not take.
    case unknownKeyword(String, verb: String, suggestions: [String], valid: [String], range: SourceRange)
    /// A name that is neither a variable nor a word the slot accepts.
    case undefinedVariable(String, suggestions: [String], range: SourceRange)
    /// A bare word in a slot with a fixed set of words (`hook mlp`) that is neither one of them nor a variable.
    case unknownChoice(String, parameter: String, verb: String, valid: [String], suggestions: [String], range: SourceRange)
    /// An argument of the wrong kind: `expected` describes the kind, `given` what was written.
    case typeMismatch(parameter: String, verb: String, expected: String, given: String, range: SourceRange)
    /// A keyword written without the value it needs.
    case missingValue(keyword: String, verb: String, expected: String, range: SourceRange)
    /// A required positional argument is absent.
    case missingArgument(parameter: String, verb: String, synopsis: String, range: SourceRange)
    /// More positional arguments than the verb takes.
    case unexpectedArgument(given: String, verb: String, synopsis: String, range: SourceRange)
    /// The same keyword twice.
    case duplicateKeyword(String, verb: String, range: SourceRange)
    /// A number outside what the model or prompt allows, e.g. layer 40 of 30.
    case outOfRange(what: String, value: Int, valid: String, range: SourceRange?)
    /// An assignment whose right-hand side produced nothing (`x = print 1`).
    case nothingToAssign(name: String, verb: String, range: SourceRange)
    /// A verb-specific failure, already phrased as a sentence.
    case failed(String, range: SourceRange?)
    /// The user interrupted the command.
    case interrupted

    /// Where in the cell the problem is, if known.
    public var range: SourceRange? {
        switch self {
        case .unknownVerb(_, _, let r), .unknownKeyword(_, _, _, _, let r), .undefinedVariable(_, _, let r),
             .unknownChoice(_, _, _, _, _, let r),
             .typeMismatch(_, _, _, _, let r), .missingValue(_, _, _, let r), .missingArgument(_, _, _, let r),
             .unexpectedArgument(_, _, _, let r), .duplicateKeyword(_, _, let r), .nothingToAssign(_, _, let r):
            return r
        case .outOfRange(_, _, _, let r), .failed(_, let r):
            return r
        case .interrupted:
            return nil
        }
    }

    /// A short stable name for the kind of mistake, e.g. `unknown-keyword` (an editor shows it
    /// beside the message and can filter on it).
    public var code: String {
        switch self {
        case .unknownVerb: return "unknown-verb"
        case .unknownKeyword: return "unknown-keyword"
        case .undefinedVariable: return "undefined-variable"
        case .unknownChoice: return "unknown-choice"
        case .typeMismatch: return "wrong-kind"
        case .missingValue: return "missing-value"
        case .missingArgument: return "missing-argument"
        case .unexpectedArgument: return "unexpected-argument"
        case .duplicateKeyword: return "duplicate-keyword"
        case .outOfRange: return "out-of-range"
        case .nothingToAssign: return "nothing-to-assign"
        case .failed: return "failed"
        case .interrupted: return "interrupted"
        }
    }

    public var description: String {
        switch self {
        case .unknownVerb(let word, let suggestions, _):
            return "unknown command `\(word)`" + hint(suggestions, otherwise: ".") + " Type `help` to list the commands."
        case .unknownKeyword(let word, let verb, let suggestions, let valid, _):
            let list = valid.isEmpty ? "`\(verb)` takes no keywords" : "valid keywords: " + valid.joined(separator: ", ")
            return "unknown keyword `\(word)` for `\(verb)`" + hint(suggestions, otherwise: ";") + " " + list + "."
        case .undefinedVariable(let name, let suggestions, _):
            return "`\(name)` is not defined" + hint(suggestions, otherwise: ".") + " Assign it first, e.g. `\(name) = …`."
        case .unknownChoice(let word, let parameter, let verb, let valid, let suggestions, _):
            return "`\(word)` is not a valid `\(parameter)` for `\(verb)`" + hint(suggestions, otherwise: ";")
                + " valid: " + valid.map { "`\($0)`" }.joined(separator: ", ") + "."
        case .typeMismatch(let parameter, let verb, let expected, let given, _):
            return "`\(parameter)` of `\(verb)` expects \(expected), but got \(given)."
        case .missingValue(let keyword, let verb, let expected, _):
            return "keyword `\(keyword)` of `\(verb)` needs a value (\(expected)) after it."
        case .missingArgument(let parameter, let verb, let synopsis, _):
            return "`\(verb)` needs \(parameter); usage: \(synopsis)"
        case .unexpectedArgument(let given, let verb, let synopsis, _):
            return "`\(verb)` does not take the extra argument \(given); usage: \(synopsis)"
        case .duplicateKeyword(let keyword, let verb, _):
            return "keyword `\(keyword)` is given twice to `\(verb)`; keep one."
        case .outOfRange(let what, let value, let valid, _):
            return "\(what) \(value) is out of range; valid: \(valid)."
        case .nothingToAssign(let name, let verb, _):
            return "`\(verb)` produces no value, so there is nothing to assign to `\(name)`."
        case .failed(let sentence, _):
            return sentence
        case .interrupted:
            return "Interrupted; the session, its variables and the model are unchanged."
        }
    }
}

/// `; did you mean `x`?` (or `x` or `y`), or `otherwise` when there is no suggestion.
func hint(_ suggestions: [String], otherwise: String) -> String {
    guard !suggestions.isEmpty else { return otherwise }
    let quoted = suggestions.prefix(3).map { "`\($0)`" }
    return "; did you mean " + quoted.joined(separator: " or ") + "?"
}
