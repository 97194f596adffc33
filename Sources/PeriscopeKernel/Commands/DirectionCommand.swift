import Foundation
import GGUF
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `v = direction POS minus NEG layer L [position last|mean]`: a difference-of-means direction.
enum DirectionCommand {
    static let spec = CommandSpec(
        name: "direction",
        group: .analysis,
        synopsis: "direction POS minus NEG layer L [position last|mean]",
        description: "A steering direction: the mean of the positive prompts' `resid_post` at block L minus the mean of the negative prompts', each prompt read at its last token (default) or averaged over its tokens (`position mean`). POS and NEG are prompts or lists of prompts. Returns a Vector for `steer`, `similarity` and `export v to \"file.gguf\"`.",
        positionals: [Parameter("POS", .prompts, required: true, summary: "the positive prompt(s)")],
        keywords: [
            Parameter("minus", .prompts, required: true, summary: "the negative prompt(s)"),
            Parameter("layer", .int, required: true, summary: "the block whose resid_post is read"),
            Parameter("position", .choice(["last", "mean"], allowsInt: false), summary: "read the last token (default) or the mean over tokens"),
        ],
        example: "v = direction [\"Love\", \"I adore you\"] minus [\"Hate\", \"I despise you\"] layer 6",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            let positive = try VerbArguments.prompts(arguments, "POS", session: context.session, model: model)
            let negative = try VerbArguments.prompts(arguments, "minus", session: context.session, model: model)
            guard let layer = try VerbArguments.layer(arguments, "layer", model: model) else { return nil }
            let reduction: PositionReduction = arguments.word("position") == "mean" ? .mean : .last
            let label = "\(VerbResults.shortList(positive)) − \(VerbResults.shortList(negative)) @ layer \(layer)"
            let (vector, profile) = try CommandError.catching(at: arguments.headRange) {
                let profile = try ResultNotes.profile(model)
                return (try Direction.meanDifference(model: model.model, positive: positive.map(\.ids), negative: negative.map(\.ids),
                                                     layer: layer, reduction: reduction, label: label, profile: profile,
                                                     context: context.task), profile)
            }
            let all = positive + negative
            return .object(VectorValue(vector: vector, modelName: model.name, modelPath: model.path,
                                       architecture: model.config.architecture, positive: positive.map(\.text), negative: negative.map(\.text), reduction: reduction,
                                       notes: ResultNotes.massiveReadings(vector.massive, prompts: all, reduction: reduction, profile: profile,
                                                                          model: model, what: "this vector"),
                                       sinkNote: ResultNotes.vectorNote(vector.massive, prompts: all, profile: profile, model: model)))
        })
}
