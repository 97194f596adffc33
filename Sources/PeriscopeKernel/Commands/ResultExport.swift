import Foundation
import JupyterProtocol
import PeriscopeLanguage
import Rendering

// MARK: - Exporting a displayed result

/// `export result to "file.csv" | "file.npy" | "file.svg"`: the numbers behind a heatmap, table or
/// chart, read from the parts' vnd JSON (the same data clients read), or a chart's SVG.
///
/// A `.npy` file holds the numbers as float32 (`[rows, columns]`); its labels go beside it in
/// `file.labels.json` (`{"title", "rows", "columns"}`), since a NumPy array holds no text.
enum ResultExport {
    /// A grid of cells with its labels, from one displayed part.
    struct Grid {
        var title: String
        /// The header of the row-label column (nil when rows have no labels).
        var rowHeader: String?
        var rowLabels: [String]
        var columnLabels: [String]
        /// cells[row][column]: numbers or text (JSON null for missing).
        var cells: [[JSONValue]]
        var kind: String
    }

    /// Writes `parts` to `path` (its extension chooses the format) and describes what it wrote.
    static func export(parts: [MimeBundle], typeName: String, path: String, range: SourceRange?) throws -> Value {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "svg":
            guard let svg = parts.lazy.compactMap({ $0.data[MimeBundle.svg] }).first else {
                throw CommandError.nothingToExport(typeName: typeName, format: "svg", range: range)
            }
            try write(Data(svg.utf8), to: path, range: range)
            return card(title: "Exported SVG", [("from", typeName), ("file", path), ("size", formatBytes(svg.utf8.count))],
                        json: [("path", .string(path)), ("format", .string("svg"))], summary: "SVG → \(path)")
        case "csv", "npy":
            let grids = parts.flatMap(grids(of:))
            guard let grid = grids.first(where: { ext == "csv" || $0.hasNumbers }) else {
                throw CommandError.nothingToExport(typeName: typeName, format: ext, range: range)
            }
            if ext == "csv" {
                let text = csv(grid)
                try write(Data(text.utf8), to: path, range: range)
                return card(title: "Exported CSV", [("from", grid.title), ("file", path),
                                                    ("shape", "\(grid.cells.count) rows × \(grid.columnLabels.count) columns"),
                                                    ("size", formatBytes(text.utf8.count))],
                            json: [("path", .string(path)), ("format", .string("csv")), ("kind", .string(grid.kind)),
                                   ("shape", .array([.int(grid.cells.count), .int(grid.columnLabels.count)]))],
                            summary: "\(grid.kind) → \(path)")
            }
            let (numeric, columns) = grid.numericColumns
            let values: [Float] = grid.cells.flatMap { row in numeric.map { Float(row[$0].doubleValue ?? .nan) } }
            do {
                try NpyWriter.write(shape: [grid.cells.count, numeric.count], values: values, to: path)
            } catch let error as NpyError {
                throw CommandError.npy(error, range: range)
            }
            let labelsPath = (path as NSString).deletingPathExtension + ".labels.json"
            let labels: JSONValue = .object([
                "title": .string(grid.title), "kind": .string(grid.kind),
                "rows": .array(grid.labelsOfRows.map { .string($0) }), "columns": .array(columns.map { .string($0) }),
            ])
            try write(Data(labels.serialized().utf8), to: labelsPath, range: range)
            return card(title: "Exported NumPy array", [("from", grid.title), ("file", path),
                                                        ("shape", "[\(grid.cells.count), \(numeric.count)] float32"),
                                                        ("labels", labelsPath)],
                        json: [("path", .string(path)), ("labels_path", .string(labelsPath)), ("format", .string("npy")),
                               ("kind", .string(grid.kind)), ("shape", .array([.int(grid.cells.count), .int(numeric.count)])),
                               ("columns", .strings(columns))],
                        summary: "\(grid.kind) [\(grid.cells.count), \(numeric.count)] → \(path)")
        default:
            throw CommandError.wrongExtension(what: withArticle(typeName), format: "CSV, NumPy (its labels beside it) or SVG",
                                              ext: ".csv, .npy or .svg", example: "result.csv", range: range)
        }
    }

    // MARK: Reading the parts

    /// The grids a part's vnd JSON holds: a heatmap's values, a table's rows, a chart's series, a
    /// scatter plot's points (a group's items in order).
    static func grids(of part: MimeBundle) -> [Grid] {
        guard let json = part.json?.build(JSONValue.self) else { return [] }
        return grids(json)
    }

    static func grids(_ json: JSONValue) -> [Grid] {
        let kind = json["kind"]?.stringValue ?? "result"
        let title = json["title"]?.stringValue ?? kind
        if kind == "group", let items = json["items"]?.arrayValue { return items.flatMap(grids) }
        if let values = json["values"]?.arrayValue, let rows = json["row_labels"]?.arrayValue,
           let columns = json["column_labels"]?.arrayValue {
            return [Grid(title: title, rowHeader: json["y_label"]?.stringValue ?? "row", rowLabels: rows.map(\.text),
                         columnLabels: columns.map(\.text), cells: values.map { $0.arrayValue ?? [] }, kind: kind)]
        }
        if let columns = json["columns"]?.arrayValue, let rows = json["rows"]?.arrayValue {
            return [Grid(title: title, rowHeader: nil, rowLabels: [], columnLabels: columns.map(\.text),
                         cells: rows.map { $0.arrayValue ?? [] }, kind: kind)]
        }
        if let series = json["series"]?.arrayValue {
            // A line chart: one row per x, one column per series.
            var xs: [Double] = []
            for s in series { for x in s["x"]?.arrayValue ?? [] { if let v = x.doubleValue, !xs.contains(v) { xs.append(v) } } }
            xs.sort()
            let names = series.map { $0["name"]?.stringValue ?? "" }
            let cells: [[JSONValue]] = xs.map { x in
                [.double(x)] + series.map { s -> JSONValue in
                    let sx = s["x"]?.arrayValue ?? [], sy = s["y"]?.arrayValue ?? []
                    guard let k = sx.firstIndex(where: { $0.doubleValue == x }), k < sy.count else { return .null }
                    return sy[k]
                }
            }
            return [Grid(title: title, rowHeader: nil, rowLabels: [], columnLabels: [json["x_label"]?.stringValue ?? "x"] + names,
                         cells: cells, kind: kind)]
        }
        if let labels = json["labels"]?.arrayValue, let x = json["x"]?.arrayValue, let y = json["y"]?.arrayValue {
            let groups = json["groups"]?.arrayValue
            let cells: [[JSONValue]] = x.indices.map { i in
                [i < y.count ? x[i] : .null, i < y.count ? y[i] : .null] + (groups.map { [i < $0.count ? $0[i] : .null] } ?? [])
            }
            return [Grid(title: title, rowHeader: "label", rowLabels: labels.map(\.text),
                         columnLabels: [json["x_label"]?.stringValue ?? "x", json["y_label"]?.stringValue ?? "y"] + (groups == nil ? [] : ["group"]),
                         cells: cells, kind: kind)]
        }
        return []
    }

    // MARK: Writing

    /// RFC 4180 CSV: a header row, then one row per grid row (the row label first when there is one).
    static func csv(_ grid: Grid) -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines: [String] = []
        let header = (grid.rowHeader.map { [$0] } ?? []) + grid.columnLabels
        lines.append(header.map(field).joined(separator: ","))
        for (i, row) in grid.cells.enumerated() {
            var fields = grid.rowHeader == nil ? [] : [i < grid.rowLabels.count ? grid.rowLabels[i] : String(i)]
            fields += grid.columnLabels.indices.map { j in j < row.count ? row[j].csvText : "" }
            lines.append(fields.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func write(_ data: Data, to path: String, range: SourceRange?) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CommandError.cannotWrite(what: "file", path: path, reason: (error as NSError).localizedDescription, range: range)
        }
    }

    static func card(title: String, _ rows: [(String, String)], json: [(String, JSONOut)], summary: String) -> Value {
        let card = Card(title: title, rows, kind: "export")
        var bundle = card.mimeBundle
        bundle.json = appending(card.json, json)
        return .result(RenderedResult(typeName: "Export", summary: summary, bundle: bundle))
    }
}

