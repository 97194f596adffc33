import Foundation
import Interpretability
import Rendering
import Transformer

// MARK: - Sentences that qualify a result
//
// A number a user could take at face value gets a note beside it when it rests on something
// that is not what it seems: a state read at the attention sink, an answer token the model was
// not going to say. The verbs attach them with `MimeBundle.noting(_:)`.

enum ResultNotes {
    // MARK: Massive activations

    /// The massive-activation profile of `model` (measured once per model).
    static func profile(_ model: LoadedModel) throws -> MassiveActivations {
        let tokens = model.tokenizer.encode(MassiveActivations.calibrationText).map(Int.init)
        return try MassiveActivations.profile(model: model.model, calibrationTokens: tokens)
    }

    /// "position 0, the attention sink," or "position 4, a massive activation,".
    static func where_(_ position: Int, model: LoadedModel, prompt: PromptValue?) -> String {
        if position == 0 {
            let bos = prompt.map { !$0.ids.isEmpty && model.tokenizer.bosID.map(Int.init) == $0.ids[0] } ?? false
            return "position 0 (\(bos ? "BOS" : "the first token, as this model adds no BOS")), the attention sink,"
        }
        return "position \(position), a massive activation,"
    }

    /// "RMS 946, 158× the layer's median RMS 6.0".
    static func size(_ r: MassiveReading, profile: MassiveActivations) -> String {
        let median = profile.medianRMS.indices.contains(r.layer) ? profile.medianRMS[r.layer] : 0
        return "RMS \(NumberFormat.general.format(r.rms)), \(Int(r.ratio.rounded()))× the median RMS \(NumberFormat.general.format(median)) at layer \(r.layer)"
    }

    /// The quoted texts of the prompts at `indices`, a few of them.
    static func named(_ indices: [Int], _ prompts: [PromptValue]) -> String {
        let texts = indices.compactMap { prompts.indices.contains($0) ? prompts[$0].text : nil }
        return VerbResults.quotedList(texts)
    }

    /// The note for states read from `prompts` (each at its last token, or averaged over its tokens)
    /// of which `massive` sit at massive-activation positions; `what` names the result ("this
    /// vector", "the projection").
    static func massiveReadings(_ massive: [MassiveReading], prompts: [PromptValue], reduction: PositionReduction,
                                profile: MassiveActivations, model: LoadedModel, what: String) -> [String] {
        guard let strongest = massive.max(by: { $0.ratio < $1.ratio }) else { return [] }
        let touched = Array(Set(massive.map(\.prompt))).sorted()
        let count = touched.count == prompts.count ? "all \(prompts.count) prompts" : "\(touched.count) of \(prompts.count) prompts"
        let sample = strongest.prompt < prompts.count ? prompts[strongest.prompt] : nil
        switch reduction {
        case .last:
            let single = touched.filter { $0 < prompts.count && prompts[$0].ids.count == 1 }
            var s = "The last token of \(count) (\(named(touched, prompts))) is \(where_(strongest.position, model: model, prompt: sample)) "
                + "where the state is nearly the same whatever the word and huge (\(size(strongest, profile: profile))): it dominates \(what)."
            if !single.isEmpty {
                s += " A one-token prompt has no other position to read; put a short context before the word "
                    + "(e.g. \"I feel love\" instead of \"Love\") so its last token is not the first."
            } else {
                s += " Read a later position (end the prompt on the word that matters)."
            }
            return [s]
        case .mean:
            return ["The mean over tokens of \(count) includes \(where_(strongest.position, model: model, prompt: sample)) "
                + "a state far larger than the others (\(size(strongest, profile: profile))): it weighs 1/T of each mean, so it dominates \(what) "
                + "and makes it depend on the prompt's length T. `position last` reads a single, ordinary token."]
        }
    }

