import Foundation
import GGUF
import XCTest
@testable import Transformer

/// Hand-checked behaviour on small hand-made vocabularies (no model needed).
final class TokenizerUnitTests: XCTestCase {
    // MARK: - Pre-tokenizers (expectations checked with Hugging Face `tokenizers`)

    private func words(_ pre: PreTokenizer, _ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var ranges: [Range<Int>] = []
        pre.split(scalars, scalars.map(ScalarClass.init), 0..<scalars.count, into: &ranges)
        return ranges.map { var s = ""; s.unicodeScalars.append(contentsOf: scalars[$0]); return s }
    }

    func testGPT2SplitsContractionsAndGivesBackTheLastSpace() {
        XCTAssertEqual(words(.gpt2, "Hello  world's 123"), ["Hello", " ", " world", "'s", " 123"])
        XCTAssertEqual(words(.gpt2, "a \t\nb  \n"), ["a", " \t", "\n", "b", "  \n"])
        // Upper-case contractions are not contractions for GPT-2.
        XCTAssertEqual(words(.gpt2, "IT'S"), ["IT", "'", "S"])
        XCTAssertEqual(words(.gpt2, "it's"), ["it", "'s"])
    }

    func testSmolLMIsolatesEveryDigit() {
        XCTAssertEqual(words(.smollm, "a  12"), ["a", "  ", "1", "2"])
        XCTAssertEqual(words(.smollm, "x٣4"), ["x", "٣", "4"])
    }

    func testLlama3GroupsDigitsByThreeAndKeepsNewlinesTogether() {
        XCTAssertEqual(words(.llama3, "Hello  WORLD'S 12345\n\n x"), ["Hello", " ", " WORLD", "'S", " ", "123", "45", "\n\n", " x"])
        XCTAssertEqual(words(.llama3, "$hello ...\r\nok"), ["$hello", " ...\r\n", "ok"])
    }

    func testQwen2IsolatesDigits() {
        XCTAssertEqual(words(.qwen2, "x 12345!?\n\ny"), ["x", " ", "1", "2", "3", "4", "5", "!?\n\n", "y"])
    }

    func testPreTokenizerNamesMapToTheirScanners() {
        XCTAssertEqual(PreTokenizer(name: "smollm"), .smollm)
        XCTAssertEqual(PreTokenizer(name: "starcoder"), .smollm)
        XCTAssertEqual(PreTokenizer(name: "llama-bpe"), .llama3)
        XCTAssertEqual(PreTokenizer(name: "qwen2"), .qwen2)
        XCTAssertEqual(PreTokenizer(name: "gpt-2"), .gpt2)
        XCTAssertEqual(PreTokenizer(name: "something-new"), .gpt2)
    }

    // MARK: - Byte-level BPE

    /// A byte-level vocabulary: `a b c Ġ ab abc Ġa` plus two control tokens.
    private func tinyBPE(merges: [String] = ["a b", "ab c", "Ġ a"], pre: String = "gpt2", extra: [String] = []) throws -> Tokenizer {
        let tokens = ["<s>", "<|x|>", "a", "b", "c", "Ġ", "ab", "abc", "Ġa"] + extra
        var kinds = [TokenKind](repeating: .normal, count: tokens.count)
        kinds[0] = .control; kinds[1] = .control
        return try Tokenizer(vocabulary: TokenizerVocabulary(
            algorithm: .bytePairEncoding, tokens: tokens, tokenKinds: kinds, merges: merges,
            bosID: 0, eosID: 1, preTokenizer: pre, chatTemplate: nil))
    }

    func testMergesApplyByRankNotByPosition() throws {
        let t = try tinyBPE()
        // " ab": (Ġ,a) is leftmost but (a,b) ranks higher, so it merges first and Ġa never forms.
        XCTAssertEqual(t.encode("abc ab"), [7, 5, 6])
        XCTAssertEqual(t.encode(" a"), [8])
        XCTAssertEqual(t.decode([7, 5, 6]), "abc ab")
        XCTAssertEqual(t.piece(5), " ")
    }

    func testControlTokensAreFoundInTextOnlyWhenParsingSpecial() throws {
        let t = try tinyBPE()
        XCTAssertEqual(t.encode("ab<|x|>c"), [6, 1, 4])
        // With parsing off the markup is text; its bytes have no tokens here, so only the known letters remain.
        XCTAssertEqual(t.encode("ab<|x|>c", parseSpecial: false).filter { $0 == 1 }, [])
        XCTAssertEqual(t.decode([6, 1, 4]), "ab<|x|>c")
    }