extension ResultExport.Grid {
    /// Each row's label: the given ones, else the row's text cells joined (a table's token column).
    var labelsOfRows: [String] {
        if !rowLabels.isEmpty { return rowLabels }
        let numeric = Set(numericColumns.indices)
        return cells.enumerated().map { i, row in
            let texts = row.indices.filter { !numeric.contains($0) }.map { row[$0].text }.filter { !$0.isEmpty }
            return texts.isEmpty ? String(i) : texts.joined(separator: " ")
        }
    }

    /// Whether any cell is a number.
    var hasNumbers: Bool { !numericColumns.indices.isEmpty }

    /// The columns whose cells are all numbers or missing (and not all missing), with their labels;
    /// a table's text columns become the row labels of its `.npy` export.
    var numericColumns: (indices: [Int], labels: [String]) {
        let indices = columnLabels.indices.filter { j in
            var any = false
            for row in cells {
                guard j < row.count else { continue }
                switch row[j] {
                case .int, .double: any = true
                case .null: continue
                default: return false
                }
            }
            return any
        }
        return (indices, indices.map { columnLabels[$0] })
    }
}

extension JSONValue {
    /// The value as label text.
    var text: String {
        switch self {
        case .string(let s): return s
        case .null: return ""
        default: return serialized()
        }
    }

    /// The value as a CSV field: numbers in full, text as is, null empty.
    var csvText: String {
        switch self {
        case .null: return ""
        case .string(let s): return s
        default: return serialized()
        }
    }
}
