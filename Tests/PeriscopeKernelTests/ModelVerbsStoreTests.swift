import Foundation
import JupyterKernel
import JupyterProtocol
import Transformer
import XCTest
@testable import PeriscopeKernel

/// The parts of the model verbs that need no model: the .npy writer, the LRU activation cache,
/// and the errors for missing or corrupt model files.
final class ModelVerbsStoreTests: XCTestCase {
    // MARK: - .npy writer

    func testNpyBytesAreExactForATwoByThreeArray() throws {
        let data = try NpyWriter.data(shape: [2, 3], values: [0, 1, -2, 0.5, 3.25, -1.5])
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        // 10 bytes of preamble + 59 of header + 58 spaces + "\n" = 128, a multiple of 64.
        XCTAssertEqual(header.utf8.count, 59)
        let padded = header + String(repeating: " ", count: 58) + "\n"
        var expected: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 0x01, 0x00, UInt8(padded.utf8.count), 0x00]
        expected += Array(padded.utf8)
        expected += [0x00, 0x00, 0x00, 0x00,  0x00, 0x00, 0x80, 0x3F,  0x00, 0x00, 0x00, 0xC0,
                     0x00, 0x00, 0x00, 0x3F,  0x00, 0x00, 0x50, 0x40,  0x00, 0x00, 0xC0, 0xBF]
        XCTAssertEqual(Array(data), expected)
    }

    func testNpyHeaderPadsToSixtyFourAndWritesOneDimensionalShapesWithAComma() throws {
        let data = try NpyWriter.data(shape: [5], values: [1, 2, 3, 4, 5])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.contains("'shape': (5,)"), header)
        XCTAssertTrue(header.hasSuffix("\n"))
        XCTAssertEqual(data.count, 10 + headerLength + 5 * 4)

        let big = try NpyWriter.data(shape: [12, 9, 12], values: [Float](repeating: 0, count: 12 * 9 * 12))
        let bigLength = Int(big[8]) | Int(big[9]) << 8
        XCTAssertEqual((10 + bigLength) % 64, 0)
        XCTAssertTrue(String(decoding: big[10..<(10 + bigLength)], as: UTF8.self).contains("(12, 9, 12)"))
    }

    func testNpyRejectsAShapeThatDoesNotMatchTheData() {
        XCTAssertThrowsError(try NpyWriter.data(shape: [2, 2], values: [1, 2, 3])) { error in
            XCTAssertEqual(error as? NpyError, .shapeMismatch(shape: [2, 2], count: 3))
        }
    }

    func testNpyWriteToAMissingFolderSaysWhichPath() {
        let path = NSTemporaryDirectory() + "no-such-folder-\(UUID().uuidString)/x.npy"
        XCTAssertThrowsError(try NpyWriter.write(shape: [1], values: [1], to: path)) { error in
            XCTAssertTrue(String(describing: error).contains(path), String(describing: error))
        }
    }

    // MARK: - LRU activation cache

    /// A cached run holding `floats` numbers at one point (plus one logit), for prompt ids `ids`.
    private func run(_ ids: [Int], floats: Int) -> CachedRun {
        let prompt = PromptValue(text: "p\(ids)", chat: false, system: nil, ids: ids, tokens: ids.map(String.init),
                                 modelPath: "/models/m.gguf", modelName: "m")
        return CachedRun(prompt: prompt, activations: [.residPost(0): Tensor(zeros: [ids.count, floats / ids.count])],
                         lastLogits: [0])
    }

    func testInsertionOverBudgetEvictsTheLeastRecentlyUsed() {
        let store = ActivationStore(budgetBytes: 10_000)
        let a = run([1], floats: 1000), b = run([2], floats: 1000), c = run([3], floats: 1000)  // 4004 bytes each
        XCTAssertTrue(store.insert(a).isEmpty)
        XCTAssertTrue(store.insert(b).isEmpty)
        // Using `a` makes `b` the least recently used.
        XCTAssertNotNil(store.lookup(a.key))
        let evicted = store.insert(c)
        XCTAssertEqual(evicted.map(\.key), [b.key])
        XCTAssertNil(store.peek(b.key))
        XCTAssertEqual(Set(store.runs.map(\.key.tokens)), [[1], [3]])
        XCTAssertEqual(store.runs.first?.key, c.key, "most recently used first")
        XCTAssertEqual(store.totalBytes, 2 * 4004)
    }

    func testLoweringTheBudgetEvictsOldestFirstAndAnOversizedRunIsNotKept() {
        let store = ActivationStore(budgetBytes: 100_000)
        let runs = (1...4).map { run([$0], floats: 1000) }
        for r in runs { store.insert(r) }
        let evicted = store.setBudget(9_000)
        XCTAssertEqual(evicted.map(\.key.tokens), [[1], [2]])
        XCTAssertEqual(store.count, 2)

        let huge = run([9, 9], floats: 4000)   // 16004 bytes > 9000
        let out = store.insert(huge)
        XCTAssertTrue(out.contains { $0 === huge }, "a run larger than the whole budget is not kept")
        XCTAssertNil(store.peek(huge.key))
        XCTAssertEqual(store.count, 0, "everything older went first")
    }

    func testRemoveAndRemoveAllByModel() {
        let store = ActivationStore()
        let a = run([1], floats: 10), b = run([2], floats: 10)
        store.insert(a); store.insert(b)
        XCTAssertTrue(store.remove(a.key) === a)
        XCTAssertNil(store.remove(a.key))
        XCTAssertEqual(store.removeAll(modelPath: "/other.gguf").count, 0)
        XCTAssertEqual(store.removeAll(modelPath: "/models/m.gguf").count, 1)
        XCTAssertEqual(store.count, 0)
    }

    // MARK: - Prompt positions

    func testLocateFindsTheLastTokenOfTheFirstOccurrence() {
        let p = PromptValue(text: "The Eiffel Tower is in Paris", chat: false, system: nil, ids: [1, 2, 3, 4, 5, 6, 7],
                            tokens: ["The", " E", "iffel", " Tower", " is", " in", " Paris"], modelPath: "", modelName: "")
        XCTAssertEqual(p.locate("Eiffel"), 2)
        XCTAssertEqual(p.locate("Tower"), 3)
        XCTAssertEqual(p.locate(" is in"), 5)
        XCTAssertEqual(p.locate("Eif"), 2, "a match ending inside a token picks that token")
        XCTAssertNil(p.locate("London"))
        XCTAssertNil(p.locate(""))
    }

    // MARK: - Errors without a model

    private func execute(_ interpreter: PeriscopeInterpreter, _ code: String) -> (ExecuteOutcome, RecordingIO) {
        let io = RecordingIO()
        return (interpreter.execute(ExecuteRequest(code: code), io: io), io)
    }

    func testLoadingAMissingFileNamesThePath() {
        let interpreter = PeriscopeInterpreter()
        let path = NSTemporaryDirectory() + "missing-\(UUID().uuidString).gguf"
        let (outcome, _) = execute(interpreter, "x = 1\nload \"\(path)\"")
        guard case .error(let name, let value, _) = outcome else { return XCTFail("expected an error") }
        XCTAssertEqual(name, "GGUFError")
        XCTAssertTrue(value.contains(path), value)
        XCTAssertTrue(value.contains("not found"), value)
        let (after, io) = execute(interpreter, "x")
        XCTAssertEqual(after, .ok)
        XCTAssertEqual(io.results, ["1"], "variables survive a failed load")
    }

    func testLoadingACorruptFileSaysItIsNotGGUF() throws {
        let path = NSTemporaryDirectory() + "corrupt-\(UUID().uuidString).gguf"
        try Data("this is not a model, just text".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (outcome, _) = execute(PeriscopeInterpreter(), "load \"\(path)\"")
        guard case .error(_, let value, _) = outcome else { return XCTFail("expected an error") }
        XCTAssertTrue(value.contains(path) && value.contains("not a GGUF file"), value)
    }

    func testLoadingTheDefaultFromAnEmptyCacheSaysHowToFetchIt() throws {
        let home = NSTemporaryDirectory() + "periscope-home-\(UUID().uuidString)"
        let old = ProcessInfo.processInfo.environment["PERISCOPE_HOME"]
        setenv("PERISCOPE_HOME", home, 1)
        defer { if let old { setenv("PERISCOPE_HOME", old, 1) } else { unsetenv("PERISCOPE_HOME") } }
        let interpreter = PeriscopeInterpreter()
        let (outcome, _) = execute(interpreter, "load \"smollm2\"")
        guard case .error(let name, let value, let traceback) = outcome else { return XCTFail("expected an error") }
        XCTAssertEqual(name, "CommandError")
        XCTAssertTrue(value.contains("make model"), value)
        XCTAssertTrue(value.contains(home + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"), value)
        XCTAssertTrue(traceback.joined(separator: "\n").contains("line 1, column 6"), traceback.joined(separator: "\n"))

        let (listed, io) = execute(interpreter, "models")
        XCTAssertEqual(listed, .ok)
        let text = io.results.first ?? ""
        XCTAssertTrue(text.contains("smollm2") && text.contains("no"), text)
        XCTAssertTrue(text.contains("make model"), text)
    }

    func testModelVerbsWithoutAModelSayToLoadOne() {
        let interpreter = PeriscopeInterpreter()
        for code in ["prompt \"hi\"", "tokens \"hi\"", "run \"hi\"", "generate \"hi\"", "hooks",
                     "export \"hi\" hook \"hook_embed\" to \"x.npy\""] {
            let (outcome, _) = execute(interpreter, code)
            guard case .error(_, let value, _) = outcome else { XCTFail("\(code): expected an error"); continue }
            XCTAssertTrue(value.contains("No model is loaded") && value.contains("load \"smollm2\""), "\(code): \(value)")
        }
    }

    func testClearNeedsTheWordCacheAndAnEmptyCacheListsNothing() {
        let interpreter = PeriscopeInterpreter()
        let (bad, _) = execute(interpreter, "clear models")
        guard case .error(_, let value, _) = bad else { return XCTFail("expected an error") }
        XCTAssertTrue(value.contains("clear cache"), value)
        let (ok, io) = execute(interpreter, "clear cache")
        XCTAssertEqual(ok, .ok)
        XCTAssertEqual(io.stdout, "cleared 0 cached prompts (0 B).\n")
        let (_, listing) = execute(interpreter, "cache")
        XCTAssertTrue((listing.results.first ?? "").contains("of a 2.00 GiB budget"), listing.results.first ?? "")
    }
}
