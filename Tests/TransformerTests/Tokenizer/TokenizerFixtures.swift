import Foundation
import GGUF
import XCTest
@testable import Transformer

/// Where the tokenizer tests find their committed fixtures and the default model.
enum TokenizerFixtures {
    /// `Tests/TransformerTests/Fixtures`, found next to this file.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// The default model, from `$PERISCOPE_HOME` (default `~/.cache/periscope`), or a skip.
    static func smolLM2() throws -> GGUFFile {
        let home = ProcessInfo.processInfo.environment["PERISCOPE_HOME"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/periscope").path
        let path = URL(fileURLWithPath: home).appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("The default model is not at \(path); `make model` fetches it.")
        }
        return try GGUFFile(path: path)
    }

    /// One line of `tokenizer_corpus.jsonl`: a string and its reference ids per pre-tokenizer.
    struct CorpusRow: Decodable {
        var text: String
        var smollm: [Int32]
        var gpt2: [Int32]?
        var llama3: [Int32]?
        var qwen2: [Int32]?
        var spm: [Int32]

        /// The reference ids for a pre-tokenizer; rows store only those that differ from `smollm`.
        func ids(for pre: String) -> [Int32] {
            switch pre {
            case "gpt2": return gpt2 ?? smollm
            case "llama3": return llama3 ?? smollm
            case "qwen2": return qwen2 ?? smollm
            default: return smollm
            }
        }
    }

    static func corpus() throws -> [CorpusRow] {
        let data = try Data(contentsOf: url("tokenizer_corpus.jsonl"))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(CorpusRow.self, from: Data($0)) }
    }

    /// One Hugging Face `apply_chat_template` result from `tokenizer_chat.json`.
    struct ChatCase: Decodable {
        struct Message: Decodable { var role: String; var content: String }
        var name: String
        var messages: [Message]
        var add_generation_prompt: Bool
        var text: String
        var ids: [Int32]
    }

    static func chatCases() throws -> [ChatCase] {
        try JSONDecoder().decode([ChatCase].self, from: Data(contentsOf: url("tokenizer_chat.json")))
    }
}
