import PeriscopeLanguage
import Rendering

/// Every verb the language knows, built from the `spec` each file under `Commands/` declares.
/// It is the single source for `help`, `?verb`, completion and inspection.
public struct CommandTable: Sendable {
    /// The verbs in the order they were declared (help lists them by group in this order).
    public private(set) var commands: [CommandSpec]
    private var byName: [String: Int]

    public init(_ commands: [CommandSpec]) {
        self.commands = []
        self.byName = [:]
        for command in commands { register(command) }
    }

    /// Adds a verb, replacing one of the same name.
    public mutating func register(_ command: CommandSpec) {
        if let index = byName[command.name] {
            commands[index] = command
        } else {
            byName[command.name] = commands.count
            commands.append(command)
        }
    }

    public subscript(name: String) -> CommandSpec? { byName[name].map { commands[$0] } }

    /// All verb names, sorted.
    public var verbNames: [String] { commands.map(\.name).sorted() }

    /// The table of every verb shipped with Periscope: one entry per file under `Commands/`.
    public static var standard: CommandTable {
        CommandTable([
            HelpCommand.spec,
            PrintCommand.spec,
            ShowCommand.spec,
            SleepCommand.spec,
            LoadCommand.spec,
            ModelsCommand.spec,
            UseCommand.spec,
            HooksCommand.spec,
            PromptCommand.spec,
            TokensCommand.spec,
            RunCommand.spec,
            GenerateCommand.spec,
            CacheCommand.spec,
            ClearCacheCommand.spec,
            ExportCommand.spec,
            LensCommand.spec,
            AttentionCommand.spec,
            PatchCommand.spec,
            PatchscopeCommand.spec,
            FitCommand.spec,
            LensesCommand.spec,
            TraceCommand.spec,
            DirectionCommand.spec,
            SteerCommand.spec,
            SimilarityCommand.spec,
            DatasetCommand.spec,
            ProbeCommand.spec,
            AttributeCommand.spec,
            GradientCommand.spec,
            CompareCommand.spec,
            StabilityCommand.spec,
            ProjectCommand.spec,
        ])
    }
}

// MARK: - Heads and names

/// What the head of a statement names.
enum HeadMeaning {
    case verb(CommandSpec)
    /// A lone word that is a variable (or `all`/`last`): the statement shows its value.
    case value(Value)
}

extension CommandTable {
    /// A verb; or, standing alone, a variable or a symbol; otherwise an unknown verb or name with
    /// the nearest ones. The interpreter and the editor's checker both read heads through this.
    func meaning(ofHead head: String, range: SourceRange, hasArguments: Bool, session: Session) throws -> HeadMeaning {
        if let spec = self[head] { return .verb(spec) }
        if !hasArguments {
            if let value = session.variables[head] { return .value(value) }
            if Evaluator.symbols.contains(head) { return .value(.symbol(head)) }
            throw CommandError.undefinedVariable(
                head, suggestions: suggestions(for: head, among: session.variableNames + verbNames), range: range)
        }
        throw CommandError.unknownVerb(head, suggestions: suggestions(for: head, among: verbNames), range: range)
    }

    /// Verb names and the words `all`/`last` cannot be variables: the name would be shadowed.
    func checkAssignable(_ name: String, range: SourceRange) throws {
        if self[name] != nil {
            throw CommandError.reservedName(name, isVerb: true, range: range)
        }
        if Evaluator.symbols.contains(name) {
            throw CommandError.reservedName(name, isVerb: false, range: range)
        }
    }
}

// MARK: - Help pages

extension CommandTable {
    /// The help page of one verb: synopsis, description, parameters, one example.
    public func helpPage(for spec: CommandSpec) -> MimeBundle {
        var text = "\(spec.synopsis)\n\n\(spec.description)\n"
        let rows = parameterRows(spec)
        if !rows.isEmpty {
            let width = rows.map(\.0.count).max() ?? 0
            for (section, items) in [("Arguments", rows.filter { !$0.2 }), ("Keywords", rows.filter { $0.2 })] where !items.isEmpty {
                text += "\n\(section):\n"
                for (left, right, _) in items {
                    text += "  " + left.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + right + "\n"
                }
            }
        }
        text += "\nExample:\n  \(spec.example)\n"

        var html = "<div style=\"font-family:sans-serif;line-height:1.4\">"
        html += "<div style=\"font-family:monospace;font-weight:bold\">\(escapeHTML(spec.synopsis))</div>"
        html += "<p>\(codeSpans(spec.description))</p>"
        if !rows.isEmpty {
            html += "<table style=\"border-collapse:collapse\">"
            for (left, right, isKeyword) in rows {
                let cell = "style=\"padding:2px 12px 2px 0;vertical-align:top;text-align:left\""
                html += "<tr><td \(cell)><code>\(escapeHTML(left))</code></td>"
                html += "<td \(cell)>\(isKeyword ? "keyword" : "argument")</td>"
                html += "<td \(cell)>\(codeSpans(right))</td></tr>"
            }
            html += "</table>"
        }
        html += "<p>Example: <code>\(escapeHTML(spec.example))</code></p></div>"
        return MimeBundle(data: [MimeBundle.plain: text, MimeBundle.html: html])
    }

