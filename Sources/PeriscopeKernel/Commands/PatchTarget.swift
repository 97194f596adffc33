import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

// MARK: - Targets

/// Where a Patchscope writes: a preset (`identity`, `description`, `attribute "…x…"`) or a prompt.
enum PatchTarget {
    /// The preset words a target may be (completion offers them).
    static let presets = ["identity", "description", "attribute"]

    case identity
    case description
    case attribute(String)
    case prompt(PromptValue)

    /// Whether this is a preset (patched at its placeholder) rather than a prompt.
    var isPreset: Bool {
        if case .prompt = self { return false }
        return true
    }

    /// The name shown in titles.
    var name: String {
        switch self {
        case .identity: return "identity"
        case .description: return "description"
        case .attribute(let text): return "attribute \(quoted(text))"
        case .prompt(let p): return p.summary
        }
    }

    /// Reads the `keyword` argument (a `.name` slot: a preset word, a string, or a prompt variable) and
    /// the `text` positional that follows `attribute`. Absent means `identity`.
    static func resolve(_ arguments: BoundArguments, keyword: String, session: Session, model: LoadedModel) throws -> PatchTarget {
        let text = arguments.string("text")
        let word: String?
        switch arguments.value(keyword) {
        case .symbol(let w)?: word = w
        case .string(let s)?:
            if text != nil {
                throw CommandError.strayTemplate(text: text ?? "", keyword: keyword, targetIsPrompt: true, range: arguments.range(of: "text"))
            }
            return .prompt(try PromptValue.make(text: s, model: model, range: arguments.range(of: keyword)))
        default: word = nil
        }
        if word != "attribute", let text {
            throw CommandError.strayTemplate(text: text, keyword: keyword, targetIsPrompt: false, range: arguments.range(of: "text"))
        }
        switch word {
        case nil, "identity"?: return .identity
        case "description"?: return .description
        case "attribute"?:
            guard let text else {
                throw CommandError.missingValue(keyword: "\(keyword) attribute", verb: arguments.verb,
                                                expected: "a template with the placeholder x, e.g. \"The capital city of x\"", range: arguments.range(of: keyword))
            }
            guard hasPlaceholder(text, "x") else {
                throw CommandError.noPlaceholder(text: text, placeholder: "x", range: arguments.range(of: "text"))
            }
            return .attribute(text)
        case let name?:
            // A misspelt preset gets the did-you-mean a keyword gets (unless it names a variable).
            if session.variables[name] == nil {
                let near = suggestions(for: name, among: presets)
                if !near.isEmpty {
                    throw CommandError.unknownChoice(name, parameter: keyword, verb: arguments.verb,
                                                     valid: presets + ["a prompt (a string or a Prompt variable)"],
                                                     suggestions: near, range: arguments.range(of: keyword))
                }
            }
            return .prompt(try VerbArguments.prompt(named: name, session: session, model: model, range: arguments.range(of: keyword)))
        }
    }

    /// The target as tokens, with the position to patch: `position` if given, else the preset's
    /// placeholder, else the prompt's last token.
    func resolved(position: Int?, model: LoadedModel) throws -> ResolvedTarget {
        let preset: PatchscopeTarget
        switch self {
        case .prompt(let p):
            return ResolvedTarget(name: name, text: p.text, ids: p.ids, tokens: p.tokens, position: position ?? p.ids.count - 1)
        case .identity: preset = .identity
        case .description: preset = .description
        case .attribute(let template): preset = .attribute(template)
        }
        let (ids, placeholder) = try preset.tokenize(with: model.tokenizer)
        return ResolvedTarget(name: name, text: preset.text, ids: ids, tokens: ids.map { model.tokenizer.piece(Int32($0)) },
                              position: position ?? placeholder ?? ids.count - 1)
    }

    /// Whether `text` has `placeholder` as a word of its own ("of x", "x:" but not "example").
    static func hasPlaceholder(_ text: String, _ placeholder: Character) -> Bool {
        let chars = Array(text)
        for (i, c) in chars.enumerated() where c == placeholder {
            let before = i == 0 || !(chars[i - 1].isLetter || chars[i - 1].isNumber)
            let after = i == chars.count - 1 || !(chars[i + 1].isLetter || chars[i + 1].isNumber)
            if before && after { return true }
        }
        return false
    }
}

/// A target ready to run: its tokens and the position that receives the patched state.
struct ResolvedTarget {
    var name: String
    var text: String
    var ids: [Int]
    var tokens: [String]
    var position: Int

    var json: JSONOut {
        .object([("name", .string(name)), ("text", .string(text)), ("ids", .array(ids.map { .int($0) })),
                 ("tokens", .strings(tokens)), ("position", .int(position))])
    }
}
