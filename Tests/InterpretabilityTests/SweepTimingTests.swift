import Foundation
import XCTest
import Transformer
@testable import Interpretability

/// The Periscope side of `bench/interp_nnsight.py`: the same three workloads on the same
/// prompts, median of 3 runs after a warm-up. Runs only with `PERISCOPE_BENCH=1` (it takes a
/// minute); prints one JSON line.
final class SweepTimingTests: XCTestCase {
    func testSweepTimings() throws {
        guard ProcessInfo.processInfo.environment["PERISCOPE_BENCH"] == "1" else {
            throw XCTSkip("Set PERISCOPE_BENCH=1 to time the sweeps.")
        }
        let (model, tokenizer) = try AnalysisFixture.load()
        let lensIDs = try AnalysisFixture.encode(
            "The Eiffel Tower is in the city of Paris, the capital of France. The Colosseum is in Rome, and the Brandenburg Gate is found in")
        let source = try AnalysisFixture.encode("The Eiffel Tower is in the city of")
        let target = try PatchscopeTarget.identity.tokenize(with: tokenizer)
        let clean = try AnalysisFixture.encode("The Eiffel Tower is located in the city of")
        let corrupt = try AnalysisFixture.encode("The Colosseum is located in the city of")
        let answer = try AnalysisFixture.token(" Paris")
        XCTAssertEqual(lensIDs.count, 32)
        XCTAssertEqual(clean.count, 10)
        XCTAssertEqual(corrupt.count, 10)

        func median(_ body: () throws -> Void) rethrows -> Double {
            try body()
            var times: [Double] = []
            for _ in 0..<3 {
                let start = Date()
                try body()
                times.append(Date().timeIntervalSince(start))
            }
            return times.sorted()[1]
        }
        let lens = try median {
            let r = try LogitLens.run(model: model, prompt: lensIDs)
            XCTAssertEqual(r.cells.count * r.cells[0].count, 30 * 32)
        }
        let patchscope = try median {
            let r = try Patchscope.sweep(model: model, source: source, sourcePosition: 3, target: target.ids,
                                         targetPosition: target.placeholderPosition ?? -1, decoding: .generate(5))
            XCTAssertEqual(r.rows.map(\.generatedIDs.count), [Int](repeating: 5, count: 30))
        }
        let patching = try median {
            let r = try ActivationPatching.run(model: model, clean: clean, corrupt: corrupt, metric: .probability(answer: answer))
            XCTAssertEqual(r.normalized.count * r.normalized[0].count, 30 * 10)
        }
        print(#"{"tool": "periscope", "lens_s": \#(lens), "patchscope_s": \#(patchscope), "patching_s": \#(patching)}"#)
    }
}
