import XCTest
import Interpretability

/// Data sets from CSV (RFC 4180) and their errors.
final class DatasetTests: XCTestCase {
    func testParsesQuotesDoubledQuotesNewlinesAndCRLF() throws {
        let csv = "label,text\r\npos,\"I loved it, truly\"\r\nneg,\"He said \"\"no\"\"\"\r\npos,\"two\nlines\"\r\nneg,plain\r\n"
        let d = try LabelledDataset.parse(csv: csv, source: "t.csv")
        XCTAssertEqual(d.texts, ["I loved it, truly", "He said \"no\"", "two\nlines", "plain"])
        XCTAssertEqual(d.labels, ["pos", "neg", "pos", "neg"])
        XCTAssertEqual(d.classes, ["pos", "neg"])
        XCTAssertEqual(d.labelIndices, [0, 1, 0, 1])
        XCTAssertEqual(d.classCounts, [2, 2])
    }

    func testHeaderIsCaseInsensitiveAndExtraColumnsAreKept() throws {
        let d = try LabelledDataset.parse(csv: "id,Text,LABEL\n1,a,x\n2,b,y\n", source: "t.csv")
        XCTAssertEqual(d.texts, ["a", "b"])
        XCTAssertEqual(d.labels, ["x", "y"])
    }

    func testClearErrors() {
        func error(_ csv: String) -> DatasetError? {
            do { _ = try LabelledDataset.parse(csv: csv, source: "t.csv"); return nil } catch { return error as? DatasetError }
        }
        XCTAssertEqual(error(""), .empty("t.csv"))
        XCTAssertEqual(error("text,label\n"), .empty("t.csv"))
        XCTAssertEqual(error("sentence,label\na,x\nb,y\n"), .missingColumn("text", found: ["sentence", "label"]))
        XCTAssertEqual(error("text,class\na,x\n"), .missingColumn("label", found: ["text", "class"]))
        XCTAssertEqual(error("text,label\na,x\nb,x\n"), .singleClass("x"))
        XCTAssertEqual(error("text,label\n\"a,x\nb,y\n"), .unterminatedQuote(line: 2))
        if case .malformedRow(let line, _)? = error("text,label\na,x\nb,y,z\n") { XCTAssertEqual(line, 3) } else { XCTFail() }
        XCTAssertTrue(DatasetError.missingColumn("text", found: ["sentence"]).description.contains("text"))
    }

    func testInlineRowsAndMissingFile() throws {
        let d = try LabelledDataset(texts: ["a", "b", "c"], labels: ["1", "2", "1"], source: "inline")
        XCTAssertEqual(d.classCounts, [2, 1])
        XCTAssertThrowsError(try LabelledDataset(texts: ["a"], labels: ["1"], source: "inline"))
        XCTAssertThrowsError(try LabelledDataset.load(csvPath: "/nonexistent/periscope.csv")) {
            XCTAssertEqual($0 as? DatasetError, .unreadable("/nonexistent/periscope.csv"))
        }
    }
}