    /// A short phrase for a Vector made from sink states, kept with the vector (nil when none were).
    static func vectorNote(_ massive: [MassiveReading], prompts: [PromptValue], profile: MassiveActivations,
                           model: LoadedModel) -> String? {
        guard let strongest = massive.max(by: { $0.ratio < $1.ratio }) else { return nil }
        let touched = Set(massive.map(\.prompt)).count
        let sample = strongest.prompt < prompts.count ? prompts[strongest.prompt] : nil
        return "made from \(touched) state\(touched == 1 ? "" : "s") at \(where_(strongest.position, model: model, prompt: sample)) "
            + "\(size(strongest, profile: profile))"
    }

    // MARK: Answers

    /// Notes for answer tokens the model finds improbable where a spelling variant is far likelier.
    static func answers(_ answers: [(keyword: String, token: Int)], prompt: PromptValue, model: LoadedModel,
                        task: TaskContext) throws -> [String] {
        try AnswerCheck.check(model: model.model, prompt: prompt.ids, answers: answers, tokenizer: model.tokenizer,
                              context: task).map(\.description)
    }
}

extension ResultNotes {
    // MARK: Patching at the sink

    /// Notes for a patch that reads the source at, or writes the target at, a massive-activation
    /// position (for a preset target whose placeholder is the first token, the placeholder itself).
    /// Each side is measured on its own model (`targetModel`, when the patch crosses models).
    static func patch(model: LoadedModel, source: PromptValue, sourcePosition: Int, sourceLayers: [Int],
                      target: ResolvedTarget, targetModel: LoadedModel? = nil, atPlaceholder: Bool, targetLayers: [Int],
                      task: TaskContext) throws -> [String] {
        let profile = try profile(model)
        var notes: [String] = []
        let sourceRMS = try RMSScan.run(model: model.model, prompt: source.ids, layers: sourceLayers, context: task)
        let read = profile.readings(rms: sourceRMS, layers: sourceLayers).filter { $0.position == sourcePosition }
        if let r = read.max(by: { $0.ratio < $1.ratio }) {
            notes.append("The source state is read at \(where_(sourcePosition, model: model, prompt: source)) at "
                         + "\(layerList(read.map(\.layer))) (\(size(r, profile: profile))): that state is nearly the same whatever the token, "
                         + "so it carries little about the source. Read a later position.")
        }
        let targetModel = targetModel ?? model
        let targetProfile = targetModel === model ? profile : try self.profile(targetModel)
        let targetRMS = try RMSScan.run(model: targetModel.model, prompt: target.ids, layers: targetLayers, context: task)
        let written = targetProfile.readings(rms: targetRMS, layers: targetLayers).filter { $0.position == target.position }
        if let r = written.max(by: { $0.ratio < $1.ratio }) {
            notes.append("The target position \(target.position)\(atPlaceholder ? " (the placeholder of \(target.name))" : "") is the attention sink at "
                         + "\(layerList(written.map(\.layer))) (\(size(r, profile: targetProfile))): patching it replaces the state every later "
                         + "token attends to, so the output shows a broken sink more than the patched state. Put a few words before "
                         + "the placeholder (e.g. \"Tell me about x\"), or pick a later `position`.")
        }
        return notes
    }

    /// "layer 12" or "layers 3–29" (or a list).
    static func layerList(_ layers: [Int]) -> String {
        let sorted = Array(Set(layers)).sorted()
        guard let first = sorted.first, let last = sorted.last else { return "no layer" }
        if sorted.count == 1 { return "layer \(first)" }
        if last - first == sorted.count - 1 { return "layers \(first)–\(last)" }
        return "layers " + sorted.map(String.init).joined(separator: ", ")
    }
}

extension VerbResults {
    /// A rendered result with `notes` shown before it (other values unchanged).
    static func noting(_ value: Value, _ notes: [String]) -> Value {
        guard !notes.isEmpty, case .result(var result) = value else { return value }
        result.bundle = result.bundle.noting(notes)
        return .result(result)
    }
}
