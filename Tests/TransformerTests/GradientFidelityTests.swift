import Foundation
import XCTest
@testable import Transformer

/// The backward pass against PyTorch autograd on transformers loading the same GGUF
/// (scripts/make_gradient_fixtures.py): gradients at the embeddings and every stored block input.
final class GradientFidelityTests: XCTestCase {
    func testGradientsMatchTorchAutograd() throws {
        let model = try ModelFixture.model()
        let reference = try GradientReference()
        XCTAssertFalse(reference.meta.gradients.isEmpty)
        for ref in reference.meta.gradients {
            let metric: GradientMetric = ref.against.map { .logitDifference(answer: ref.answer, against: $0) }
                ?? .logProbability(answer: ref.answer)
            let points = [HookPoint.embed] + ref.layers.map(HookPoint.residPre)
            let cache = ActivationCache()
            let hooks = HookSet()
            hooks.cache(points, into: cache)
            let pass = try model.gradients([ref.ids], metrics: [metric], gradientHooks: hooks)
            XCTAssertEqual(pass.metrics[0], ref.value, accuracy: 1e-3 * max(1, abs(ref.value)), "metric of '\(ref.text)'")
            let embed = try XCTUnwrap(cache[.embed]).data
            let err = relativeError(embed, reference.floats(ref.embed))
            XCTAssertLessThanOrEqual(err, 1e-3, "embedding gradient of '\(ref.text)'")
            let resid = reference.floats(ref.residPre)
            let size = ref.ids.count * model.config.modelDim
            var worst = err
            for (k, l) in ref.layers.enumerated() {
                let ours = try XCTUnwrap(cache[.residPre(l)]).data
                let e = relativeError(ours[...], resid[k * size..<(k + 1) * size])
                worst = max(worst, e)
                XCTAssertLessThanOrEqual(e, 1e-3, "resid_pre \(l) gradient of '\(ref.text)'")
            }
            print("gradient fidelity '\(ref.text.prefix(40))': worst relative error \(worst)")
        }
    }
}

/// The dump written by scripts/make_gradient_fixtures.py.
struct GradientReference {
    struct Blob: Decodable { let offset: Int; let shape: [Int] }
    struct GradientCase: Decodable {
        let text: String
        let ids: [Int]
        let answer: Int
        let against: Int?
        let metric: String
        let value: Double
        let embed: Blob          // [T, d_model]
        let layers: [Int]
        let residPre: Blob       // [layers.count, T, d_model]
    }
    struct Patching: Decodable {
        let clean: String
        let corrupt: String
        let cleanIds: [Int]
        let corruptIds: [Int]
        let answer: Int
        let cleanValue: Double
        let corruptValue: Double
        let grids: [String: Blob]   // hook → [L, T]
    }
    struct Integrated: Decodable {
        let text: String
        let ids: [Int]
        let answer: Int
        let steps: Int
        let scores: [Double]
        let valueAtInput: Double
        let valueAtBaseline: Double
    }
    struct Meta: Decodable {
        let gradients: [GradientCase]
        let patching: Patching
        let integratedGradients: Integrated
    }

    let meta: Meta
    private let data: Data

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/gradients")

    init() throws {
        meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: Self.directory.appendingPathComponent("reference.json")))
        data = try Data(contentsOf: Self.directory.appendingPathComponent("reference.bin"))
    }

    func floats(_ blob: Blob) -> [Float] {
        let count = blob.shape.reduce(1, *)
        return data.withUnsafeBytes { raw in
            (0..<count).map { i in
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: blob.offset + 4 * i, as: UInt32.self)))
            }
        }
    }
}
