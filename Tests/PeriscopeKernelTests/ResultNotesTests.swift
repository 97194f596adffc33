import Foundation
import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// Results that say what they rest on (the attention sink, an improbable answer), text that shows
/// the whole result, and every result leaving the notebook through `export`.
final class ResultNotesTests: XCTestCase {
    var interpreter: PeriscopeInterpreter!
    var folder: URL!

    override func setUpWithError() throws {
        interpreter = try DefaultModelSession.interpreter(for: Self.self, setup: """
            load "smollm2"
            single = direction "Love" minus "Hate" layer 12
            context = direction ["I feel love", "We love it"] minus ["I feel hate", "We hate it"] layer 12
            moods = dataset [["I loved this movie", "pos"], ["We hated the food", "neg"], ["She loved the book", "pos"], ["They hated the trip", "neg"], ["He loved the song", "pos"], ["My friend hated the game", "neg"], ["We loved the city", "pos"], ["She hated the weather", "neg"], ["They loved the food", "pos"], ["I hated this movie", "neg"], ["He loved the trip", "pos"], ["We hated the book", "neg"]]
            """)
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("periscope-results-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    // MARK: Helpers

    /// The result's text/plain and vnd JSON.
    private func result(_ code: String, file: StaticString = #filePath, line: UInt = #line) throws -> (text: String, json: [String: Any]) {
        try interpreter.result(code, file: file, line: line)
    }

    private func notes(_ json: [String: Any]) -> [String] {
        if let notes = json["notes"] as? [String] { return notes }
        return ((json["items"] as? [Any]) ?? []).compactMap { ($0 as? [String: Any])?["notes"] as? [String] }.flatMap { $0 }
    }

    private func errorMessage(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        interpreter.errorMessage(code, file: file, line: line)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    // MARK: The attention sink, named

    func testADirectionFromOneTokenPromptsNamesTheSinkAndTheFix() throws {
        let (text, json) = try result("single")
        let note = try XCTUnwrap(notes(json).first)
        XCTAssertTrue(note.contains("attention sink"), note)
        XCTAssertTrue(note.contains("short context"), note)
        XCTAssertTrue(text.hasPrefix("Note: "), text)
        let (_, clean) = try result("context")
        XCTAssertTrue(notes(clean).isEmpty, "\(notes(clean))")
        // The sink's vector dwarfs the one read at ordinary tokens.
        XCTAssertGreaterThan(json["norm"] as? Double ?? 0, 10 * (clean["norm"] as? Double ?? .infinity))
    }

    func testProjectOfOneTokenPromptsNamesTheSink() throws {
        let (_, json) = try result("project [\"cat\", \"dog\", \"car\", \"bus\"] layer 12")
        XCTAssertTrue(notes(json).first?.contains("attention sink") ?? false, "\(notes(json))")
        let (_, clean) = try result("project [\"I saw a cat\", \"I saw a dog\", \"I saw a car\", \"I saw a bus\"] layer 12")
        XCTAssertTrue(notes(clean).isEmpty, "\(notes(clean))")
    }

    func testSimilarityNamesVectorsMadeAtTheSink() throws {
        let (_, json) = try result("similarity [single, context]")
        let note = try XCTUnwrap(notes(json).first)
        XCTAssertTrue(note.hasPrefix("single "), note)
        XCTAssertFalse(note.contains("context,"), note)
    }

    func testStabilityLeavesTheSinkOutAndNamesItWhenAsked() throws {
        let (text, json) = try result("stability \"The capital city of France is\" layers [5, 20] samples 4")
        let table = try XCTUnwrap((json["items"] as? [[String: Any]])?.first)
        XCTAssertEqual(table["sink_positions"] as? [Int], [0])
        XCTAssertFalse((table["positions"] as? [Int] ?? [0]).contains(0))
        XCTAssertTrue(text.contains("the attention sink, left out"), text)
        XCTAssertTrue(notes(json).isEmpty)
        let (_, all) = try result("stability \"The capital city of France is\" layers [20] samples 4 positions all")
        XCTAssertTrue(notes(all).first?.contains("attention sink") ?? false, "\(notes(all))")
        let message = errorMessage("stability \"Love\" layers [20]")
        XCTAssertTrue(message.contains("short context"), message)
    }

    func testAPatchIntoThePlaceholderAtTheSinkIsNamed() throws {
        // The sink forms around layer 11 in this model; layer 15 writes over it.
        let (_, json) = try result("patch source \"The Eiffel Tower\" layer 15 into attribute \"x is the capital of\" generate 2")
        let note = try XCTUnwrap(notes(json).first)
        XCTAssertTrue(note.contains("placeholder") && note.contains("attention sink"), note)
        let (_, clean) = try result("patch source \"The Eiffel Tower\" layer 15 into attribute \"The capital city of x\" generate 2")
        XCTAssertTrue(notes(clean).isEmpty, "\(notes(clean))")
    }

    func testAProbeOverMeansNamesTheSink() throws {
        let (_, json) = try result("probe moods layers [0, 12] position mean folds 3")
        let note = try XCTUnwrap(notes(json).first)
        XCTAssertTrue(note.contains("mean") && note.contains("length"), note)
        let (_, last) = try result("probe moods layers [0, 12] folds 3")
        XCTAssertTrue(notes(last).isEmpty, "\(notes(last))")
    }

    // MARK: Answers

    func testAnImprobableAnswerIsFlaggedAndEffectsKeepTheirScale() throws {
        let (text, json) = try result("trace \"The Colosseum is in the city of\" noise \"Colosseum\" answer \"Rome\" layers 0..29 samples 3")
        XCTAssertTrue(notes(json).contains { $0.contains("answer \" Rome\"") }, "\(notes(json))")
        XCTAssertTrue(text.contains("Did you mean"), text)
        let values = (json["values"] as? [[Any]] ?? []).flatMap { $0.compactMap { $0 as? Double } }
        let range = try XCTUnwrap(json["range"] as? [Double])
        XCTAssertGreaterThanOrEqual(range[1], values.max() ?? 0)
        XCTAssertLessThanOrEqual(range[0], values.min() ?? 0)
        let (_, attribution) = try result("attribute \"The Colosseum is in the city of\" answer \"Rome\"")
        XCTAssertTrue(notes(attribution).contains { $0.contains("\" Rome\"") }, "\(notes(attribution))")
        let (_, fine) = try result("attribute \"The Colosseum is in the city of\" answer \" Rome\"")
        XCTAssertTrue(notes(fine).isEmpty, "\(notes(fine))")
    }

    // MARK: Text that shows the result

    func testSteerTextShowsWholeContinuations() throws {
        let (text, json) = try result("steer \"I think that my neighbour is\" with context scales [4] generate 30")
        for continuation in try XCTUnwrap(json["continuations"] as? [String]) {
            // Newlines show as ↵; long continuations wrap at spaces, so every word is there whole.
            for word in continuation.replacingOccurrences(of: "\n", with: "↵").split(separator: " ") where word.count > 2 {
                XCTAssertTrue(text.contains(word), "\(word) missing from\n\(text)")
            }
        }
    }

    func testLensTopKOverSeveralPositions() throws {
        let (text, json) = try result("lens \"The Eiffel Tower is in the city of\" layers 20..29 positions -2..-1 top 3")
        XCTAssertEqual(json["k"] as? Int, 3)
        XCTAssertTrue(text.contains("top 3 at position"), text)
        XCTAssertTrue(text.contains("#3"), text)
    }

    // MARK: Export

    func testEveryResultExports() throws {
        let heat = path("lens.csv")
        let (_, card) = try result("x = lens \"The Eiffel Tower is in\" layers 0..2\nexport x to \(quoted(heat))")
        XCTAssertEqual(card["shape"] as? [Int], [3, 6])
        let csv = try String(contentsOfFile: heat, encoding: .utf8)
        XCTAssertTrue(csv.hasPrefix("layer,0 The,1 ·E"), csv)
        XCTAssertEqual(csv.split(separator: "\r\n").count, 4)

        _ = try result("export x to \(quoted(path("lens.npy")))")
        let npy = try Data(contentsOf: folder.appendingPathComponent("lens.npy"))
        XCTAssertTrue(String(decoding: npy.prefix(80), as: UTF8.self).contains("'shape': (3, 6)"))
        let labels = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("lens.labels.json"))) as? [String: Any]
        XCTAssertEqual((labels?["rows"] as? [String]), ["0", "1", "2"])

        _ = try result("export context to \(quoted(path("v.npy")))")
        let vector = try Data(contentsOf: folder.appendingPathComponent("v.npy"))
        XCTAssertTrue(String(decoding: vector.prefix(80), as: UTF8.self).contains("'shape': (576,)"))

        _ = try result("pr = probe moods layers [6, 12] folds 3\nexport pr to \(quoted(path("probe.svg")))")
        XCTAssertTrue(try String(contentsOfFile: path("probe.svg"), encoding: .utf8).hasPrefix("<svg"))
        _ = try result("export pr to \(quoted(path("probe.csv")))")
        XCTAssertTrue(try String(contentsOfFile: path("probe.csv"), encoding: .utf8).hasPrefix("layer,train acc"))
        _ = try result("export pr to \(quoted(path("weights.npy")))")
        let weights = try Data(contentsOf: folder.appendingPathComponent("weights.npy"))
        XCTAssertTrue(String(decoding: weights.prefix(80), as: UTF8.self).contains("'shape': (2, 2, 576)"))

        let (_, similarity) = try result("similarity [pr, context]")
        XCTAssertEqual((similarity["values"] as? [[Double]])?[0][0] ?? 0, 1, accuracy: 1e-9)
        XCTAssertTrue(errorMessage("export pr to \(quoted(path("x.txt")))").contains(".csv"))
    }

    // MARK: Methods

    func testProbeFoldsAndRidge() throws {
        let (text, json) = try result("probe moods layers [3, 12] folds 4 ridge 0.5")
        let table = try XCTUnwrap((json["items"] as? [[String: Any]])?.first)
        XCTAssertEqual(table["folds"] as? Int, 4)
        XCTAssertEqual((table["fold_accuracies"] as? [[Double]])?.first?.count, 4)
        XCTAssertEqual(table["ridge"] as? Double, 0.5)
        XCTAssertTrue(text.contains("Probe on moods"), text)
        // The table is printed once; the chart's text is one line.
        XCTAssertEqual(text.components(separatedBy: "\n─────").count - 1, 1, text)
        XCTAssertTrue(errorMessage("probe moods split 0.5 folds 3").contains("not both"))
    }

    func testChatDatasetsAndDrawnSeeds() throws {
        let (_, json) = try result("dataset [[\"good\", \"a\"], [\"bad\", \"b\"]] chat system \"Be brief.\"")
        XCTAssertEqual(json["chat"] as? Bool, true)
        XCTAssertEqual(json["system"] as? String, "Be brief.")
        let (text, generation) = try result("generate \"Once upon a time\" max 3 temperature 0.8")
        XCTAssertEqual(generation["seed_drawn"] as? Bool, true)
        let seed = try XCTUnwrap(generation["seed"] as? Int)
        XCTAssertTrue(text.contains("seed \(seed)"), text)
        let (_, again) = try result("generate \"Once upon a time\" max 3 temperature 0.8 seed \(seed)")
        XCTAssertEqual(again["ids"] as? [Int], generation["ids"] as? [Int])
    }

    func testAMisspeltPresetGetsADidYouMean() {
        let message = errorMessage("patchscope \"The Eiffel Tower\" target descripton layers 3")
        XCTAssertTrue(message.contains("`description`"), message)
    }

    func testVectorTitlesCountTheOtherPrompts() throws {
        let (_, json) = try result("context")
        XCTAssertTrue((json["label"] as? String ?? "").contains("and 1 more prompt"), "\(json["label"] ?? "")")
    }
}
