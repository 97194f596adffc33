import Foundation
import GGUF
import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// The steering and analysis verbs (direction, steer, similarity, dataset, probe, attribute,
/// compare, stability, project, export of a Vector) through the interpreter, as notebook cells run them.
final class AnalysisVerbsTests: XCTestCase {
    var interpreter: PeriscopeInterpreter!

    override func setUpWithError() throws {
        interpreter = try DefaultModelSession.interpreter(for: Self.self, setup: """
            load "smollm2"
            love = direction ["Love", "I adore you"] minus ["Hate", "I despise you"] layer 6
            calm = direction "Calm" minus "Angry" layer 6
            """)
    }

    // MARK: Helpers

    private func payload(_ code: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try interpreter.payload(code, file: file, line: line)
    }

    /// The payload of the first part of a combined result (`{"kind":"group","items":[…]}`).
    private func items(_ json: [String: Any]) -> [[String: Any]] {
        (json["items"] as? [Any])?.compactMap { $0 as? [String: Any] } ?? [json]
    }

    private func errorMessage(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        interpreter.errorMessage(code, file: file, line: line)
    }

    // MARK: Steering

    func testDirectionIsAVectorAtItsLayer() throws {
        let json = try payload("love")
        XCTAssertEqual(json["layer"] as? Int, 6)
        XCTAssertEqual((json["values"] as? [Any])?.count, 576)
        XCTAssertEqual(json["hook"] as? String, "blocks.6.hook_resid_post")
        XCTAssertGreaterThan(json["norm"] as? Double ?? 0, 0)
    }

    func testSteerScaleZeroIsTheUnsteeredGeneration() throws {
        let steer = try payload("steer \"I think dogs are\" with love scales [6] generate 8")
        let scales = try XCTUnwrap(steer["scales"] as? [Double])
        XCTAssertEqual(scales, [0, 6])
        let generated = try payload("generate \"I think dogs are\" max 8")
        let texts = try XCTUnwrap(steer["continuations"] as? [String])
        XCTAssertEqual(texts[0], generated["text"] as? String)
        XCTAssertNotEqual(texts[1], texts[0])
    }

    func testSimilarityIsLabelledByVariableNames() throws {
        let json = try payload("similarity [love, calm, love]")
        XCTAssertEqual(json["labels"] as? [String], ["love", "calm", "love"])
        let values = try XCTUnwrap(json["values"] as? [[Double]])
        XCTAssertEqual(values[0][0], 1, accuracy: 1e-9)
        XCTAssertEqual(values[0][2], 1, accuracy: 1e-6)
        XCTAssertEqual(values[0][1], values[1][0], accuracy: 1e-12)
        XCTAssertLessThan(abs(values[0][1]), 1)
        XCTAssertTrue(errorMessage("similarity [love, 3]").contains("Vector"))
    }

