import Foundation
import XCTest
import GGUF
import Transformer

/// The default model and its tokenizer, loaded once for the analysis tests.
enum AnalysisFixture {
    static let shared: (Model, Tokenizer)? = {
        let path = Model.defaultModelPath
        guard FileManager.default.fileExists(atPath: path), let file = try? GGUFFile(path: path),
              let model = try? Model(file: file), let tokenizer = try? Tokenizer(gguf: file) else { return nil }
        return (model, tokenizer)
    }()

    /// The model and tokenizer, or an XCTSkip telling the reader how to fetch them.
    static func load() throws -> (Model, Tokenizer) {
        guard let shared else {
            throw XCTSkip("The default model is not at \(Model.defaultModelPath); `make model` fetches it.")
        }
        return shared
    }

    static func encode(_ text: String) throws -> [Int] {
        try load().1.encode(text).map(Int.init)
    }

    /// The single token id of `text` (e.g. " Paris"), failing the test when it is several tokens.
    static func token(_ text: String) throws -> Int {
        let ids = try load().1.encode(text, addSpecial: false)
        guard ids.count == 1, let id = ids.first else {
            XCTFail("\(text.debugDescription) is \(ids.count) tokens, not one")
            return -1
        }
        return Int(id)
    }

    /// True in optimised builds, where timings mean something.
    static var isOptimised: Bool {
        #if DEBUG
        return false
        #else
        return true
        #endif
    }
}
