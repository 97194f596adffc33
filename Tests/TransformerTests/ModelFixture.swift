import Foundation
import XCTest
@testable import Transformer

/// The default model, loaded once for every test in the target.
enum ModelFixture {
    /// Loaded on first use; nil when the file is absent.
    static let shared: Model? = {
        let path = Model.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try? Model(path: path)
    }()

    /// The model, or an XCTSkip telling the reader how to fetch it.
    static func model() throws -> Model {
        guard let model = shared else {
            throw XCTSkip("The default model is not at \(Model.defaultModelPath); `make model` fetches it.")
        }
        return model
    }
}

/// The Hugging Face reference dump written by scripts/make_reference_fixtures.py.
struct Reference {
    struct Blob: Decodable { let offset: Int; let shape: [Int] }
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let layers: [Int]         // which blocks' resid_post are stored
        let residPost: Blob       // [layers.count, T, d_model]
        let lnFinal: Blob         // [T, d_model]
        let lastLogits: Blob      // [vocab]
        let topIds: [[Int]]       // [T, 50]
        let topLogits: [[Float]]  // [T, 50]
        let logitNorms: [Float]   // [T]
        let greedy: [Int]         // 10 greedy tokens after the prompt
    }
    struct Meta: Decodable { let cases: [Case] }

    let cases: [Case]
    private let data: Data

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/forward")

    init() throws {
        let json = try Data(contentsOf: Self.directory.appendingPathComponent("reference.json"))
        cases = try JSONDecoder().decode(Meta.self, from: json).cases
        data = try Data(contentsOf: Self.directory.appendingPathComponent("reference.bin"))
    }

    /// The floats of `blob`, flattened.
    func floats(_ blob: Blob) -> [Float] {
        let count = blob.shape.reduce(1, *)
        return data.withUnsafeBytes { raw in
            (0..<count).map { i in
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: blob.offset + 4 * i, as: UInt32.self)))
            }
        }
    }
}

/// ‖a − b‖ / ‖b‖.
func relativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
    precondition(a.count == b.count)
    var diff: Double = 0, norm: Double = 0
    for (x, y) in zip(a, b) { diff += Double(x - y) * Double(x - y); norm += Double(y) * Double(y) }
    return Float((diff / max(norm, 1e-30)).squareRoot())
}

func relativeError(_ a: [Float], _ b: [Float]) -> Float { relativeError(a[...], b[...]) }
