import Foundation
import XCTest
@testable import Transformer

/// TransformerError: real misuse of the model raises the case with the facts (checked as data),
/// and each case's description says what was wrong and what to do (checked as text, separately).
final class TransformerErrorTests: XCTestCase {
    static let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tiny")

    func tinyModel() throws -> Model { try Model(path: Self.tiny.appendingPathComponent("tiny-llama.gguf").path) }

    func assertThrows(_ expected: TransformerError, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? TransformerError, expected, file: file, line: line)
        }
    }

    // MARK: Cases

    func testLoadingRefusesFilesWithTheFacts() throws {
        // The loader checks the head count against the width (32 is not a multiple of 3).
        assertThrows(.badHeadCount(key: "llama.attention.head_count", value: 3, mustDivide: 32, dividend: "llama.embedding_length")) {
            _ = try Model(path: Self.tiny.appendingPathComponent("tiny-bad-heads.gguf").path)
        }
        assertThrows(.unsupportedArchitecture("gpt2")) {
            _ = try Model(path: Self.tiny.appendingPathComponent("tiny-gpt2.gguf").path)
        }
    }

    func testBatchMisuseRaisesTheCaseWithItsNumbers() throws {
        let model = try tinyModel()
        var one = [model.makeCache()]
        assertThrows(.cacheCount(sequences: 2, startLayers: nil, caches: 1)) {
            _ = try model.forward([[1, 2], [3, 4]], caches: &one)
        }
        var two = [model.makeCache(), model.makeCache()]
        assertThrows(.unequalLengths([2, 3])) { _ = try model.forward([[1, 2], [3, 4, 5]], caches: &two) }
        assertThrows(.tokenOutOfRange(token: 64, vocabularySize: 64)) { _ = try model.forward([[1, 64]], caches: &one) }
        assertThrows(.emptyPrompt) { _ = try model.generate(prompt: [], maxTokens: 1) }
        let d = model.config.modelDim
        assertThrows(.readoutShape(rows: 2, width: d, count: d)) {
            _ = try model.topTokens(ofResiduals: [Float](repeating: 0, count: d), rows: 2, k: 1)
        }
        assertThrows(.topKOutOfRange(k: 65, vocabularySize: 64)) {
            _ = try model.topTokens(ofResiduals: [Float](repeating: 0, count: d), rows: 1, k: 65)
        }
    }

    func testResumedPassMisuseRaisesTheCaseWithItsNumbers() throws {
        let model = try tinyModel()
        let d = model.config.modelDim
        let row = [Float](repeating: 0.5, count: d)
        var caches = [model.makeCache(), model.makeCache()]
        assertThrows(.cacheCount(sequences: 2, startLayers: 1, caches: 2)) {
            _ = try model.forward(residuals: [row, row], startLayers: [0], caches: &caches)
        }
        assertThrows(.partialRows(sequence: 1, count: d - 1, width: d)) {
            _ = try model.forward(residuals: [row, Array(row.dropLast())], startLayers: [0, 0], caches: &caches)
        }
        assertThrows(.unsortedStartLayers([1, 0])) {
            _ = try model.forward(residuals: [row, row], startLayers: [1, 0], caches: &caches)
        }
        // A cache of a whole 3-token run not cut at the start layer.
        var full = model.makeCache()
        _ = try model.prefill([1, 2, 3], cache: &full)
        var uncut = [full]
        assertThrows(.cacheNotCut(sequence: 0, length: 3, startLayer: 1, rows: 1)) {
            _ = try model.forward(residuals: [row], startLayers: [1], caches: &uncut)
        }
        var fresh = [model.makeCache(), model.makeCache()]
        assertThrows(.raggedLogits(rows: [1, 2])) {
            _ = try model.forward(residuals: [row, row + row], startLayers: [0, 0], caches: &fresh, logits: .all)
        }
    }

    // MARK: Wording

    func testDescriptionsNameTheFactsAndTheWayOut() {
        let cases: [(TransformerError, [String])] = [
            (.unsupportedArchitecture("gpt2"), ["'gpt2'", "llama, mistral and qwen2"]),
            (.missingMetadata(key: "llama.block_count"), ["'llama.block_count'"]),
            (.badHeadCount(key: "llama.attention.head_count", value: 3, mustDivide: 32, dividend: "llama.embedding_length"),
             ["'llama.attention.head_count' is 3", "divide 'llama.embedding_length' (32)"]),
            (.emptyPrompt, ["no tokens"]),
            (.cacheCount(sequences: 2, startLayers: nil, caches: 1), ["2 sequences", "1 KV caches", "one of each"]),
            (.cacheCount(sequences: 2, startLayers: 1, caches: 2), ["1 start layers"]),
            (.unequalLengths([2, 3]), ["2, 3", "same, nonzero number"]),
            (.raggedLogits(rows: [1, 2]), ["1, 2", "last position"]),
            (.partialRows(sequence: 1, count: 31, width: 32), ["sequence 1", "31 numbers", "rows of 32"]),
            (.unsortedStartLayers([1, 0]), ["[1, 0]", "sort the sequences"]),
            (.cacheNotCut(sequence: 0, length: 3, startLayer: 1, rows: 1), ["KV cache 0", "3 positions in layers 1 and up", "4 below", "truncate(to:fromLayer:)"]),
            (.readoutShape(rows: 2, width: 32, count: 32), ["2 × 32 = 64", "got 32"]),
            (.topKOutOfRange(k: 65, vocabularySize: 64), ["Top 65", "1...64"]),
            (.tokenOutOfRange(token: 64, vocabularySize: 64), ["64", "0..<64"]),
            (.contextOverflow(needed: 10, contextLength: 8), ["10 positions", "holds 8"]),
            (.layerOutOfRange(layer: 9, layerCount: 2), ["Layer 9", "0...1"]),
        ]
        for (error, phrases) in cases {
            for phrase in phrases {
                XCTAssertTrue(error.description.contains(phrase), "\(error): \(error.description) lacks \(phrase)")
            }
            XCTAssertTrue(error.description.hasSuffix("."), "\(error.description) is a sentence")
        }
    }

    /// A hook point a backend cannot reach: the point, where the model runs, why, and the way out.
    func testBackendErrorsSayWhyAPointIsUnreachable() {
        let hooks = ["hook_embed", "resid_pre", "resid_mid", "attn_out", "mlp_out", "resid_post", "ln_final"]
        let cases: [(BackendError, String)] = [
            (.unreachableHook(point: "blocks.3.attn.hook_pattern", placement: "2 RPC servers", reason: .attentionWeights),
             "blocks.3.attn.hook_pattern cannot be read or written on a model run by llama.cpp (2 RPC servers): llama.cpp's attention kernel does not expose the attention weights by a stable name; load the model without `on` for attention analyses."),
            (.unreachableHook(point: "blocks.3.attn.hook_q", placement: "this machine", reason: .perHeadProjections),
             "blocks.3.attn.hook_q cannot be read or written on a model run by llama.cpp (this machine): its query, key and value tensors are laid out per head after RoPE and are not mapped; load the model without `on`."),
            (.unreachableHook(point: "blocks.3.mlp.hook_post", placement: "this machine", reason: .notMapped(mapped: hooks)),
             "blocks.3.mlp.hook_post cannot be read or written on a model run by llama.cpp (this machine): the llama.cpp backend maps only hook_embed, resid_pre, resid_mid, attn_out, mlp_out, resid_post and ln_final; load the model without `on` for the others."),
            (.unreachableHook(point: "blocks.3.hook_resid_mid", placement: "this machine", reason: .width(found: 640, expected: 576)),
             "blocks.3.hook_resid_mid cannot be read or written on a model run by llama.cpp (this machine): its tensor holds 640 numbers per position, not 576."),
        ]
        for (error, sentence) in cases { XCTAssertEqual(error.description, sentence) }
    }
}
