import Foundation
import JupyterProtocol
import PeriscopeKernel
import PeriscopeLanguage

// Hover, completion, signature help, definition and the outline. Each reads the word under the
// cursor with the kernel's own `wordAtCursor` and answers from the command table and the
// document's check, so the editor says what the kernel would.

extension LanguageServer {
    // MARK: - Hover

    /// A verb's synopsis, description, parameters and example; a keyword's summary; where a
    /// variable is assigned. Null on anything else.
    func hover(_ document: TextDocument, check: DocumentCheck, offset: Int) -> JSONValue {
        let at = wordAtCursor(in: check.source, cursorOffset: offset)
        guard !at.word.isEmpty, let text = hoverText(at, check: check) else { return .null }
        return [
            "contents": ["kind": .string(clientMarkdown ? "markdown" : "plaintext"), "value": .string(text)],
            "range": span(at.range, in: document),
        ]
    }

    private func hoverText(_ at: (word: String, range: Range<Int>, statementHead: String?, previousWords: [String]),
                           check: DocumentCheck) -> String? {
        let table = check.table
        if let head = at.statementHead, let spec = table[head], let keyword = spec.keyword(keywordName(at.word, spec, at.previousWords)) {
            let usage = "\(spec.name) … \(keyword.name)" + (keyword.kind == .flag ? "" : " \(keyword.kind.placeholder)")
            let lines = [code(usage), keyword.summary, "Takes \(keyword.kind.phrase)." + (keyword.isRequired ? " Required." : "")]
            return lines.filter { !$0.isEmpty }.joined(separator: "\n\n")
        }
        if at.statementHead == nil, let spec = table[at.word] {
            return verbHelp(spec)
        }
        if let assignment = check.definition(of: at.word, at: at.range.lowerBound) {
            let line = assignment.nameRange.start.line
            let source = document(check, line: line)
            return "\(inline(at.word)): assigned on line \(line)\n\n" + code(source)
        }
        if let spec = table[at.word] { return verbHelp(spec) }
        return nil
    }

    /// The keyword a word names in this statement, after renames such as `into … layer` → `target_layer`.
    private func keywordName(_ word: String, _ spec: CommandSpec, _ previousWords: [String]) -> String {
        var renames: [String: String] = [:]
        for previous in previousWords {
            if let next = spec.renamesAfter[previous] { renames = next }
        }
        return renames[word] ?? word
    }

    func verbHelp(_ spec: CommandSpec) -> String {
        var parts = [code(spec.synopsis), spec.description]
        func row(_ parameter: Parameter, _ left: String) -> String {
            let kind = parameter.kind == .flag ? "a flag" : parameter.kind.phrase
            let explanation = [parameter.summary, kind].filter { !$0.isEmpty }.joined(separator: " — ")
            return "- " + inline(left) + " — " + explanation + (parameter.isRequired ? " (required)" : "")
        }
        if !spec.positionals.isEmpty {
            parts.append(heading("Arguments") + "\n" + spec.positionals.map { row($0, $0.name) }.joined(separator: "\n"))
        }
        if !spec.keywords.isEmpty {
            parts.append(heading("Keywords") + "\n" + spec.keywords.map {
                row($0, $0.kind == .flag ? $0.name : "\($0.name) \($0.kind.placeholder)")
            }.joined(separator: "\n"))
        }
        parts.append(heading("Example") + "\n" + code(spec.example))
        return parts.joined(separator: "\n\n")
    }

    private func code(_ text: String) -> String { clientMarkdown ? "```periscope\n\(text)\n```" : text }
    private func inline(_ text: String) -> String { clientMarkdown ? "`\(text)`" : text }
    private func heading(_ text: String) -> String { clientMarkdown ? "**\(text)**" : text + ":" }

    /// The source line `line` (1-based) of the checked text.
    private func document(_ check: DocumentCheck, line: Int) -> String {
        let lines = check.source.split(separator: "\n", omittingEmptySubsequences: false)
        return line >= 1 && line <= lines.count ? String(lines[line - 1]) : ""
    }

    // MARK: - Completion

    /// Verbs at the start of a statement, the keywords a verb still takes, the words a slot
    /// accepts (presets, hook names, `all`), and the variables assigned before the cursor.
    func completion(_ document: TextDocument, check: DocumentCheck, offset: Int) -> JSONValue {
        let (items, range) = check.completions(at: offset)
        let edit = span(range, in: document)
        let table = check.table
        let entries = items.enumerated().map { index, item -> JSONValue in
            var entry: [String: JSONValue] = [
                "label": .string(item.text),
                "kind": .int(completionKind(item.kind)),
                "sortText": .string(String(format: "%04d", index)),
                "textEdit": ["range": edit, "newText": .string(item.text)],
            ]
            switch item.kind {
            case .verb:
                if let spec = table[item.text] {
                    entry["detail"] = .string(spec.synopsis)
                    entry["documentation"] = ["kind": .string(clientMarkdown ? "markdown" : "plaintext"), "value": .string(verbHelp(spec))]
                }
            case .keyword:
                let head = wordAtCursor(in: check.source, cursorOffset: offset).statementHead
                if let keyword = head.flatMap({ table[$0] })?.keyword(item.text) {
                    entry["detail"] = .string([keyword.summary, keyword.kind == .flag ? "a flag" : keyword.kind.phrase]
                        .filter { !$0.isEmpty }.joined(separator: " — "))
                }
            case .variable:
                if let assignment = check.definition(of: item.text, at: offset) {
                    entry["detail"] = .string("assigned on line \(assignment.nameRange.start.line)")
                }
            case .value:
                break
            }
            return .object(entry)
        }
        return ["isIncomplete": false, "items": .array(entries)]
    }