    func testAddBOSAndEOSFollowTheVocabulary() throws {
        let tokens = ["<s>", "</s>", "a"]
        let v = TokenizerVocabulary(algorithm: .bytePairEncoding, tokens: tokens, tokenKinds: [.control, .control, .normal],
                                    bosID: 0, eosID: 1, addBOS: true, addEOS: true)
        let t = try Tokenizer(vocabulary: v)
        XCTAssertEqual(t.encode("a"), [0, 2, 1])
        XCTAssertEqual(t.encode("a", addSpecial: false), [2])
    }

    func testLlama3LooksUpWholeWordsBeforeMerging() throws {
        // "abc" is a token, but with no merges plain BPE can only spell it letter by letter.
        let gpt2 = try tinyBPE(merges: [], pre: "gpt2")
        let llama3 = try tinyBPE(merges: [], pre: "llama3")
        XCTAssertEqual(gpt2.encode("abc"), [2, 3, 4])
        XCTAssertEqual(llama3.encode("abc"), [7])
    }

    // MARK: - SentencePiece

    private func tinySPM(abScore: Float, spaceAScore: Float) throws -> Tokenizer {
        var tokens = ["<unk>", "<s>", "</s>", "\u{2581}", "a", "b", "\u{2581}a", "ab"]
        var kinds: [TokenKind] = [.unknown, .control, .control, .normal, .normal, .normal, .normal, .normal]
        var scores: [Float] = [0, 0, 0, -1, -2, -3, spaceAScore, abScore]
        for byte in [0xC3, 0xA9] {
            tokens.append(String(format: "<0x%02X>", byte)); kinds.append(.byte); scores.append(0)
        }
        return try Tokenizer(vocabulary: TokenizerVocabulary(
            algorithm: .sentencePiece, tokens: tokens, tokenKinds: kinds, scores: scores, bosID: 1, eosID: 2, unknownID: 0))
    }

    func testSentencePieceMergesTheHighestScoringPairFirst() throws {
        // "ab" → "▁ab": either (▁,a) or (a,b) merges first, and the other can no longer form.
        XCTAssertEqual(try tinySPM(abScore: -10, spaceAScore: -5).encode("ab"), [1, 6, 5])
        XCTAssertEqual(try tinySPM(abScore: -5, spaceAScore: -10).encode("ab"), [1, 3, 7])
    }

    func testSentencePieceFallsBackToBytesAndDecodesThem() throws {
        let t = try tinySPM(abScore: -5, spaceAScore: -10)
        let ids = t.encode("é a", addSpecial: false)
        XCTAssertEqual(ids, [3, 8, 9, 6])
        XCTAssertEqual(t.decode(ids), "é a")
        // The space prefix is added again after a control token and removed when decoding.
        let withControl = t.encode("a</s>a", addSpecial: false)
        XCTAssertEqual(withControl, [6, 2, 6])
        XCTAssertEqual(t.decode(withControl), "a</s>a")
    }

    // MARK: - Errors

    func testInconsistentVocabulariesAreRejectedWithTheKeyNamed() {
        XCTAssertThrowsError(try Tokenizer(vocabulary: TokenizerVocabulary(algorithm: .bytePairEncoding, tokens: []))) {
            XCTAssertEqual($0 as? TokenizerError, .badValue(key: "tokenizer.ggml.tokens", reason: "the token list is empty"))
        }
        XCTAssertThrowsError(try Tokenizer(vocabulary: TokenizerVocabulary(algorithm: .bytePairEncoding, tokens: ["a"], tokenKinds: [.normal, .normal]))) {
            guard case .badValue(let key, _)? = $0 as? TokenizerError else { return XCTFail("\($0)") }
            XCTAssertEqual(key, "tokenizer.ggml.token_type")
        }
        XCTAssertThrowsError(try Tokenizer(vocabulary: TokenizerVocabulary(algorithm: .bytePairEncoding, tokens: ["a"], bosID: 5))) {
            guard case .badValue(let key, _)? = $0 as? TokenizerError else { return XCTFail("\($0)") }
            XCTAssertEqual(key, "tokenizer.ggml.bos_token_id")
        }
        XCTAssertThrowsError(try Tokenizer(vocabulary: TokenizerVocabulary(algorithm: .bytePairEncoding, tokens: ["a", "b"], merges: ["ab"]))) {
            guard case .badValue(let key, _)? = $0 as? TokenizerError else { return XCTFail("\($0)") }
            XCTAssertEqual(key, "tokenizer.ggml.merges")
        }
    }

