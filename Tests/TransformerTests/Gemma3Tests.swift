import Foundation
import GGUF
import XCTest
@testable import Transformer

/// Gemma 3 270M, loaded once for the tests that need it.
enum Gemma3Fixture {
    static var path: String {
        (Model.defaultModelPath as NSString).deletingLastPathComponent + "/gemma-3-270m-q4_k_m.gguf"
    }

    static let shared: (model: Model, tokenizer: Tokenizer)? = {
        guard FileManager.default.fileExists(atPath: path), let file = try? GGUFFile(path: path),
              let model = try? Model(file: file), let tokenizer = try? Tokenizer(gguf: file) else { return nil }
        return (model, tokenizer)
    }()

    static func model() throws -> Model {
        guard let shared else { throw XCTSkip("Gemma 3 270M is not at \(path); `make model` fetches it.") }
        return shared.model
    }

    static func tokenizer() throws -> Tokenizer {
        guard let shared else { throw XCTSkip("Gemma 3 270M is not at \(path); `make model` fetches it.") }
        return shared.tokenizer
    }
}

/// The Hugging Face dump written by scripts/make_gemma3_reference_fixtures.py.
struct Gemma3Reference {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let positions: [Int]           // the positions whose resid_post, ln_final and logits are stored
        let residPost: Reference.Blob  // [L, P, d_model]
        let residNorms: Reference.Blob // [L, T]  every position's resid_post norm
        let lnFinal: Reference.Blob    // [P, d_model]
        let topIds: [[Int]]            // [P, 20]
        let topLogits: [[Float]]       // [P, 20]
        let logitNorms: [Float]        // [P]
        let greedy: [Int]              // 10 greedy tokens after the prompt
    }
    struct Meta: Decodable { let cases: [Case] }

    let cases: [Case]
    private let data: Data

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/gemma3")

    init() throws {
        cases = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: Self.directory.appendingPathComponent("reference.json"))).cases
        data = try Data(contentsOf: Self.directory.appendingPathComponent("reference.bin"))
    }

    func floats(_ blob: Reference.Blob) -> [Float] {
        let count = blob.shape.reduce(1, *)
        return data.withUnsafeBytes { raw in
            (0..<count).map { i in
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: blob.offset + 4 * i, as: UInt32.self)))
            }
        }
    }
}

final class Gemma3Tests: XCTestCase {
    /// What differs from llama is read as data: head width from key_length, the window and its
    /// period, the local RoPE base, the scales.
    func testConfigReadsGemmaConventions() throws {
        let c = try Gemma3Fixture.model().config
        XCTAssertEqual(c.block, .gemma3)
        XCTAssertEqual([c.layerCount, c.modelDim, c.headCount, c.kvHeadCount, c.headDim, c.ffnDim], [18, 640, 4, 1, 256, 2048])
        XCTAssertEqual(c.qDim, 1024)
        XCTAssertEqual(c.slidingWindow, 512)
        XCTAssertEqual((0..<18).filter { !c.isLocal(layer: $0) }, [5, 11, 17])
        XCTAssertEqual(c.ropeBase, 1_000_000)
        XCTAssertEqual(c.localRopeBase, 10_000)
        XCTAssertEqual(c.ropeStyle, .halves)
        XCTAssertEqual(c.activation, .geluTanh)
        XCTAssertEqual(c.embeddingScale, Float(640).squareRoot())
        XCTAssertEqual(c.attentionScale, 1 / 16)
        XCTAssertEqual(c.vocabularySize, 262_144)
        XCTAssertTrue(c.tiedOutput)
        XCTAssertEqual(c.firstVisibleKey(layer: 0, query: 600), 89)
        XCTAssertEqual(c.firstVisibleKey(layer: 5, query: 600), 0)
    }

