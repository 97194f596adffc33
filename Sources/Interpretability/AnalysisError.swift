import Transformer

// MARK: - Errors

/// Everything an analysis of this target (lens, attention, Patchscope, patching, tracing,
/// steering, probes, …) can reject. Each case carries the facts (the parameter, the value, the
/// valid range); `description` alone turns them into sentences a user can act on.
public enum AnalysisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A prompt with no tokens.
    case emptyPrompt
    /// A list of prompts that should hold at least one (e.g. "positive").
    case noPrompts(String)
    /// A probe given no rows to train on.
    case noTrainingRows
    /// A probe's data set with fewer than two classes (`found` of them).
    case tooFewClasses(found: Int)
    /// A probe's data set of `rows` rows, too few to hold any out for testing at the split asked for.
    case noRowsHeldOut(rows: Int)
    /// A vector of the wrong width.
    case widthMismatch(expected: Int, found: Int)
    /// A vector of all zeros in a cosine similarity, which needs a direction.
    case zeroVector
    /// Clean and corrupt prompts must line up token for token.
    case lengthMismatch(clean: Int, corrupt: Int, cleanTokens: [String], corruptTokens: [String])
    /// The answer (or `against`) text is not exactly one token.
    case answerNotOneToken(text: String, pieces: [String])
    /// A layer outside the model.
    case layerOutOfRange(Int, layerCount: Int)
    /// A position outside the prompt.
    case positionOutOfRange(Int, tokenCount: Int)
    /// A position outside one of several prompts (`role`: "source", "target", "clean", …).
    case positionOutOfRangeIn(role: String, position: Int, tokenCount: Int)
    /// A Patchscope target prompt that does not contain its placeholder.
    case placeholderMissing(placeholder: String, prompt: String)
    /// A target prompt given without a placeholder needs an explicit target position.
    case targetPositionNeeded(prompt: String)
    /// The causal-tracing subject does not occur in the prompt.
    case subjectNotFound(subject: String, prompt: String)
    /// An empty list of layers or positions.
    case emptySelection(what: String)
    /// A whole-number parameter (top K, samples, a head, a token id, …) outside
    /// `lowest...highest` (no upper bound when `highest` is nil).
    case intOutOfRange(name: String, value: Int, lowest: Int, highest: Int?)
    /// A real-number parameter (noise, ridge, split, …) outside `domain`; `example` is a usual value.
    case numberOutOfRange(name: String, value: Double, domain: NumberDomain, example: Double?)
    /// Fewer vectors than the analysis needs (PCA needs two).
    case tooFewVectors(count: Int, needed: Int)
    /// A list of prompts and a list of labels of different lengths.
    case labelCountMismatch(prompts: Int, labels: Int)
    /// A resumed restoration asked for a layer the reference runs did not record.
    case layerNotRecorded(Int)
    /// Clean and corrupt runs score the answer the same, so nothing can be normalised.
    case noEffect(metric: String, value: Float)
    /// An affine map from `input` to `output` numbers used between states of `source` and `target` numbers.
    case mapWidths(input: Int, output: Int, source: Int, target: Int)
    /// An affine map fitted between other layers than the patch reads and writes.
    case mapLayers(fittedSource: Int, fittedTarget: Int, source: Int, target: Int)
    /// A tuned lens fitted for a model of `lensLayers` layers of `lensWidth` numbers, used on a model of
    /// `layers` layers of `width` numbers or at a hook other than `resid_post`.
    case tunedLensMismatch(lensLayers: Int, lensWidth: Int, layers: Int, width: Int, hook: String)
    /// Every position of the prompt is a massive-activation position (a one-token prompt's only token).
    case onlySinkPositions(positions: [Int])
    /// Too little text to fit an affine map.
    case notEnoughFitData(samples: Int, needed: Int)
    /// States of one width patched into a model of another, with no map between them.
    case widthsNeedMap(source: Int, target: Int)

    public var description: String {
        switch self {
        case .emptyPrompt:
            return "The prompt has no tokens; give some text."
        case .noPrompts(let which):
            return "No \(which) prompts were given; give at least one."
        case .noTrainingRows:
            return "The dataset cannot be used: there are no training rows."
        case .tooFewClasses(let found):
            return "The dataset cannot be used: it has \(found == 1 ? "one label" : "\(found) labels"), and a probe needs at least two."
        case .noRowsHeldOut(let rows):
            return "The dataset cannot be used: its \(rows) rows are too few to hold any out for testing; add rows or lower `split`."
        case .widthMismatch(let expected, let found):
            return "A vector of \(found) numbers does not fit here, where \(expected) are needed; use vectors taken from this model's residual stream."
        case .zeroVector:
            return "A vector of all zeros has no direction, so its cosine similarity is undefined."
        case .lengthMismatch(let clean, let corrupt, let cleanTokens, let corruptTokens):
            return "The clean prompt has \(clean) tokens \(Self.show(cleanTokens)) but the corrupt prompt has \(corrupt) "
                + "\(Self.show(corruptTokens)); activation patching restores position by position, so both must have the "
                + "same number of tokens. Reword the corrupt prompt (e.g. swap the subject for one that tokenises to "
                + "\(clean) tokens too), or use `trace CLEAN noise \"subject\" …` instead."
        case .answerNotOneToken(let text, let pieces):
            return "The answer \"\(text)\" is \(pieces.count) tokens \(Self.show(pieces)), but it must be a single token. "
                + "Use its first token \(pieces.first.map { "\"\($0)\"" } ?? "") (often with a leading space, e.g. \" Paris\")."
        case .layerOutOfRange(let layer, let layerCount):
            return "Layer \(layer) does not exist; this model has layers 0...\(layerCount - 1)."
        case .positionOutOfRange(let position, let tokenCount):
            return "Position \(position) is past the prompt, which has \(tokenCount) tokens "
                + "(positions 0...\(tokenCount - 1), or -\(tokenCount)...-1 from the end)."
        case .positionOutOfRangeIn(let role, let position, let tokenCount):
            return "Position \(position) is past the \(role) prompt, which has \(tokenCount) tokens "
                + "(positions 0...\(tokenCount - 1), or -\(tokenCount)...-1 from the end)."
        case .placeholderMissing(let placeholder, let prompt):
            return "The target prompt \"\(prompt)\" does not contain its placeholder \"\(placeholder)\"; "
                + "write the placeholder where the patched state should go (e.g. \"The capital city of x\")."
        case .targetPositionNeeded(let prompt):
            return "The target prompt \"\(prompt)\" has no placeholder, so say where to patch: give `position` for the target."
        case .subjectNotFound(let subject, let prompt):
            return "The subject \"\(subject)\" does not occur in the prompt \"\(prompt)\"; give text that appears in it exactly."
        case .emptySelection(let what):
            return "No \(what) were selected; give at least one."
        case .intOutOfRange(let name, let value, let lowest, let highest):
            let valid = highest.map { "between \(lowest) and \($0)" } ?? "at least \(lowest)"
            return "`\(name)` is \(value), but it must be \(valid)."
        case .numberOutOfRange(let name, let value, let domain, let example):
            let usual = example.map { ", e.g. \(Self.format($0))" } ?? ""
            return "`\(name)` is \(Self.format(value)), but it must be \(domain.phrase)\(usual)."
        case .tooFewVectors(let count, let needed):
            return "There \(count == 1 ? "is" : "are") \(count) vector\(count == 1 ? "" : "s") but at least \(needed) are needed; give more prompts."
        case .labelCountMismatch(let prompts, let labels):
            return "There are \(prompts) prompts but \(labels) labels; give one label per prompt."
        case .layerNotRecorded(let layer):
            return "Layer \(layer) was not recorded by the clean and corrupted runs, so it cannot be restored."
        case .noEffect(let metric, let value):
            return "The clean and corrupt runs give the same \(metric) (\(value)), so there is no effect to localise; "
                + "choose a corrupt prompt (or more noise) that changes the answer."
        case .mapWidths(let input, let output, let source, let target):
            return "The affine map cannot be used here: it maps \(input) to \(output) numbers but the source states have \(source) and the target's \(target)."
        case .mapLayers(let fittedSource, let fittedTarget, let source, let target):
            return "The affine map cannot be used here: it was fitted from layer \(fittedSource) to layer \(fittedTarget), "
                + "but this patch reads layer \(source) and writes layer \(target); fit a map for those layers."
        case .tunedLensMismatch(let lensLayers, let lensWidth, let layers, let width, let hook):
            return "The tuned lens cannot be used here: it reads resid_post of a model with \(lensLayers) layers of \(lensWidth) numbers, "
                + "but this lens reads \(hook) of a model with \(layers) layers of \(width) numbers."
        case .onlySinkPositions(let positions):
            return "Every position of the prompt (\(positions.map(String.init).joined(separator: ", "))) is the attention sink, "
                + "whose state is nearly the same whatever the token; put a short context before the word (e.g. \"I feel love\" "
                + "instead of \"Love\"), or name the sink with `positions 0` to perturb it anyway."
        case .notEnoughFitData(let samples, let needed):
            return "Fitting the affine map needs at least \(needed) token positions of text but got \(samples); give more or longer texts."
        case .widthsNeedMap(let source, let target):
            return "The source states have \(source) numbers but the target model's have \(target); two models of different widths "
                + "need a map between them: add `map fit`, or fit one with `M = fit map m1 layer L to m2 layer L2` and add `map M`."
        }
    }

    private static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }

    private static func show(_ tokens: [String]) -> String {
        "[" + tokens.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}

