import PeriscopeLanguage

// MARK: - Layers

/// A bound `layers` argument: an int, a range, a list, or `all`; resolved against the model.
public struct LayerSelection: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case all
        case indices([Int])
        case range(Int, Int)
    }
    public var kind: Kind
    /// Where it was written, for errors.
    public var range: SourceRange?

    public init(_ kind: Kind, range: SourceRange? = nil) { self.kind = kind; self.range = range }

    /// The layer indices, in order, each checked against `layerCount`.
    public func resolve(layerCount: Int) throws -> [Int] {
        let valid = layerCount > 0 ? "0..\(layerCount - 1) (the model has \(layerCount) layers)" : "none"
        let layers: [Int]
        switch kind {
        case .all:
            return Array(0..<layerCount)
        case .indices(let list):
            layers = list
        case .range(let a, let b):
            guard a <= b else {
                throw CommandError.backwardRange(kind: "layer", from: a, to: b, range: range)
            }
            layers = Array(a...b)
        }
        for layer in layers where layer < 0 || layer >= layerCount {
            throw CommandError.outOfRange(what: "layer", value: layer, valid: valid, range: range)
        }
        return layers
    }
}

// MARK: - Positions

/// A bound `positions` argument. Ints count from the start, negative ones from the end; a
/// text means the last token of its first occurrence in the prompt.
public struct PositionSelection: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case all
        case last
        case indices([Int])
        case range(Int, Int)
        case text(String)
    }
    public var kind: Kind
    public var range: SourceRange?

    public init(_ kind: Kind, range: SourceRange? = nil) { self.kind = kind; self.range = range }

    /// The token positions, in order, for a prompt of `tokenCount` tokens. `locate` finds the
    /// last token of the first occurrence of a text (it needs the tokenizer, so the model side
    /// provides it); it returns nil when the text does not occur.
    public func resolve(tokenCount: Int, locate: (String) -> Int? = { _ in nil }) throws -> [Int] {
        let valid = tokenCount > 0
            ? "0..\(tokenCount - 1) or -\(tokenCount)..-1 (the prompt has \(tokenCount) tokens)" : "none (the prompt is empty)"
        func absolute(_ p: Int) throws -> Int {
            let index = p < 0 ? tokenCount + p : p
            guard index >= 0, index < tokenCount else {
                throw CommandError.outOfRange(what: "position", value: p, valid: valid, range: range)
            }
            return index
        }
        switch kind {
        case .all:
            return Array(0..<tokenCount)
        case .last:
            guard tokenCount > 0 else {
                throw CommandError.emptyPrompt(text: "", range: range)
            }
            return [tokenCount - 1]
        case .indices(let list):
            return try list.map(absolute)
        case .range(let a, let b):
            let start = try absolute(a), end = try absolute(b)
            guard start <= end else {
                throw CommandError.backwardRange(kind: "position", from: a, to: b, range: range)
            }
            return Array(start...end)
        case .text(let text):
            guard let index = locate(text) else {
                throw CommandError.textNotInPrompt(text, range: range)
            }
            return [try absolute(index)]
        }
    }
}