    func testGGUFWithoutTokensNamesTheMissingKey() throws {
        let url = try writeGGUF(["tokenizer.ggml.model": "gpt2"])
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(path: url.path))) {
            XCTAssertEqual($0 as? TokenizerError, .missingKey("tokenizer.ggml.tokens"))
            XCTAssertTrue("\($0)".contains("tokenizer.ggml.tokens"))
        }
        let bert = try writeGGUF(["tokenizer.ggml.model": "bert"])
        defer { try? FileManager.default.removeItem(at: bert) }
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(path: bert.path))) {
            XCTAssertEqual($0 as? TokenizerError, .unsupportedModel("bert"))
        }
        let none = try writeGGUF([:])
        defer { try? FileManager.default.removeItem(at: none) }
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(path: none.path))) {
            XCTAssertEqual($0 as? TokenizerError, .missingKey("tokenizer.ggml.model"))
        }
    }

    /// A GGUF v3 file with only string metadata and no tensors.
    private func writeGGUF(_ strings: [String: String]) throws -> URL {
        var data = Data("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); data.append(contentsOf: Array(s.utf8)) }
        u32(3); u64(0); u64(UInt64(strings.count))
        for (k, v) in strings.sorted(by: { $0.key < $1.key }) { str(k); u32(8); str(v) }
        while data.count % 32 != 0 { data.append(0) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString).gguf")
        try data.write(to: url)
        return url
    }

    // MARK: - Chat templates

    private func chatTokenizer(_ template: String?) throws -> Tokenizer {
        try Tokenizer(vocabulary: TokenizerVocabulary(
            algorithm: .bytePairEncoding, tokens: ["<s>", "</s>", "a"], tokenKinds: [.control, .control, .normal],
            bosID: 0, eosID: 1, chatTemplate: template))
    }

    func testChatMLWithoutADefaultSystemPrompt() throws {
        let t = try chatTokenizer("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}")
        let text = try t.applyChatTemplate([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        XCTAssertEqual(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    func testChatMLDefaultSystemPromptWithEscapedNewlines() throws {
        let t = try chatTokenizer("{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nBe kind.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>'}}")
        let users = try t.applyChatTemplate([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        XCTAssertEqual(users, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
        let withSystem = try t.applyChatTemplate([ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        XCTAssertEqual(withSystem, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    func testLlama3AndZephyrForms() throws {
        let llama3 = try chatTokenizer("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>{% endfor %}")
        XCTAssertEqual(try llama3.applyChatTemplate([ChatMessage(role: "user", content: " Hi ")], addGenerationPrompt: true),
                       "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        let zephyr = try chatTokenizer("{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}{% endif %}{% endfor %}")
        XCTAssertEqual(try zephyr.applyChatTemplate([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true),
                       "<|user|>\nHi</s>\n<|assistant|>\n")
    }

    /// Expected strings rendered with jinja2 (trim_blocks, lstrip_blocks, as transformers does) from the
    /// TinyLlama-1.1B-Chat and Llama-3-Instruct templates.
    func testMultiTurnZephyrAndLlama3MatchJinjaRenderings() throws {
        let messages = [ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: " Hi "),
                        ChatMessage(role: "assistant", content: "Yo"), ChatMessage(role: "user", content: "Bye")]
        let zephyr = try chatTokenizer("{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}")
        XCTAssertEqual(try zephyr.applyChatTemplate(messages, addGenerationPrompt: true),
                       "<|system|>\nS</s>\n<|user|>\n Hi </s>\n<|assistant|>\nYo</s>\n<|user|>\nBye</s>\n<|assistant|>\n")
        let llama3 = try chatTokenizer("{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}")
        XCTAssertEqual(try llama3.applyChatTemplate(messages, addGenerationPrompt: true),
                       "<s><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                       + "<|start_header_id|>assistant<|end_header_id|>\n\nYo<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                       + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    func testLlama2FoldsTheSystemPromptIntoTheFirstTurn() throws {
        let t = try chatTokenizer("{% if messages[0]['role'] == 'system' %}{{ bos_token + '[INST] ' }}{% endif %}")
        let text = try t.applyChatTemplate([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi "),
                                            ChatMessage(role: "assistant", content: "Hello."), ChatMessage(role: "user", content: "Bye")],
                                           addGenerationPrompt: true)
        XCTAssertEqual(text, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]")
    }

    func testQwenStyleDefaultSystemPromptIsFoundPastTheUsersOwn() throws {
        let template = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{%- endif %}"
        XCTAssertEqual(ChatTemplateFamily(template: template), .chatML(defaultSystem: "You are Qwen."))
    }

    func testUnknownOrMissingTemplatesAreClearErrors() throws {
        XCTAssertThrowsError(try chatTokenizer(nil).applyChatTemplate([], addGenerationPrompt: true)) {
            XCTAssertEqual($0 as? TokenizerError, .noChatTemplate)
        }
        XCTAssertThrowsError(try chatTokenizer("{{ 'Human: ' + x }}").applyChatTemplate([], addGenerationPrompt: true)) {
            guard case .unsupportedChatTemplate(let excerpt)? = $0 as? TokenizerError else { return XCTFail("\($0)") }
            XCTAssertTrue(excerpt.contains("Human:"))
            XCTAssertTrue("\($0)".contains("ChatML"))
        }
    }
}