    private func completionKind(_ kind: DocumentCheck.CompletionKind) -> Int {
        switch kind {
        case .verb: return 3       // Function
        case .keyword: return 14   // Keyword
        case .variable: return 6   // Variable
        case .value: return 21     // Constant
        }
    }

    // MARK: - Signature help

    /// The verb's synopsis with the parameter being written marked active.
    func signatureHelp(_ document: TextDocument, offset: Int) -> JSONValue {
        let source = document.text
        let at = wordAtCursor(in: source, cursorOffset: offset)
        let table = check(document).table
        let spec: CommandSpec
        if let head = at.statementHead, let found = table[head] {
            spec = found
        } else if let found = table[at.word] {
            spec = found  // on the verb itself
        } else {
            return .null
        }
        let label = spec.synopsis
        // Each parameter that the synopsis names, located as a whole word after the verb.
        var parameters: [(name: String, label: JSONValue, doc: String)] = []
        for parameter in spec.positionals + spec.keywords {
            guard let found = wholeWord(parameter.name, in: label, after: spec.name.unicodeScalars.count) else { continue }
            let doc = [parameter.summary, parameter.kind == .flag ? "a flag" : parameter.kind.phrase]
                .filter { !$0.isEmpty }.joined(separator: " — ")
            parameters.append((parameter.name, [.int(units(label, found.lowerBound)), .int(units(label, found.upperBound))], doc))
        }
        let active = activeParameter(spec, at: at).flatMap { name in parameters.firstIndex { $0.name == name } }
        var signature: [String: JSONValue] = [
            "label": .string(label),
            "documentation": .string(spec.description),
            "parameters": .array(parameters.map { ["label": $0.label, "documentation": .string($0.doc)] }),
        ]
        if let active { signature["activeParameter"] = .int(active) }
        return ["signatures": [.object(signature)], "activeSignature": 0, "activeParameter": active.map { .int($0) } ?? .null]
    }

    /// The parameter the cursor is filling: the keyword just before it (waiting for its value),
    /// the keyword being typed, or the next positional.
    private func activeParameter(_ spec: CommandSpec, at: (word: String, range: Range<Int>, statementHead: String?, previousWords: [String])) -> String? {
        guard at.statementHead != nil else { return nil }
        let name = { (word: String) in self.keywordName(word, spec, at.previousWords) }
        if let last = at.previousWords.last, let keyword = spec.keyword(name(last)), keyword.kind != .flag {
            return keyword.name
        }
        if let keyword = spec.keyword(name(at.word)) { return keyword.name }
        var positionals = 0
        var skipNext = false
        for word in at.previousWords {
            if skipNext { skipNext = false; continue }
            if let keyword = spec.keyword(name(word)) { skipNext = keyword.kind != .flag } else { positionals += 1 }
        }
        return positionals < spec.positionals.count ? spec.positionals[positionals].name : nil
    }

    /// The scalar span of `word` standing alone in `text`, at or after `from`.
    private func wholeWord(_ word: String, in text: String, after from: Int) -> Range<Int>? {
        let scalars = Array(text.unicodeScalars)
        let needle = Array(word.unicodeScalars)
        guard !needle.isEmpty, needle.count <= scalars.count else { return nil }
        func isWordScalar(_ i: Int) -> Bool {
            guard i >= 0, i < scalars.count else { return false }
            return scalars[i] == "_" || scalars[i].properties.isAlphabetic || scalars[i].properties.numericType != nil
        }
        var i = max(from, 0)
        while i + needle.count <= scalars.count {
            if Array(scalars[i..<(i + needle.count)]) == needle, !isWordScalar(i - 1), !isWordScalar(i + needle.count) {
                return i..<(i + needle.count)
            }
            i += 1
        }
        return nil
    }

    /// A scalar offset into `text` in the negotiated unit (signature labels count like positions).
    private func units(_ text: String, _ scalarOffset: Int) -> Int {
        guard encoding == .utf16 else { return scalarOffset }
        return text.unicodeScalars.prefix(scalarOffset).reduce(0) { $0 + $1.utf16.count }
    }

    // MARK: - Definition and outline

    /// From a variable to the `name =` that assigned it (the last one before the use).
    func definition(_ document: TextDocument, check: DocumentCheck, offset: Int) -> JSONValue {
        let at = wordAtCursor(in: check.source, cursorOffset: offset)
        guard !at.word.isEmpty, let assignment = check.definition(of: at.word, at: at.range.lowerBound) else { return .null }
        return ["uri": .string(document.uri), "range": range(assignment.nameRange, in: document)]
    }

    /// One symbol per assignment, named for the variable, with the verb that makes it.
    func documentSymbols(_ document: TextDocument, check: DocumentCheck) -> JSONValue {
        .array(check.assignments.map { assignment -> JSONValue in
            let detail: String
            switch assignment.statement.body {
            case .command(let head, _, _): detail = head
            case .value: detail = "value"
            case .help: detail = "help"
            }
            if clientHierarchicalSymbols {
                return [
                    "name": .string(assignment.name), "detail": .string(detail), "kind": 13,
                    "range": range(assignment.statement.range, in: document),
                    "selectionRange": range(assignment.nameRange, in: document),
                ]
            }
            return [
                "name": .string(assignment.name), "kind": 13, "containerName": .string(detail),
                "location": ["uri": .string(document.uri), "range": range(assignment.statement.range, in: document)],
            ]
        })
    }
}
