import Foundation
import Rendering

/// `models`: the known models (fetched or not), the other GGUF files in the model cache, and the
/// resident models, with the current one marked.
enum ModelsCommand {
    static let spec = CommandSpec(
        name: "models",
        group: .models,
        synopsis: "models",
        description: "Lists the known, fetched and loaded models. For each known model: whether it is fetched into $PERISCOPE_HOME/models, and where; then any other GGUF files in that folder and the loaded models; `*` marks the current one. `use m` switches.",
        example: "models",
        run: { _, context in
            let store = context.session.models
            var rows: [[Table.Cell]] = []
            var json: [JSONOut] = []
            var listed = Set<String>()
            func add(name: String, description: String, path: String, fetched: Bool) {
                let resident = store.model(atPath: path)
                let current = resident != nil && resident === store.current
                rows.append([.text(current ? "*" : ""), .text(name), .text(description), .text(fetched ? "yes" : "no"),
                             .text(resident == nil ? "no" : "yes"), .text(path)])
                json.append(.object([("name", .string(name)), ("description", .string(description)), ("path", .string(path)),
                                     ("fetched", .bool(fetched)), ("loaded", .bool(resident != nil)), ("current", .bool(current))]))
                listed.insert(path)
            }
            for entry in ModelCatalog.entries {
                let path = ModelCatalog.canonicalPath(ModelCatalog.path(of: entry))
                add(name: entry.name, description: entry.title, path: path, fetched: FileManager.default.fileExists(atPath: path))
            }
            for file in ModelCatalog.fetchedFiles.map(ModelCatalog.canonicalPath) where !listed.contains(file) {
                let resident = store.model(atPath: file)
                let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                add(name: resident?.name ?? stem, description: "GGUF file in the model cache", path: file, fetched: true)
            }
            for model in store.models where !listed.contains(model.path) {
                add(name: model.name, description: "\(model.config.architecture), \(model.config.layerCount) layers",
                    path: model.path, fetched: true)
            }
            let table = Table(
                title: "Models",
                columns: [.init(""), .init("name"), .init("model"), .init("fetched"), .init("loaded"), .init("path")],
                rows: rows,
                caption: "model cache: \(ModelCatalog.modelsDirectory)"
                    + (ModelCatalog.entries.contains { !FileManager.default.fileExists(atPath: ModelCatalog.path(of: $0)) }
                       ? "; `make model` fetches the bundled models" : "")
                    + (store.current.map { "; current: \($0.name)" } ?? "; no model loaded"),
                kind: "models")
            var bundle = table.mimeBundle
            bundle.json = appending(table.json, [
                ("models", .array(json)), ("current", store.current.map { .string($0.name) } ?? .null),
            ])
            return .result(RenderedResult(typeName: "Table", summary: "models (\(rows.count))", bundle: bundle))
        })
}

/// A JSON object with more pairs appended (a table's JSON plus the numbers behind a command).
func appending(_ object: JSONOut, _ pairs: [(String, JSONOut)]) -> JSONOut {
    if case .object(let existing) = object { return .object(existing + pairs) }
    return .object([("value", object)] + pairs)
}
