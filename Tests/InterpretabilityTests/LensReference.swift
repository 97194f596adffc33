import Foundation
import XCTest

/// The Hugging Face reference written by `scripts/make_interp_fixtures.py` (transformers on
/// PyTorch, the same GGUF dequantised to float32): `Fixtures/interp.json`.
struct LensReference: Decodable {
    struct Lens: Decodable {
        let prompt: String
        let ids: [Int]
        let top1: [[Int]]        // [layer][position]
        let prob: [[Float]]      // p(top-1)
        let prob2: [[Float]]     // p(top-2)
        let final_top1: [Int]    // [position] argmax of the model's own logits
    }
    struct Attention: Decodable {
        let prompt: String
        let ids: [Int]
        let layers: [String: [[[Float]]]]   // layer → [head][query][key]
    }
    struct Patchscope: Decodable {
        let source_ids: [Int]
        let source_position: Int
        let target_ids: [Int]
        let placeholder_position: Int
        let new_tokens: Int
        let generated: [[Int]]   // [source layer][token]
        let generated_text: [String]
        let first_prob: [Float]  // [source layer] p(first generated token)
    }
    struct HookMatrices: Decodable {
        let prob: [[Double]]
        let normalised: [[Double]]
        let logit_diff: [[Double]]
    }
    struct Patching: Decodable {
        let clean_ids: [Int]
        let corrupt_ids: [Int]
        let answer_id: Int
        let against_id: Int
        let p_clean: Double
        let p_corrupt: Double
        let logit_diff_clean: Double
        let logit_diff_corrupt: Double
        let hooks: [String: HookMatrices]   // resid_pre, attn_out, mlp_out → [layer][position]
    }

    let lens: [Lens]
    let attention: Attention
    let patchscope: Patchscope
    /// The last token of a factual prompt through the identity target: its next-token reading.
    let patchscope_next_token: Patchscope
    let patching: Patching

    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/interp.json")

    nonisolated(unsafe) private static var loaded: LensReference?

    static func load() throws -> LensReference {
        if let loaded { return loaded }
        let reference = try JSONDecoder().decode(LensReference.self, from: Data(contentsOf: url))
        loaded = reference
        return reference
    }
}