    /// (left column, explanation, is a keyword) for each parameter.
    private func parameterRows(_ spec: CommandSpec) -> [(String, String, Bool)] {
        let positionals = spec.positionals.map { p -> (String, String, Bool) in
            let explanation = [p.summary, p.kind.phrase + (p.isRequired ? "" : ", optional")]
                .filter { !$0.isEmpty }.joined(separator: " — ")
            return (p.name, explanation, false)
        }
        let keywords = spec.keywords.map { k -> (String, String, Bool) in
            let left = k.kind == .flag ? k.name : "\(k.name) \(k.kind.placeholder)"
            let explanation = [k.summary, k.kind == .flag ? "a flag" : k.kind.phrase]
                .filter { !$0.isEmpty }.joined(separator: " — ")
            return (left, explanation + (k.isRequired ? " (required)" : ""), true)
        }
        return positionals + keywords
    }

    /// Every verb by group, one line each.
    public func overview() -> MimeBundle {
        var text = "Periscope commands (type `help verb` or `?verb` for details):\n"
        var html = "<div style=\"font-family:sans-serif;line-height:1.4\">"
        html += "<p>Periscope commands — <code>help verb</code> or <code>?verb</code> for details.</p>"
        html += "<table style=\"border-collapse:collapse\">"
        for group in CommandGroup.allCases {
            let members = commands.filter { $0.group == group }
            guard !members.isEmpty else { continue }
            text += "\n\(group.rawValue)\n"
            html += "<tr><th colspan=\"2\" style=\"text-align:left;padding-top:8px\">\(escapeHTML(group.rawValue))</th></tr>"
            // Long synopses (patch, trace) get their headline on the next line, so the short ones stay aligned.
            let width = min(members.map(\.synopsis.count).max() ?? 0, 36)
            for command in members {
                let headline = firstSentence(command.description)
                let short = shortened(headline, to: 90)
                if command.synopsis.count > width {
                    text += "  " + command.synopsis + "\n" + String(repeating: " ", count: width + 4) + short + "\n"
                } else {
                    text += "  " + command.synopsis.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + short + "\n"
                }
                html += "<tr><td style=\"padding:2px 16px 2px 8px;text-align:left\"><code>\(escapeHTML(command.synopsis))</code></td>"
                html += "<td style=\"text-align:left\">\(codeSpans(headline))</td></tr>"
            }
        }
        html += "</table></div>"
        return MimeBundle(data: [MimeBundle.plain: text, MimeBundle.html: html])
    }
}

/// The description's first sentence (up to a period followed by a space or the end), without
/// cutting "e.g." short.
func firstSentence(_ text: String) -> String {
    var sentence = ""
    var previous: Character = " "
    for character in text {
        if character == "\n" { break }
        if previous == ".", character == " ", !sentence.hasSuffix("e.g."), !sentence.hasSuffix("i.e.") {
            break
        }
        sentence.append(character)
        previous = character
    }
    return sentence.hasSuffix(".") ? String(sentence.dropLast()) : sentence
}

/// At most `limit` characters, cut at a word boundary with "…".
func shortened(_ text: String, to limit: Int) -> String {
    guard text.count > limit else { return text }
    let cut = text.prefix(limit - 1)
    let boundary = cut.lastIndex(of: " ") ?? cut.endIndex
    return String(cut[..<boundary]) + "…"
}

/// Escapes text for HTML and turns `backtick spans` into <code> elements.
func codeSpans(_ text: String) -> String {
    let parts = text.split(separator: "`", omittingEmptySubsequences: false)
    guard parts.count >= 3 else { return escapeHTML(text) }
    var html = ""
    for (index, part) in parts.enumerated() {
        let escaped = escapeHTML(String(part))
        // Odd pieces sit between a pair of backticks; an unpaired last one stays as written.
        if index % 2 == 1 {
            html += index == parts.count - 1 ? "`" + escaped : "<code>" + escaped + "</code>"
        } else {
            html += escaped
        }
    }
    return html
}
