import Foundation
import Interpretability

// libFuzzer target: a CSV data set (`dataset "file.csv"`), as text.

func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    guard let text = String(bytes: UnsafeBufferPointer(start: start, count: count), encoding: .utf8) else { return 0 }
    do {
        let dataset = try LabelledDataset.parse(csv: text, source: "fuzz.csv")
        precondition(dataset.texts.count == dataset.labels.count && dataset.count > 0)
        _ = dataset.classCounts
    } catch {
        _ = String(describing: error)
    }
    return 0
}
