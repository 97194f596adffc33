import Foundation
import Interpretability

// A CSV data set (`dataset "file.csv"`), as text. What parses has a text and a label per row
// and at least one row.

func fuzzCSV(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
    guard let text = String(bytes: input, encoding: .utf8) else { return .refused }
    do {
        let dataset = try LabelledDataset.parse(csv: text, source: "fuzz.csv")
        precondition(dataset.texts.count == dataset.labels.count && dataset.count > 0, "a data set without rows")
        _ = dataset.classCounts
        return .accepted
    } catch {
        _ = String(describing: error)
        return .refused
    }
}
