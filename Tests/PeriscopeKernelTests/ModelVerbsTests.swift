import Foundation
import JupyterKernel
import JupyterProtocol
import Transformer
import XCTest
@testable import PeriscopeKernel

/// The model verbs end to end through the interpreter, on the real default model (release build).
final class ModelVerbsTests: XCTestCase {
    /// Loaded once for the whole class: loading dequantises ~135M weights.
    nonisolated(unsafe) private static var shared: LoadedModel?

    private var interpreter: PeriscopeInterpreter!
    private var model: LoadedModel!

    override func setUpWithError() throws {
        let path = Model.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("the default model is missing at \(path); run `make model` to fetch it")
        }
        if Self.shared == nil {
            Self.shared = try ModelStore().load("smollm2", range: nil).model
        }
        model = Self.shared
        interpreter = PeriscopeInterpreter()
        interpreter.progressDelay = 1e9   // no progress bars in the recorded outputs
        interpreter.session.models.use(model)
    }

    // MARK: Helpers

    @discardableResult
    private func run(_ code: String, io: RecordingIO = RecordingIO(), file: StaticString = #filePath, line: UInt = #line)
        -> RecordingIO
    {
        let outcome = interpreter.execute(ExecuteRequest(code: code), io: io)
        XCTAssertEqual(outcome, .ok, "\(code)", file: file, line: line)
        return io
    }

    private func error(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> (name: String, value: String) {
        let outcome = interpreter.execute(ExecuteRequest(code: code), io: RecordingIO())
        guard case .error(let name, let value, _) = outcome else {
            XCTFail("\(code): expected an error, got \(outcome)", file: file, line: line)
            return ("", "")
        }
        return (name, value)
    }

    /// The vnd JSON of the last execute_result.
    private func json(_ io: RecordingIO, file: StaticString = #filePath, line: UInt = #line) -> [String: JSONValue] {
        for output in io.outputs.reversed() {
            if case .result(let data) = output, case .object(let object)? = data["application/vnd.periscope.v1+json"] {
                return object
            }
        }
        XCTFail("no vnd JSON result", file: file, line: line)
        return [:]
    }

    private func ints(_ value: JSONValue?) -> [Int] {
        guard case .array(let items)? = value else { return [] }
        return items.compactMap { if case .int(let i) = $0 { return i }; return nil }
    }

    private func doubles(_ value: JSONValue?) -> [Double] {
        guard case .array(let items)? = value else { return [] }
        return items.compactMap {
            switch $0 {
            case .int(let i): return Double(i)
            case .double(let d): return d
            default: return nil
            }
        }
    }

    // MARK: load, models, use

    func testLoadShowsTheModelCardAndReusesTheResidentModel() {
        let io = run("m = load \"smollm2\"\nshow m\nm2 = load \"\(model.path)\"\nm2")
        let card = io.displays.first ?? ""
        for field in ["architecture  llama", "layers  30", "d_model  576", "heads  9 (d_head 64)", "kv heads  3",
                      "vocab  49152", "parameters  134.5M", "Q4_1 ×", "Q8_0 ×1", "F32 ×", "resident memory", "load time"] {
            XCTAssertTrue(card.contains(field), "card lacks \(field):\n\(card)")
        }
        XCTAssertTrue((io.results.first ?? "").contains("already resident, reused"), io.results.first ?? "")
        XCTAssertEqual(interpreter.session.models.models.count, 1, "the same file is loaded once")
        XCTAssertTrue(interpreter.session.models.current === model)
        let data = json(io)
        guard case .object(let numbers)? = data["model"] else { return XCTFail("no model numbers") }
        XCTAssertEqual(numbers["layers"], .int(30))
        XCTAssertEqual(numbers["kv_heads"], .int(3))
        XCTAssertEqual(numbers["reused"], .bool(true))
    }

    func testActivationsInt8IsASeparateModelNamedApart() throws {
        let io = run("q = load \"smollm2\" activations int8\nq")
        let card = io.results.first ?? ""
        XCTAssertTrue(card.contains("Model smollm2@int8"), card)
        XCTAssertTrue(card.contains("activations  8-bit per block"), card)
        guard case .object(let numbers)? = json(io)["model"] else { return XCTFail("no model numbers") }
        XCTAssertEqual(numbers["activations"], .string("int8"))
        XCTAssertEqual(numbers["reused"], .bool(false))
        let store = interpreter.session.models
        XCTAssertEqual(store.models.count, 2, "the F32 model stays resident beside the 8-bit one")
        guard let int8 = store.current else { return XCTFail("no current model") }
        XCTAssertFalse(int8 === model)
        XCTAssertEqual(int8.model.activations, .int8)
        XCTAssertEqual(int8.filePath, model.filePath)
        XCTAssertTrue((run("load \"smollm2\"").results.first ?? "").contains("activations  F32"))
        XCTAssertTrue(store.current === model, "loading without `activations` reuses the F32 model")
        XCTAssertTrue((run("load \"smollm2\" activations int8").results.first ?? "").contains("already resident, reused"))
        XCTAssertTrue(store.current === int8)
        XCTAssertEqual(store.models.count, 2)

        // Both read the prompt alike: the same top token, logits close.
        let ids = model.tokenizer.encode("The capital of France is").map(Int.init)
        let exact = try model.model.run(tokens: ids).logits.data.suffix(model.config.vocabularySize)
        let eight = try int8.model.run(tokens: ids).logits.data.suffix(model.config.vocabularySize)
        XCTAssertEqual(exact.firstIndex(of: exact.max()!), eight.firstIndex(of: eight.max()!))
        let scale = exact.map(abs).max()!
        XCTAssertLessThan(zip(exact, eight).map { abs($0 - $1) }.max()!, 0.05 * scale)

        let (_, unknown) = error("load \"smollm2\" activations int4")
        XCTAssertTrue(unknown.contains("int4") && unknown.contains("f32") && unknown.contains("int8"), unknown)
        let (_, both) = error("load \"smollm2\" activations int8 on local")
        XCTAssertTrue(both.contains("`on`") && both.contains("`activations`"), both)
        XCTAssertEqual(store.models.count, 2, "a refused load keeps every model")
    }

    func testAFreshLoadShowsAProgressBarThenTheCard() {
        let fresh = PeriscopeInterpreter()
        fresh.progressDelay = 0
        let io = RecordingIO()
        XCTAssertEqual(fresh.execute(ExecuteRequest(code: "load \"smollm2\""), io: io), .ok)
        let bars = io.outputs.filter { if case .display(_, let id?, _) = $0 { return id.hasPrefix("periscope-progress-") }; return false }
        XCTAssertFalse(bars.isEmpty, "a progress bar while the weights load")
        XCTAssertTrue((io.results.first ?? "").contains("load time"), io.results.first ?? "")
        XCTAssertFalse(fresh.session.models.current === model, "another session reads its own copy")
        XCTAssertEqual(fresh.session.models.current?.config.layerCount, 30)
    }

    func testModelsMarksTheCurrentModelAndUseSwitches() {
        run("m = load \"smollm2\"")
        let listing = run("models").results.first ?? ""
        let line = listing.split(separator: "\n").first { $0.contains("smollm2") }.map(String.init) ?? ""
        XCTAssertTrue(line.hasPrefix("*"), listing)
        XCTAssertTrue(line.contains("yes"), line)
        XCTAssertEqual(run("use m").stdout, "current model: smollm2\n")
        XCTAssertEqual(run("use \"smollm2\"").stdout, "current model: smollm2\n")
        let (_, message) = error("use \"smolm2\"")
        XCTAssertTrue(message.contains("did you mean `smollm2`"), message)
        let (_, wrongType) = error("use 3")
        XCTAssertTrue(wrongType.contains("a Model or a loaded model's name"), wrongType)
    }

    // MARK: hooks

    func testHooksListsOneBlockGenericallyOrConcreteLayers() {
        let generic = json(run("hooks"))
        guard case .array(let names)? = generic["names"] else { return XCTFail("no names") }
        XCTAssertEqual(names.count, 17)
        XCTAssertEqual(names.first, .string("hook_embed"))
        XCTAssertEqual(names.last, .string("ln_final.hook_normalized"))
        XCTAssertTrue(names.contains(.string("blocks.{l}.attn.hook_pattern")))

        let io = run("hooks layer 3")
        let concrete = json(io)
        guard case .array(let layer3)? = concrete["names"], case .array(let shapes)? = concrete["shapes"] else {
            return XCTFail("no names")
        }
        XCTAssertEqual(layer3.count, 15)
        XCTAssertTrue(layer3.allSatisfy { if case .string(let s) = $0 { return s.hasPrefix("blocks.3.") }; return false })
        let text = io.results.first ?? ""
        XCTAssertTrue(text.contains("blocks.3.hook_resid_post") && text.contains("[pos, 576]"), text)
        XCTAssertTrue(text.contains("[pos, 9, pos]") && text.contains("[pos, 3, 64]") && text.contains("[pos, 1536]"), text)
        XCTAssertEqual(shapes.count, 15)
        let (_, outOfRange) = error("hooks layer 30")
        XCTAssertTrue(outOfRange.contains("layer 30 is out of range"), outOfRange)
    }

    // MARK: prompt and tokens

    func testTokensMatchTheTokenizerAndShowWhitespace() {
        let text = "The Eiffel Tower is in\nParis"
        let io = run("tokens \"The Eiffel Tower is in\\nParis\"")
        let data = json(io)
        XCTAssertEqual(ints(data["ids"]), model.tokenizer.encode(text).map(Int.init))
        let table = io.results.first ?? ""
        XCTAssertTrue(table.contains("·Tower") && table.contains("·E\n"), table)
        XCTAssertTrue(table.contains("↵"), table)
        guard case .array(let tokens)? = data["tokens"] else { return XCTFail("no tokens") }
        XCTAssertEqual(tokens.count, ints(data["ids"]).count)
        XCTAssertEqual(tokens[1], .string(" E"), "raw token text in the JSON, not the visible form")
    }

    func testPromptAppliesTheChatTemplateAndRejectsEmptyText() {
        run("p = prompt \"What is the capital of France?\" chat")
        guard case .object(let content as PromptValue)? = interpreter.session.variables["p"] else {
            return XCTFail("p is not a prompt")
        }
        XCTAssertTrue(content.chat)
        let imStart = model.tokenizer.id(ofToken: "<|im_start|>").map(Int.init)
        XCTAssertEqual(content.ids.first, imStart)
        XCTAssertTrue(content.tokens.joined().hasSuffix("<|im_end|>\n<|im_start|>assistant\n"), content.tokens.joined())
        XCTAssertTrue(content.tokens.contains("system"), "the template's default system turn is there")

        run("q = prompt \"Hi\" system \"You are terse.\"")
        guard case .object(let q as PromptValue)? = interpreter.session.variables["q"] else { return XCTFail() }
        XCTAssertTrue(q.chat, "system implies chat")
        XCTAssertTrue(model.tokenizer.decode(q.ids.map(Int32.init)).contains("You are terse."))

        let shown = run("p").results.first ?? ""
        XCTAssertTrue(shown.contains("(chat template)") && shown.contains("[<|im_start|>]"), shown)

        let (_, empty) = error("prompt \"\"")
        XCTAssertTrue(empty.contains("The prompt is empty"), empty)
        let (_, emptyRun) = error("run \"\"")
        XCTAssertTrue(emptyRun.contains("The prompt is empty"), emptyRun)
    }

    // MARK: run and the cache

    func testRunShowsTopTokensAndCachesTheActivationsOnce() throws {
        let io = run("run \"The capital of France is\" top 5")
        let data = json(io)
        guard case .object(let top)? = data["top"] else { return XCTFail("no top") }
        let ids = ints(top["ids"]), probs = doubles(top["probs"]), logits = doubles(top["logits"])
        XCTAssertEqual(ids.count, 5)
        XCTAssertEqual(model.tokenizer.piece(Int32(ids[0])), " Paris")
        XCTAssertEqual(probs, probs.sorted(by: >))
        XCTAssertEqual(logits, logits.sorted(by: >))
        XCTAssertGreaterThan(probs[0], 0.5)
        XCTAssertLessThanOrEqual(probs.reduce(0, +), 1.0001)
        XCTAssertTrue((io.results.first ?? "").contains("·Paris"))

        // The logits agree with a direct forward pass.
        let promptIDs = model.tokenizer.encode("The capital of France is").map(Int.init)
        let direct = try model.model.run(tokens: promptIDs)
        let last = Array(direct.logits.data.suffix(model.config.vocabularySize))
        XCTAssertEqual(Double(last[ids[0]]), logits[0], accuracy: 1e-3)

        let store = interpreter.session.activations
        XCTAssertEqual(store.count, 1)
        guard let cached = store.peek(ActivationKey(modelPath: model.path, tokens: promptIDs)) else { return XCTFail("not cached") }
        XCTAssertEqual(cached[.residPost(29)]?.shape, [promptIDs.count, 576])
        XCTAssertEqual(cached[.pattern(0)]?.shape, [promptIDs.count, 9, promptIDs.count])
        XCTAssertNotNil(cached[.attnOut(5)]); XCTAssertNotNil(cached[.mlpOut(5)]); XCTAssertNotNil(cached[.residMid(5)])
        XCTAssertNotNil(cached[.residPre(0)])

        // A second run of the same tokens reuses the entry.
        run("p = prompt \"The capital of France is\"\nrun p")
        XCTAssertEqual(store.count, 1)
        XCTAssertTrue(store.peek(cached.key) === cached)

        let listing = run("cache")
        let cacheJSON = json(listing)
        XCTAssertEqual(cacheJSON["total_bytes"], .int(cached.byteCount))
        XCTAssertEqual(cacheJSON["budget_bytes"], .int(2 << 30))
        XCTAssertTrue((listing.results.first ?? "").contains("The capital of France is"))
        let (_, badTop) = error("run \"x\" top 0")
        XCTAssertTrue(badTop.contains("top 0 is out of range"), badTop)
    }

    func testATinyBudgetEvictsAndClearCacheEmptiesIt() {
        let first = "one two three four five six seven eight nine ten"
        let second = "eleven twelve thirteen fourteen fifteen sixteen seventeen"
        run("run \"\(first)\"\nrun \"\(second)\"")
        let store = interpreter.session.activations
        XCTAssertEqual(store.count, 2)
        let perRun = store.runs.map(\.byteCount).max() ?? 0
        XCTAssertGreaterThan(perRun, 2 << 20, "each run holds a few MiB")
        // Room for one run only (1.5 runs, rounded up to MiB): the least recently used goes.
        let budget = (perRun * 3 / 2 + (1 << 20) - 1) >> 20
        let set = run("cache budget \(budget)")
        XCTAssertEqual(store.count, 1)
        XCTAssertEqual(store.runs.first?.prompt.text, second, "the most recent survives")
        XCTAssertTrue((set.results.first ?? "").contains("evicted 1 least recently used prompt"), set.results.first ?? "")
        XCTAssertEqual(json(set)["budget_bytes"], .int(budget << 20))

        // Running the older prompt again pushes out the other one.
        let again = run("run \"\(first)\"")
        XCTAssertEqual(store.runs.map(\.prompt.text), [first])
        XCTAssertTrue((again.results.first ?? "").contains("evicted 1 least recently used prompt"), again.results.first ?? "")

        let zero = run("cache budget 0\nrun \"five six\"")
        XCTAssertEqual(store.count, 0)
        XCTAssertTrue((zero.results.last ?? "").contains("activations NOT cached"), zero.results.last ?? "")
        let zeroJSON = json(zero)
        guard case .object(let cachedInfo)? = zeroJSON["cached"], case .object(let hidden)? = zeroJSON["final_hidden"] else {
            return XCTFail("no cache info")
        }
        XCTAssertEqual(cachedInfo["kept"], .bool(false))
        XCTAssertEqual(doubles(hidden["values"]).count, 576, "the final hidden state is still reported")
        run("cache budget 2048\nrun \"\(first)\"\nrun \"\(second)\"")
        XCTAssertEqual(store.count, 2)
        XCTAssertTrue(run("clear cache \"\(first)\"").stdout.hasPrefix("cleared the cached activations"))
        XCTAssertEqual(store.runs.map(\.prompt.text), [second])
        XCTAssertTrue(run("clear cache \"never run\"").stdout.hasPrefix("nothing cached"))
        XCTAssertTrue(run("clear cache").stdout.hasPrefix("cleared 1 cached prompt "))
        XCTAssertEqual(store.count, 0)
    }

    // MARK: generate

    func testGenerateIsGreedyByDefaultAndMatchesTheRuntime() throws {
        let io = run("generate \"The Eiffel Tower is in the city of\" max 8")
        let data = json(io)
        let ids = ints(data["ids"])
        let promptIDs = model.tokenizer.encode("The Eiffel Tower is in the city of").map(Int.init)
        let expected = try model.model.generate(prompt: promptIDs, maxTokens: 8, stop: model.stopTokens)
        XCTAssertEqual(ids, expected)
        guard case .string(let text)? = data["text"] else { return XCTFail("no text") }
        XCTAssertTrue(text.hasPrefix(" Paris"), text)
        let rate = doubles(.array([data["tokens_per_second"] ?? .null])).first ?? 0
        XCTAssertGreaterThan(rate, 0)
        XCTAssertTrue((io.results.first ?? "").contains("The Eiffel Tower is in the city of⟦ Paris"))

        // Sampling is reproducible for a seed and differs from greedy somewhere across seeds.
        let a = ints(json(run("generate \"Once upon a time\" max 6 temperature 1.5 seed 7"))["ids"])
        let b = ints(json(run("generate \"Once upon a time\" max 6 temperature 1.5 seed 7"))["ids"])
        XCTAssertEqual(a, b)
        let (_, badTemp) = error("generate \"x\" temperature -1")
        XCTAssertTrue(badTemp.contains("temperature"), badTemp)
        let (_, tooLong) = error("generate \"x\" max 100000")
        XCTAssertTrue(tooLong.contains("context holds"), tooLong)
    }

    func testGenerateStopsOnInterruptAndKeepsTheSession() {
        run("keep = 41")
        let io = InterruptingIO(allowedChecks: 40)
        let outcome = interpreter.execute(ExecuteRequest(code: "generate \"Once upon a time\" max 200"), io: io)
        guard case .error(let name, let value, _) = outcome else { return XCTFail("expected an interrupt, got \(outcome)") }
        XCTAssertEqual(name, "KeyboardInterrupt")
        XCTAssertTrue(value.contains("Interrupted"), value)
        XCTAssertEqual(run("keep").results, ["41"])
        XCTAssertTrue(interpreter.session.models.current === model)
        XCTAssertEqual(ints(json(run("generate \"Hi\" max 2"))["ids"]).count, 2)
    }

    // MARK: export

    func testExportWritesTheCachedActivationsAsNpy() throws {
        let dir = NSTemporaryDirectory() + "periscope-export-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/resid.npy"
        let io = run("p = prompt \"The Eiffel Tower\"\nexport p hook \"blocks.3.hook_resid_post\" to \"\(path)\"")
        let data = json(io)
        XCTAssertEqual(data["path"], .string(path))
        let ids = model.tokenizer.encode("The Eiffel Tower").map(Int.init)
        XCTAssertEqual(ints(data["shape"]), [ids.count, 576])

        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.contains("'descr': '<f4'") && header.contains("'shape': (\(ids.count), 576)"), header)
        var values: [Float] = []
        for i in stride(from: 10 + headerLength, to: bytes.count, by: 4) {
            var bits = UInt32(bytes[i])
            bits |= UInt32(bytes[i + 1]) << 8
            bits |= UInt32(bytes[i + 2]) << 16
            bits |= UInt32(bytes[i + 3]) << 24
            values.append(Float(bitPattern: bits))
        }
        let direct = try model.model.run(tokens: ids, cache: [.residPost(3)])
        XCTAssertEqual(values, direct.activations[.residPost(3)]?.data)

        // A hook outside the default set runs the prompt again and is added to its entry.
        run("export p hook \"blocks.2.mlp.hook_post\" to \"\(dir)/post.npy\"")
        XCTAssertEqual(interpreter.session.activations.count, 1)
        XCTAssertEqual(interpreter.session.activations.runs.first?[.mlpPost(2)]?.shape, [ids.count, 1536])
    }

    func testExportErrorsSuggestHookNames() {
        let (_, unknown) = error("export \"hi\" hook \"blocks.3.hook_resid_pots\" to \"x.npy\"")
        XCTAssertTrue(unknown.contains("did you mean `blocks.3.hook_resid_post`"), unknown)
        XCTAssertTrue(unknown.contains("`hooks` lists them"), unknown)
        let (_, layer) = error("export \"hi\" hook \"blocks.30.hook_resid_post\" to \"x.npy\"")
        XCTAssertTrue(layer.contains("layer 30 is out of range"), layer)
        let (_, suffix) = error("export \"hi\" hook \"hook_embed\" to \"x.csv\"")
        XCTAssertTrue(suffix.contains(".npy"), suffix)
        let (_, noHook) = error("export \"hi\" to \"x.npy\"")
        XCTAssertTrue(noHook.contains("`hook`"), noHook)
    }

    // MARK: completion

    func testCompletionOffersHookNamesAndModelNames() {
        let afterHook = interpreter.complete(code: "export \"x\" hook ", cursorPosition: 17)
        XCTAssertTrue(afterHook.matches.contains("\"blocks.12.hook_resid_post\""), "\(afterHook.matches.prefix(5))")
        XCTAssertTrue(afterHook.matches.contains("\"hook_embed\""))
        let afterLoad = interpreter.complete(code: "load ", cursorPosition: 5)
        XCTAssertTrue(afterLoad.matches.contains("\"smollm2\""), "\(afterLoad.matches)")
        XCTAssertTrue(afterLoad.matches.contains("\"gemma3-270m\""), "\(afterLoad.matches)")
    }
}

/// An ExecutionIO that reports an interrupt after a number of checks, as a user pressing
/// "interrupt" in the middle of a long command.
final class InterruptingIO: ExecutionIO {
    private var checks = 0
    private let allowedChecks: Int
    let executionCount = 1
    init(allowedChecks: Int) { self.allowedChecks = allowedChecks }
    var isInterrupted: Bool {
        checks += 1
        return checks > allowedChecks
    }
    func stream(_ name: String, _ text: String) {}
    func display(_ data: [String: JSONValue], metadata: [String: JSONValue], displayID: String?, update: Bool) {}
    func result(_ data: [String: JSONValue], metadata: [String: JSONValue]) {}
    func clearOutput(wait: Bool) {}
    func payload(_ entry: [String: JSONValue]) {}
}