/// The interval a real-number parameter must lie in.
public enum NumberDomain: Sendable, Equatable {
    /// Greater than 0.
    case positive
    /// 0 or more.
    case nonNegative
    /// Strictly between 0 and 1 (a share).
    case openUnitInterval
    /// Above 0 and at most 1 (a share that may be everything).
    case shareUpToOne

    var phrase: String {
        switch self {
        case .positive: return "greater than 0"
        case .nonNegative: return "0 or more"
        case .openUnitInterval: return "strictly between 0 and 1"
        case .shareUpToOne: return "above 0 and at most 1"
        }
    }
}

// MARK: - Checks shared by the analyses

enum Check {
    static func layer(_ layer: Int, _ config: ModelConfig) throws {
        guard layer >= 0, layer < config.layerCount else {
            throw AnalysisError.layerOutOfRange(layer, layerCount: config.layerCount)
        }
    }

    static func layers(_ layers: [Int], _ config: ModelConfig) throws {
        guard !layers.isEmpty else { throw AnalysisError.emptySelection(what: "layers") }
        for l in layers { try layer(l, config) }
    }

    /// An absolute position in `0..<count`; negative positions count from the end.
    static func position(_ position: Int, count: Int, role: String) throws -> Int {
        let p = position < 0 ? count + position : position
        guard p >= 0, p < count else { throw AnalysisError.positionOutOfRangeIn(role: role, position: position, tokenCount: count) }
        return p
    }

    static func positions(_ positions: [Int], count: Int, role: String) throws -> [Int] {
        guard !positions.isEmpty else { throw AnalysisError.emptySelection(what: "positions") }
        return try positions.map { try position($0, count: count, role: role) }
    }

    static func prompt(_ prompt: [Int]) throws {
        guard !prompt.isEmpty else { throw AnalysisError.emptyPrompt }
    }
}
