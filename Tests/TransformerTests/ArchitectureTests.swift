import Foundation
import XCTest
@testable import Transformer

/// Tiny random llama and qwen2 GGUF files (scripts/make_tiny_model_fixtures.py) against an
/// independent NumPy forward pass written the Hugging Face way: this checks the RoPE pairing of
/// each architecture (llama: converter-permuted Q/K with adjacent pairs; qwen2: halves), q/k/v
/// biases, grouped-query attention and the tied output on F32 weights.
final class ArchitectureTests: XCTestCase {
    struct Reference: Decodable { let tokens: [Int]; let llama: [Float]; let qwen2: [Float] }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tiny")

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.directory.appendingPathComponent("reference.json")))
    }

    func testLlamaMatchesTheReference() throws {
        let ref = try reference()
        let model = try Model(path: Self.directory.appendingPathComponent("tiny-llama.gguf").path)
        XCTAssertEqual(model.config.ropeStyle, .adjacent)
        XCTAssertFalse(model.config.hasQKVBias)
        XCTAssertEqual(model.config.kvHeadCount, 2)
        let logits = try model.run(tokens: ref.tokens).logits
        XCTAssertEqual(logits.shape, [8, 64])
        XCTAssertLessThanOrEqual(relativeError(logits.data, ref.llama), 1e-5)
    }

    func testQwen2MatchesTheReference() throws {
        let ref = try reference()
        let model = try Model(path: Self.directory.appendingPathComponent("tiny-qwen2.gguf").path)
        XCTAssertEqual(model.config.architecture, "qwen2")
        XCTAssertEqual(model.config.ropeStyle, .halves)
        XCTAssertTrue(model.config.hasQKVBias)
        let logits = try model.run(tokens: ref.tokens).logits
        XCTAssertLessThanOrEqual(relativeError(logits.data, ref.qwen2), 1e-5)
        // Decode through the KV cache (F32 weights multiplied in place) agrees too.
        var cache = model.makeCache()
        _ = try model.prefill(Array(ref.tokens[0..<5]), cache: &cache)
        var last: [Float] = []
        for t in ref.tokens[5...] { last = try model.prefill([t], cache: &cache) }
        XCTAssertLessThanOrEqual(relativeError(last, Array(ref.qwen2.suffix(64))), 1e-5)
    }

    func testMissingFileAndWrongArchitectureGiveActionableErrors() throws {
        XCTAssertThrowsError(try Model(path: "/nonexistent/model.gguf"))
        // A real GGUF file (the tiny weights, written by the fixture script) that names gpt2.
        XCTAssertThrowsError(try Model(path: Self.directory.appendingPathComponent("tiny-gpt2.gguf").path)) { error in
            XCTAssertEqual(error as? TransformerError, .unsupportedArchitecture("gpt2"))
            XCTAssertTrue("\(error)".contains("'gpt2' is not supported"), "\(error)")
        }
        let config = ModelConfig(architecture: "llama", layerCount: 1, modelDim: 8, ffnDim: 8, headCount: 2,
                                 kvHeadCount: 1, vocabularySize: 4, tiedOutput: true)
        XCTAssertEqual(config.headDim, 4)
        XCTAssertEqual(config.groupSize, 2)
    }
}