    /// Every block's resid_post, the final norm and the logits against transformers on the same
    /// GGUF, including a prompt longer than the sliding window.
    func testResidualStreamAndLogitsMatchReference() throws {
        let model = try Gemma3Fixture.model()
        let reference = try Gemma3Reference()
        XCTAssertGreaterThanOrEqual(reference.cases.count, 5)
        XCTAssertTrue(reference.cases.contains { $0.ids.count > 512 }, "one prompt passes the sliding window")
        let c = model.config, d = c.modelDim, vocab = c.vocabularySize
        for ref in reference.cases {
            let points = (0..<c.layerCount).map(HookPoint.residPost) + [.lnFinalNormalized]
            // The long prompt's logits at every position would be 1 GB: its stored rows are read
            // out from ln_final instead (the same unembedding product).
            let long = ref.ids.count > 512
            let result = try model.run(tokens: ref.ids, cache: points, logits: long ? .none : .all)
            let t = ref.ids.count, p = ref.positions.count
            let resid = reference.floats(ref.residPost), norms = reference.floats(ref.residNorms)
            var worst: Float = 0
            for l in 0..<c.layerCount {
                let ours = try XCTUnwrap(result.activations[.residPost(l)])
                XCTAssertEqual(ours.shape, [1, t, d])
                let picked = ref.positions.flatMap { ours.data[$0 * d..<($0 + 1) * d] }
                let err = relativeError(picked[...], resid[l * p * d..<(l + 1) * p * d])
                worst = max(worst, err)
                XCTAssertLessThanOrEqual(err, 1e-4, "resid_post \(l) of '\(ref.text.prefix(30))'")
                // Every position's norm: a looser 1e-3, as a few massive-activation positions deep in
                // the long prompt drift to ~4e-4 through float32 summation order (the stored
                // positions' whole vectors hold 1e-4 above).
                for position in 0..<t {
                    let row = ours.data[position * d..<(position + 1) * d]
                    let norm = row.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                    XCTAssertEqual(norm, norms[l * t + position], accuracy: norms[l * t + position] * 1e-3,
                                   "|resid_post \(l)| at \(position) of '\(ref.text.prefix(30))'")
                }
            }
            let normed = try XCTUnwrap(result.activations[.lnFinalNormalized])
            let pickedNormed = ref.positions.flatMap { normed.data[$0 * d..<($0 + 1) * d] }
            XCTAssertLessThanOrEqual(relativeError(pickedNormed, reference.floats(ref.lnFinal)), 1e-4)
            let storedLogits = long ? try model.logits(ofResiduals: pickedNormed, rows: p, normalize: false) : []
            for (i, position) in ref.positions.enumerated() {
                let row = long ? Array(storedLogits[i * vocab..<(i + 1) * vocab])
                               : Array(result.logits.data[position * vocab..<(position + 1) * vocab])
                XCTAssertEqual(Sampler.topK(row, 5).map(\.index), Array(ref.topIds[i].prefix(5)), "top-5 at \(position)")
                XCTAssertLessThanOrEqual(relativeError(ref.topIds[i].map { row[$0] }, ref.topLogits[i]), 1e-4)
                let norm = row.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                XCTAssertEqual(norm, ref.logitNorms[i], accuracy: ref.logitNorms[i] * 1e-4)
            }
            print("gemma3 fidelity '\(ref.text.prefix(30))' (\(t) tokens): worst resid_post relative error \(worst)")
        }
    }

    /// Greedy continuations (prefill, then one token at a time through the KV cache) equal transformers'.
    func testGreedyGenerationMatchesReference() throws {
        let model = try Gemma3Fixture.model()
        for ref in try Gemma3Reference().cases {
            XCTAssertEqual(try model.generate(prompt: ref.ids, maxTokens: ref.greedy.count), ref.greedy,
                           "greedy continuation of '\(ref.text.prefix(30))'")
        }
    }

