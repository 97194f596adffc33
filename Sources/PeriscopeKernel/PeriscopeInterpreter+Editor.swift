import JupyterKernel
import JupyterProtocol
import PeriscopeLanguage
import Rendering

// MARK: - Completion

extension PeriscopeInterpreter {
    /// Verbs at the start of a statement, the verb's keywords (and the values a keyword takes)
    /// after it, variable names wherever a value goes. Offsets are Unicode scalars.
    public func complete(code: String, cursorPosition: Int) -> Completion {
        let scalarCount = code.unicodeScalars.count
        let cursor = min(max(cursorPosition, 0), scalarCount)
        let at = wordAtCursor(in: code, cursorOffset: cursor)
        let typed = String(String.UnicodeScalarView(at.word.unicodeScalars.prefix(max(cursor - at.range.lowerBound, 0))))
        var seen = Set<String>()
        let matches = completionCandidates(head: at.statementHead, previousWords: at.previousWords)
            .filter { $0.text.hasPrefix(typed) && seen.insert($0.text).inserted }
        // JupyterLab shows the kind of each match from this (experimental, but widely used) key.
        let types: [JSONValue] = matches.map {
            ["start": .int(at.range.lowerBound), "end": .int(at.range.upperBound), "text": .string($0.text),
             "type": .string($0.kind.rawValue)]
        }
        return Completion(matches: matches.map(\.text), cursorStart: at.range.lowerBound, cursorEnd: at.range.upperBound,
                          metadata: ["_jupyter_types_experimental": .array(types)])
    }

    /// What a completion is, as JupyterLab names the kinds.
    enum CandidateKind: String {
        case verb = "function"
        case keyword
        case variable
        case value = "constant"
    }

    /// What may stand where the cursor is, best first.
    func completionCandidates(head: String?, previousWords: [String]) -> [(text: String, kind: CandidateKind)] {
        func tagged(_ words: [String], _ kind: CandidateKind) -> [(text: String, kind: CandidateKind)] {
            words.map { ($0, kind) }
        }
        let variables = tagged(session.variableNames, .variable)
        guard let head else {
            return tagged(table.verbNames, .verb) + variables
        }
        guard let spec = table[head] else { return variables + tagged(Evaluator.symbols.sorted(), .value) }

        // Right after a keyword that takes a value: that value's words, its names, variables.
        if let previous = previousWords.last, let keyword = spec.keyword(previous), keyword.kind != .flag {
            return tagged(keyword.kind.words + keyword.words + (keyword.completions?(session, table) ?? []).sorted(), .value) + variables
        }

        // Otherwise the next positional (if any) and the keywords not given yet.
        var used = Set<String>()
        var positionalsGiven = 0
        var skipNext = false
        for word in previousWords {
            if skipNext { skipNext = false; continue }
            if let keyword = spec.keyword(word) {
                used.insert(word)
                skipNext = keyword.kind != .flag
            } else {
                positionalsGiven += 1
            }
        }
        var candidates: [(text: String, kind: CandidateKind)] = []
        if positionalsGiven < spec.positionals.count {
            let next = spec.positionals[positionalsGiven]
            candidates += tagged(next.kind.words + next.words + (next.completions?(session, table) ?? []).sorted(), .value)
            if next.kind != .name { candidates += variables }
        }
        candidates += tagged(spec.keywords.map(\.name).filter { !used.contains($0) }, .keyword)
        return candidates
    }
}

// MARK: - Inspection

extension PeriscopeInterpreter {
    /// The verb's help page, a keyword's explanation, or a variable's summary (with its display
    /// at detail level 1 or more); nil when the cursor is on nothing known.
    public func inspect(code: String, cursorPosition: Int, detailLevel: Int) -> [String: JSONValue]? {
        let cursor = min(max(cursorPosition, 0), code.unicodeScalars.count)
        let at = wordAtCursor(in: code, cursorOffset: cursor)
        guard !at.word.isEmpty else { return nil }
        if let head = at.statementHead, let spec = table[head], let keyword = spec.keyword(at.word) {
            let line = "\(spec.name) … \(keyword.name)" + (keyword.kind == .flag ? "" : " \(keyword.kind.placeholder)")
            let text = [line, keyword.summary, "Takes " + keyword.kind.phrase + "."].filter { !$0.isEmpty }
                .joined(separator: "\n")
            return jupyterData(MimeBundle(plain: text))
        }
        if at.statementHead == nil, let spec = table[at.word] {
            return jupyterData(table.helpPage(for: spec))
        }
        if let value = session.variables[at.word] {
            return jupyterData(variableBundle(at.word, value, detailed: detailLevel > 0))
        }
        if let spec = table[at.word] {
            return jupyterData(table.helpPage(for: spec))
        }
        return nil
    }
}
