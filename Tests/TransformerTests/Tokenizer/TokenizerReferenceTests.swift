import Foundation
import GGUF
import XCTest
@testable import Transformer

/// Compares the tokenizer with Hugging Face's on the committed corpus (scripts/make_tokenizer_fixtures.py).
final class TokenizerReferenceTests: XCTestCase {
    /// SmolLM2's own vocabulary from the GGUF, under each pre-tokenizer: every id identical.
    func testSmolLM2CorpusMatchesHuggingFaceForEveryPreTokenizer() throws {
        let gguf = try TokenizerFixtures.smolLM2()
        let rows = try TokenizerFixtures.corpus()
        XCTAssertGreaterThanOrEqual(rows.count, 1000)
        var vocabulary = try TokenizerVocabulary(gguf: gguf)
        XCTAssertEqual(vocabulary.preTokenizer, "smollm")
        for pre in ["smollm", "gpt2", "llama3", "qwen2"] {
            vocabulary.preTokenizer = pre
            let tokenizer = try Tokenizer(vocabulary: vocabulary)
            var failures: [String] = []
            for row in rows {
                let ids = tokenizer.encode(row.text, addSpecial: false)
                if ids != row.ids(for: pre) {
                    failures.append("\(row.text.debugDescription): got \(ids), want \(row.ids(for: pre))")
                }
            }
            XCTAssertEqual(failures.count, 0, "\(pre): \(failures.count)/\(rows.count) differ, first: \(failures.prefix(5).joined(separator: "\n"))")
        }
    }

    /// Decoding what was encoded gives the text back, special tokens included.
    func testSmolLM2DecodeRoundTripsTheCorpus() throws {
        let tokenizer = try Tokenizer(gguf: TokenizerFixtures.smolLM2())
        for row in try TokenizerFixtures.corpus() {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(row.text)), row.text)
        }
    }

    /// The SmolLM2 GGUF's metadata, as HF reads it.
    func testSmolLM2Metadata() throws {
        let tokenizer = try Tokenizer(gguf: TokenizerFixtures.smolLM2())
        XCTAssertEqual(tokenizer.vocabularySize, 49152)
        XCTAssertEqual(tokenizer.bosID, 1)
        XCTAssertEqual(tokenizer.eosID, 2)
        XCTAssertFalse(tokenizer.vocabulary.addBOS)
        XCTAssertEqual(tokenizer.piece(1), "<|im_start|>")
        XCTAssertEqual(tokenizer.piece(216), " ")
        XCTAssertEqual(tokenizer.piece(198), "\n")
        XCTAssertTrue(tokenizer.isControl(2))
        XCTAssertFalse(tokenizer.isControl(216))
        // No BOS is added because the GGUF says add_bos_token = false.
        XCTAssertEqual(tokenizer.encode("Hello world"), [19556, 905])
    }

    /// With special parsing off, `<|im_start|>` is spelled out as ordinary text.
    func testSpecialTokensAreTextWhenParsingIsOff() throws {
        let tokenizer = try Tokenizer(gguf: TokenizerFixtures.smolLM2())
        let parsed = tokenizer.encode("<|im_start|>user", parseSpecial: true)
        let literal = tokenizer.encode("<|im_start|>user", parseSpecial: false)
        XCTAssertEqual(parsed.first, 1)
        XCTAssertFalse(literal.contains(1))
        XCTAssertGreaterThan(literal.count, parsed.count)
        XCTAssertEqual(tokenizer.decode(literal), "<|im_start|>user")
    }

    /// The chat template reproduces HF's `apply_chat_template`, default system prompt included.
    func testSmolLM2ChatTemplateMatchesHuggingFace() throws {
        let tokenizer = try Tokenizer(gguf: TokenizerFixtures.smolLM2())
        let cases = try TokenizerFixtures.chatCases()
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let messages = c.messages.map { ChatMessage(role: $0.role, content: $0.content) }
            let text = try tokenizer.applyChatTemplate(messages, addGenerationPrompt: c.add_generation_prompt)
            XCTAssertEqual(text, c.text, c.name)
            XCTAssertEqual(tokenizer.encode(text), c.ids, c.name)
        }
        let withoutSystem = try tokenizer.applyChatTemplate([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        XCTAssertEqual(withoutSystem, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    /// The tiny SentencePiece GGUF (trained by the fixture script) against the `sentencepiece` library.
    func testSentencePieceCorpusMatchesSentencePieceLibrary() throws {
        let gguf = try GGUFFile(path: TokenizerFixtures.url("spm-tiny.gguf").path)
        let tokenizer = try Tokenizer(gguf: gguf)
        XCTAssertEqual(tokenizer.vocabulary.algorithm, .sentencePiece)
        XCTAssertTrue(tokenizer.vocabulary.addBOS)
        var failures: [String] = []
        let rows = try TokenizerFixtures.corpus()
        for row in rows {
            let ids = tokenizer.encode(row.text, addSpecial: false, parseSpecial: false)
            if ids != row.spm { failures.append("\(row.text.debugDescription): got \(ids), want \(row.spm)") }
            XCTAssertEqual(tokenizer.decode(ids), row.text)
        }
        XCTAssertEqual(failures.count, 0, "\(failures.count)/\(rows.count) differ, first: \(failures.prefix(5).joined(separator: "\n"))")
        // BOS is added by default for SentencePiece vocabularies.
        XCTAssertEqual(tokenizer.encode("hello").first, 1)
    }

    /// Encoding ~1,000 tokens of fresh text is fast (release builds).
    func testEncodingSpeed() throws {
        #if DEBUG
        throw XCTSkip("Timing is only meaningful in release builds (swift test -c release).")
        #else
        let gguf = try TokenizerFixtures.smolLM2()
        let initStart = DispatchTime.now()
        let tokenizer = try Tokenizer(gguf: gguf)
        print("built the SmolLM2 tokenizer in \(Double(DispatchTime.now().uptimeNanoseconds - initStart.uptimeNanoseconds) / 1e6) ms")
        let rows = try TokenizerFixtures.corpus()
        // Best of five fresh texts: the machine is shared, and one descheduling should not fail the test.
        var bestPerThousand = Double.infinity  // ms per 1,000 tokens
        var tokenCount = 0
        for _ in 0..<5 {
            var text = ""
            for row in rows.shuffled().prefix(60) { text += row.text + " " }
            let start = DispatchTime.now()
            let ids = tokenizer.encode(text)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
            tokenCount = ids.count
            bestPerThousand = min(bestPerThousand, ms / Double(max(ids.count, 1)) * 1000)
        }
        print("encoding took \(bestPerThousand) ms per 1,000 tokens (best of 5 texts of ~\(tokenCount) tokens)")
        XCTAssertGreaterThan(tokenCount, 500)
        XCTAssertLessThan(bestPerThousand, 10, "encoding 1,000 tokens should take well under 10 ms")

        // One long word (a pasted base64 blob) must not be quadratic.
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        let blob = String((0..<20_000).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
        let blobStart = DispatchTime.now()
        let blobIDs = tokenizer.encode(blob, addSpecial: false)
        let blobMS = Double(DispatchTime.now().uptimeNanoseconds - blobStart.uptimeNanoseconds) / 1e6
        print("encoded a 20,000-letter word into \(blobIDs.count) tokens in \(blobMS) ms")
        XCTAssertEqual(tokenizer.decode(blobIDs), blob)
        XCTAssertLessThan(blobMS, 500)
        #endif
    }
}