    /// The backward pass through the Gemma 3 block (post-norms, q/k norms, GeGLU, the window and
    /// both RoPE bases) against PyTorch autograd on the same GGUF
    /// (scripts/make_gemma3_gradient_fixtures.py), one prompt past the sliding window.
    func testGradientsMatchTorchAutograd() throws {
        let model = try Gemma3Fixture.model()
        let url = Gemma3Reference.directory.appendingPathComponent("gradients.json")
        struct Case: Decodable {
            let text: String, ids: [Int], answer: Int, against: Int?, value: Double
            let positions: [Int], layers: [Int]
            let embed: Reference.Blob       // [P, d_model]
            let residPre: Reference.Blob    // [layers, P, d_model]
        }
        struct Meta: Decodable { let gradients: [Case] }
        let cases = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: url)).gradients
        let data = try Data(contentsOf: Gemma3Reference.directory.appendingPathComponent("gradients.bin"))
        func floats(_ blob: Reference.Blob) -> [Float] {
            data.withUnsafeBytes { raw in
                (0..<blob.shape.reduce(1, *)).map { i in
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: blob.offset + 4 * i, as: UInt32.self)))
                }
            }
        }
        XCTAssertTrue(cases.contains { $0.ids.count > 512 }, "one prompt passes the sliding window")
        let d = model.config.modelDim
        for ref in cases {
            let metric: GradientMetric = ref.against.map { .logitDifference(answer: ref.answer, against: $0) }
                ?? .logProbability(answer: ref.answer)
            let points = [HookPoint.embed] + ref.layers.map(HookPoint.residPre)
            let cache = ActivationCache()
            let hooks = HookSet()
            hooks.cache(points, into: cache)
            let pass = try model.gradients([ref.ids], metrics: [metric], gradientHooks: hooks)
            XCTAssertEqual(pass.metrics[0], ref.value, accuracy: 1e-3 * max(1, abs(ref.value)), "metric of '\(ref.text.prefix(30))'")
            func picked(_ point: HookPoint) throws -> [Float] {
                let all = try XCTUnwrap(cache[point], "\(point)").data
                return ref.positions.flatMap { all[$0 * d..<($0 + 1) * d] }
            }
            var worst = relativeError(try picked(.embed), floats(ref.embed))
            XCTAssertLessThanOrEqual(worst, 1e-3, "embedding gradient of '\(ref.text.prefix(30))'")
            let resid = floats(ref.residPre), size = ref.positions.count * d
            for (k, l) in ref.layers.enumerated() {
                let e = relativeError(try picked(.residPre(l))[...], resid[k * size..<(k + 1) * size])
                worst = max(worst, e)
                XCTAssertLessThanOrEqual(e, 1e-3, "resid_pre \(l) gradient of '\(ref.text.prefix(30))'")
            }
            print("gemma3 gradient fidelity '\(ref.text.prefix(30))' (\(ref.ids.count) tokens): worst relative error \(worst)")
        }
    }

    /// The tokenizer's ids equal transformers' and llama.cpp's on the whole corpus, BOS included.
    func testTokenizerMatchesReferenceOnCorpus() throws {
        let tokenizer = try Gemma3Fixture.tokenizer()
        let url = Gemma3Reference.directory.appendingPathComponent("tokenizer.jsonl")
        struct Row: Decodable { let text: String; let hf: [Int32]; let llamacpp: [Int32]? }
        let rows = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Row.self, from: Data($0.utf8)) }
        XCTAssertGreaterThanOrEqual(rows.count, 1000)
        var failures: [String] = []
        for row in rows {
            let ids = tokenizer.encode(row.text)
            if ids != row.hf { failures.append("\(row.text.debugDescription): got \(ids), want \(row.hf)") }
            if let cpp = row.llamacpp, ids != cpp { failures.append("llama.cpp \(row.text.debugDescription): got \(ids), want \(cpp)") }
        }
        XCTAssertEqual(failures.count, 0, "\(failures.count) differ, first: \(failures.prefix(5).joined(separator: "\n"))")
        XCTAssertEqual(tokenizer.bosID, 2)
        XCTAssertEqual(tokenizer.encode("The capital of Japan is").first, 2)
    }
}
