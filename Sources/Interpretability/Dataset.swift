import Foundation

// MARK: - Labelled data sets

/// Rows of text with a class label, for probes.
public struct LabelledDataset: Sendable, Equatable {
    public var texts: [String]
    public var labels: [String]
    /// Where the rows came from ("file.csv" or "inline").
    public var source: String

    public init(texts: [String], labels: [String], source: String) throws {
        guard texts.count == labels.count else {
            throw DatasetError.malformedRow(line: 0, "there are \(texts.count) texts but \(labels.count) labels")
        }
        guard !texts.isEmpty else { throw DatasetError.empty(source) }
        if let i = texts.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw DatasetError.emptyText(row: i + 1)
        }
        self.texts = texts; self.labels = labels; self.source = source
        guard classes.count >= 2 else { throw DatasetError.singleClass(classes.first ?? "") }
    }

    public var count: Int { texts.count }

    /// The distinct labels in order of first appearance.
    public var classes: [String] {
        var seen = Set<String>(), out: [String] = []
        for l in labels where seen.insert(l).inserted { out.append(l) }
        return out
    }

    /// Each row's label as an index into `classes`.
    public var labelIndices: [Int] {
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        return labels.map { index[$0] ?? 0 }
    }

    /// Rows per class, in `classes` order.
    public var classCounts: [Int] {
        let idx = labelIndices
        return classes.indices.map { c in idx.filter { $0 == c }.count }
    }

    /// Reads a CSV file whose header names a `text` and a `label` column (any order, any case).
    public static func load(csvPath path: String) throws -> LabelledDataset {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError.unreadable(path) }
        guard let text = String(data: data, encoding: .utf8) else { throw DatasetError.notUTF8(path) }
        return try parse(csv: text, source: (path as NSString).lastPathComponent)
    }

    /// Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF, newlines inside quotes).
    public static func parse(csv: String, source: String) throws -> LabelledDataset {
        let records = try CSV.parse(csv)
        guard let header = records.first?.fields, records.contains(where: { !$0.isBlank }) else { throw DatasetError.empty(source) }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let textColumn = names.firstIndex(of: "text") else { throw DatasetError.missingColumn("text", found: header) }
        guard let labelColumn = names.firstIndex(of: "label") else { throw DatasetError.missingColumn("label", found: header) }
        var texts: [String] = [], labels: [String] = []
        for record in records.dropFirst() where !record.isBlank {
            guard record.fields.count == header.count else {
                throw DatasetError.malformedRow(line: record.line,
                    "it has \(record.fields.count) field\(record.fields.count == 1 ? "" : "s") but the header has \(header.count)")
            }
            texts.append(record.fields[textColumn])
            labels.append(record.fields[labelColumn].trimmingCharacters(in: .whitespaces))
        }
        guard !texts.isEmpty else { throw DatasetError.empty(source) }
        return try LabelledDataset(texts: texts, labels: labels, source: source)
    }
}

/// Problems with a data set, each phrased so the user can fix the file.
public enum DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(String)
    case notUTF8(String)
    case empty(String)
    case missingColumn(String, found: [String])
    case malformedRow(line: Int, String)
    case unterminatedQuote(line: Int)
    case emptyText(row: Int)
    case singleClass(String)

    public var description: String {
        switch self {
        case .unreadable(let path):
            return "Cannot read the data set file \(path); check the path (relative paths start at the notebook's folder)."
        case .notUTF8(let path):
            return "The data set file \(path) is not UTF-8 text; save it as UTF-8 CSV."
        case .empty(let source):
            return "The data set \(source) has no rows; it needs a header line `text,label` and at least two rows with different labels."
        case .missingColumn(let name, let found):
            let list = found.isEmpty ? "none" : found.map { "\"\($0)\"" }.joined(separator: ", ")
            return "The data set has no `\(name)` column (its header has \(list)); the first line must name the columns `text` and `label`."
        case .malformedRow(let line, let why):
            return line > 0 ? "Line \(line) of the data set is malformed: \(why). Quote fields that contain commas, e.g. \"a, b\"."
                            : "The data set is malformed: \(why)."
        case .unterminatedQuote(let line):
            return "A quoted field opened on line \(line) of the data set is never closed; add the closing \"."
        case .emptyText(let row):
            return "Row \(row) of the data set has an empty text; every row needs some text."
        case .singleClass(let label):
            return "Every row of the data set has the label \"\(label)\"; a probe needs at least two different labels."
        }
    }
}

// MARK: - CSV

/// A minimal RFC 4180 reader.
enum CSV {
    struct Record { var fields: [String]; var line: Int
        var isBlank: Bool { fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty }
    }

    static func parse(_ text: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = [], field = ""
        var inQuotes = false, quotedOpenLine = 0
        var line = 1, recordLine = 1
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }   // a byte-order mark
        var i = 0
        func endRecord() {
            fields.append(field); field = ""
            records.append(Record(fields: fields, line: recordLine)); fields = []
        }
        while i < chars.count {
            let ch = chars[i]
            if inQuotes {
                if ch == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 2; continue }
                    inQuotes = false
                } else {
                    if ch == "\n" { line += 1 }
                    field.unicodeScalars.append(ch)
                }
                i += 1
                continue
            }
            switch ch {
            case "\"" where field.isEmpty:
                inQuotes = true; quotedOpenLine = line
            case ",":
                fields.append(field); field = ""
            case "\r":
                if i + 1 < chars.count, chars[i + 1] == "\n" { i += 1 }
                endRecord(); line += 1; recordLine = line
            case "\n":
                endRecord(); line += 1; recordLine = line
            default:
                field.unicodeScalars.append(ch)
            }
            i += 1
        }
        if inQuotes { throw DatasetError.unterminatedQuote(line: quotedOpenLine) }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return records
    }
}
