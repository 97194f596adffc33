import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering

/// `d = dataset "file.csv"` or `dataset [["text", "label"], …]`: labelled texts for `probe`.
enum DatasetCommand {
    static let spec = CommandSpec(
        name: "dataset",
        group: .analysis,
        synopsis: "dataset \"file.csv\" | dataset [[\"text\", \"label\"], …] [chat [system \"…\"]]",
        description: "Labelled texts for `probe`: a CSV file (RFC 4180; the header names a `text` and a `label` column, in any order; quote fields that contain commas) or an inline list of [text, label] pairs. It needs at least two different labels. A relative path starts at the notebook's folder. With `chat` every text is wrapped in the model's chat template as a user turn (after the `system` message, if given), as `prompt … chat` does, so an instruction-tuned model reads it as it was trained to.",
        positionals: [Parameter("source", .value, required: true, summary: "a CSV path, or a list of [text, label] pairs")],
        keywords: [
            Parameter("chat", .flag, summary: "wrap each text in the model's chat template"),
            Parameter("system", .string, summary: "a system message for the chat template (implies chat)"),
        ],
        example: "d = dataset [[\"I loved it\", \"pos\"], [\"I hated it\", \"neg\"], [\"Wonderful\", \"pos\"], [\"Awful\", \"neg\"]]",
        run: { arguments, context in
            guard let source = arguments.value("source") else { return nil }
            let range = arguments.range(of: "source")
            let dataset: LabelledDataset
            switch source {
            case .string(let path):
                dataset = try CommandError.catching(at: range) { try LabelledDataset.load(csvPath: ModelCatalog.canonicalPath(path)) }
            case .list(let rows):
                var texts: [String] = [], labels: [String] = []
                for (i, row) in rows.enumerated() {
                    guard case .list(let pair) = row, pair.count == 2, case .string(let text) = pair[0] else {
                        throw CommandError.badDataRow(row: i + 1, given: row.sourceText, range: range)
                    }
                    let label: String
                    switch pair[1] {
                    case .string(let s): label = s
                    case .int(let n): label = String(n)
                    default:
                        throw CommandError.badDataLabel(row: i + 1, given: pair[1].sourceText, range: range)
                    }
                    texts.append(text); labels.append(label)
                }
                dataset = try CommandError.catching(at: range) { try LabelledDataset(texts: texts, labels: labels, source: "inline") }
            default:
                throw CommandError.typeMismatch(parameter: "source", verb: "dataset", expected: "a CSV path or a list of [text, label] pairs",
                                                given: withArticle(source.typeName), range: range)
            }
            return .object(DatasetValue(dataset: dataset, chat: arguments.flag("chat") || arguments.has("system"),
                                        system: arguments.string("system")))
        })
}

// MARK: - Dataset value

/// A labelled data set as the session holds it.
struct DatasetValue: ValueContent {
    var dataset: LabelledDataset
    /// Whether each text is wrapped in the model's chat template, and the system message.
    var chat = false
    var system: String?

    var typeName: String { "Dataset" }
    var summary: String {
        "Dataset \(dataset.source) (\(dataset.count) rows, \(dataset.classes.count) labels: \(dataset.classes.prefix(4).joined(separator: ", "))\(chat ? "; chat" : ""))"
    }

    /// Every text as a prompt of `model` (chat-formatted when asked).
    func prompts(for model: LoadedModel, range: SourceRange?) throws -> [PromptValue] {
        try dataset.texts.map { try PromptValue.make(text: $0, chat: chat, system: system, model: model, range: range) }
    }

    func render() -> MimeBundle {
        let shown = min(dataset.count, 8)
        let rows: [[Table.Cell]] = (0..<shown).map { i in [.number(Double(i + 1), .integer), .text(dataset.texts[i]), .text(dataset.labels[i])] }
        let counts = zip(dataset.classes, dataset.classCounts).map { "\($0) ×\($1)" }.joined(separator: ", ")
        let table = Table(title: "Dataset \(dataset.source): \(dataset.count) rows",
                          columns: [.init("#", alignment: .right), .init("text"), .init("label")], rows: rows,
                          caption: "labels: \(counts)" + (dataset.count > shown ? "; first \(shown) rows shown" : "")
                            + (chat ? "; each text wrapped in the chat template as a user turn" + (system.map { " after the system message \(quoted($0))" } ?? "") : ""),
                          kind: "dataset")
        var bundle = table.mimeBundle
        bundle.json = appending(table.json, [
            ("source", .string(dataset.source)), ("count", .int(dataset.count)),
            ("classes", .strings(dataset.classes)), ("class_counts", .array(dataset.classCounts.map { .int($0) })),
            ("chat", .bool(chat)), ("system", system.map { .string($0) } ?? .null),
        ])
        return bundle
    }
}