    func testExportWritesALlamaCppControlVector() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("periscope-steer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("love.gguf").path
        let json = try payload("export love to \(quoted(path))")
        XCTAssertEqual(json["tensor"] as? String, "direction.6")
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.metadata["general.architecture"]?.string, "controlvector")
        XCTAssertEqual(file.metadata["controlvector.model_hint"]?.string, "llama")
        XCTAssertEqual(file.metadata["controlvector.layer_count"]?.int, 1)
        let tensor = try XCTUnwrap(file.tensor(named: "direction.6"))
        let values = try file.dequantize(tensor)
        let expected = try XCTUnwrap(try payload("love")["values"] as? [Double])
        XCTAssertEqual(values.count, 576)
        for i in [0, 100, 575] { XCTAssertEqual(Double(values[i]), expected[i], accuracy: 1e-4 * max(1, abs(expected[i]))) }
        XCTAssertTrue(errorMessage("export love to \"love.txt\"").contains(".gguf"))
        // A folder that does not exist: the writer's reason once, inside one sentence.
        let unwritable = dir.appendingPathComponent("no-such-folder/love.gguf").path
        let message = errorMessage("export love to \(quoted(unwritable))")
        XCTAssertTrue(message.hasPrefix("Cannot write the control vector to \(unwritable): "), message)
        XCTAssertEqual(message.components(separatedBy: "Cannot write").count, 2, message)
        // llama.cpp has no control-vector slot at block 0: refused, with nothing written.
        let zeroPath = dir.appendingPathComponent("zero.gguf").path
        XCTAssertEqual(try payload("zero = direction \"Calm\" minus \"Angry\" layer 0\nzero")["layer"] as? Int, 0)
        XCTAssertTrue(errorMessage("export zero to \(quoted(zeroPath))").contains("never to block 0"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: zeroPath))
        XCTAssertEqual(try payload("zero")["layer"] as? Int, 0, "the vector survives the refused export")
    }

    // MARK: Data sets and probes

    func testInlineDatasetAndProbeReadsAnEasyLabel() throws {
        var rows: [String] = []
        for subject in ["I", "We", "They", "My friend", "She", "He", "The kids", "Our team"] {
            for object in ["this movie", "the food", "the book", "the trip", "this song"] {
                rows.append("[\(quoted("\(subject) loved \(object)")), \"pos\"]")
                rows.append("[\(quoted("\(subject) hated \(object)")), \"neg\"]")
            }
        }
        let make = interpreter.execute(ExecuteRequest(code: "moods = dataset [\(rows.joined(separator: ", "))]"), io: RecordingIO())
        XCTAssertEqual(make, .ok)
        let json = try payload("probe moods layers [2, 6, 10] seed 1 control")
        let parts = items(json)
        let table = try XCTUnwrap(parts.first)
        let accuracy = try XCTUnwrap(table["test_accuracy"] as? [Double])
        XCTAssertEqual(accuracy.count, 3)
        XCTAssertGreaterThanOrEqual(accuracy.max() ?? 0, 0.95)
        let control = try XCTUnwrap(table["control_accuracy"] as? [Double])
        XCTAssertLessThan(control.reduce(0, +) / 3, 0.75)
        XCTAssertEqual(parts.last?["kind"] as? String, "probe_chart")
    }

    func testDatasetErrorsAreClear() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("periscope-csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let good = try write("good.csv", "text,label\n\"Hello, world\",a\nBye,b\n")
        let json = try payload("dataset \(quoted(good))")
        XCTAssertEqual(json["count"] as? Int, 2)
        XCTAssertTrue(errorMessage("dataset \(quoted(try write("cols.csv", "sentence,label\na,x\n")))").contains("`text` column"))
        XCTAssertTrue(errorMessage("dataset \(quoted(try write("empty.csv", "")))").contains("no rows"))
        XCTAssertTrue(errorMessage("dataset \(quoted(try write("one.csv", "text,label\na,x\nb,x\n")))").contains("at least two different labels"))
        XCTAssertTrue(errorMessage("dataset [[\"a\", \"x\"], [\"b\", \"x\"]]").contains("at least two different labels"))
        XCTAssertTrue(errorMessage("dataset [[\"a\"]]").contains("pair"))
    }

    // MARK: Attribution, comparison, stability, projection

    func testAttributeRanksTheCountryFirst() throws {
        let json = try payload("attribute \"The capital city of France is\" answer \" Paris\"")
        let strip = try XCTUnwrap(items(json).first)
        let ranking = try XCTUnwrap(strip["ranking"] as? [Int])
        let tokens = try XCTUnwrap(strip["tokens"] as? [String])
        XCTAssertEqual(tokens[ranking[0]], " France")
        XCTAssertTrue(errorMessage("attribute \"The capital city of France is\" answer \"Parisian city\"").contains("one token"))
    }

    func testCompareShowsDivergenceAndMovers() throws {
        let json = try XCTUnwrap(items(try payload("compare \"The capital of France is\" \"The capital of Italy is\" top 5")).first)
        XCTAssertGreaterThan(json["kl_p1_p2"] as? Double ?? 0, 0.1)
        let movers = try XCTUnwrap(json["movers"] as? [[String: Any]])
        XCTAssertEqual(movers.count, 5)
        let same = try XCTUnwrap(items(try payload("compare \"Hello\" \"Hello\"")).first)
        XCTAssertEqual(same["kl_p1_p2"] as? Double ?? 1, 0, accuracy: 1e-9)
    }

    func testStabilityWithoutNoiseKeepsTheAnswer() throws {
        let json = try XCTUnwrap(items(try payload("stability \"The capital of France is\" layers [3, 20] noise 0 samples 2")).first)
        XCTAssertEqual(json["kept"] as? [Double], [1, 1])
        XCTAssertEqual(json["answer"] as? String, " Paris")
        XCTAssertTrue(errorMessage("stability \"x\" samples 0").contains("samples"))
    }

    func testProjectGivesTwoCoordinatesPerPrompt() throws {
        let json = try payload("project [\"cat\", \"dog\", \"car\", \"bus\"] layer 10 labels [\"animal\", \"animal\", \"vehicle\", \"vehicle\"]")
        let projections = try XCTUnwrap(json["projections"] as? [[Double]])
        XCTAssertEqual(projections.count, 4)
        XCTAssertEqual(projections[0].count, 2)
        let ratio = try XCTUnwrap(json["explained_variance_ratio"] as? [Double])
        XCTAssertGreaterThanOrEqual(ratio[0], ratio[1])
        XCTAssertTrue(errorMessage("project [\"cat\", \"dog\", \"car\"] layer 10 labels [\"a\"]").contains("one label per prompt"))
        XCTAssertTrue(errorMessage("project [\"cat\", \"dog\", \"car\"] layer 99").contains("out of range"))
    }

    // MARK: Argument errors

    func testArgumentErrorsSayWhatToDo() throws {
        XCTAssertTrue(errorMessage("direction \"a b\" minus \"c d\" layer 30").contains("out of range"))
        XCTAssertTrue(errorMessage("direction \"a b\" layer 3").contains("minus"))
        XCTAssertTrue(errorMessage("steer \"Hi there\" with 3").contains("Vector"))
        XCTAssertTrue(errorMessage("steer \"Hi there\" with love scale 2 scales [1]").contains("not both"))
        XCTAssertTrue(errorMessage("steer \"Hi there\" with love scales [\"big\"]").contains("numbers"))
        moodsDataset("small")
        XCTAssertTrue(errorMessage("probe small split 1.5").contains("between 0 and 1"))
        XCTAssertTrue(errorMessage("probe love").contains("Dataset"))
        XCTAssertTrue(errorMessage("stability \"The capital of France is\" noise -1").contains("0 or more"))
    }

    // MARK: Progress and interruption

    private func moodsDataset(_ name: String) {
        var rows: [String] = []
        for subject in ["I", "We", "They", "My friend", "She", "He", "The kids", "Our team"] {
            for object in ["this movie", "the food", "the book", "the trip", "this song"] {
                rows.append("[\(quoted("\(subject) loved \(object)")), \"pos\"]")
                rows.append("[\(quoted("\(subject) hated \(object)")), \"neg\"]")
            }
        }
        XCTAssertEqual(interpreter.execute(ExecuteRequest(code: "\(name) = dataset [\(rows.joined(separator: ", "))]"), io: RecordingIO()), .ok)
    }

    func testProbeShowsAProgressBar() throws {
        moodsDataset("bar")
        interpreter.progressDelay = 0
        defer { interpreter.progressDelay = 1 }
        let io = RecordingIO()
        XCTAssertEqual(interpreter.execute(ExecuteRequest(code: "probe bar layers 0..3"), io: io), .ok)
        let bars = io.outputs.filter { if case .display(_, let id?, _) = $0 { return id.hasPrefix("periscope-progress") }; return false }
        XCTAssertGreaterThanOrEqual(bars.count, 2, "a first display and at least the final update")
    }

    func testInterruptStopsAProbeQuicklyAndKeepsTheSession() throws {
        moodsDataset("long")
        let io = RecordingIO()
        let interruptAt = io.interrupt(after: 0.5)
        let outcome = interpreter.execute(ExecuteRequest(code: "probe long layers all control"), io: io)
        let late = Date().timeIntervalSince(interruptAt)
        guard case .error(let name, _, _) = outcome else { return XCTFail("expected an interrupt, got \(outcome)") }
        XCTAssertEqual(name, "KeyboardInterrupt")
        XCTAssertLessThan(late, 0.2, "stopped \(late) s after the interrupt")
        XCTAssertEqual(try payload("love")["layer"] as? Int, 6)
    }
}

