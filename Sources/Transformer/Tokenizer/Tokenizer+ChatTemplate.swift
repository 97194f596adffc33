import Foundation

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    /// `system`, `user` or `assistant`.
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

// MARK: - Chat templates

/// The chat template families recognised in `tokenizer.chat_template`. Jinja is not run: the
/// family is detected by its marker tokens and its output rebuilt here.
enum ChatTemplateFamily: Equatable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen2), with the default system prompt the template
    /// inserts when the conversation has none.
    case chatML(defaultSystem: String?)
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` after `<|begin_of_text|>`.
    case llama3
    /// `<|role|>\ncontent</s>\n` (Zephyr, TinyLlama chat).
    case zephyr
    /// `<s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant </s>`.
    case llama2

    /// Recognises the family of a Jinja template, or `nil`.
    init?(template: String) {
        if template.contains("<|im_start|>") {
            self = .chatML(defaultSystem: Self.defaultSystemPrompt(in: template))
        } else if template.contains("<|start_header_id|>") {
            self = .llama3
        } else if template.contains("<|user|>") {
            self = .zephyr
        } else if template.contains("[INST]") {
            self = .llama2
        } else {
            return nil
        }
    }

    /// The literal system turn a ChatML template writes when no system message is given, e.g. SmolLM2's
    /// `'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n'`.
    static func defaultSystemPrompt(in template: String) -> String? {
        // Jinja literals may hold a real newline or the escape `\n`.
        for opener in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
            var searchStart = template.startIndex
            while let start = template.range(of: opener, range: searchStart..<template.endIndex) {
                searchStart = start.upperBound
                guard let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex) else { break }
                let text = String(template[start.upperBound..<end.lowerBound])
                // A place that prints the user's own system message is not a default.
                if text.isEmpty || text.contains("{") || text.contains("'") || text.contains("\"") || text.contains("%}") { continue }
                return text.replacingOccurrences(of: "\\n", with: "\n")
            }
        }
        return nil
    }
}

extension Tokenizer {
    /// The model's chat template applied to `messages`, as the text Hugging Face's
    /// `apply_chat_template(tokenize=False)` produces. Encode it with `parseSpecial: true`;
    /// templates that write BOS themselves (Llama 2/3) expect `addSpecial: false`.
    /// - Throws: `TokenizerError.noChatTemplate` or `.unsupportedChatTemplate` naming the template.
    public func applyChatTemplate(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        guard let template = vocabulary.chatTemplate, !template.isEmpty else { throw TokenizerError.noChatTemplate }
        guard let family = ChatTemplateFamily(template: template) else {
            throw TokenizerError.unsupportedChatTemplate(String(template.prefix(80)))
        }
        let bos = vocabulary.bosID.map { vocabulary.tokens[Int($0)] } ?? ""
        let eos = vocabulary.eosID.map { vocabulary.tokens[Int($0)] } ?? ""
        var out = ""
        switch family {
        case .chatML(let defaultSystem):
            if let defaultSystem, let first = messages.first, first.role != "system" {
                out += "<|im_start|>system\n" + defaultSystem + "<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            if !messages.isEmpty { out += bos }
            for m in messages {
                out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content.trimmingCharacters(in: .whitespacesAndNewlines) + "<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .zephyr:
            for m in messages { out += "<|" + m.role + "|>\n" + m.content + eos + "\n" }
            if addGenerationPrompt { out += "<|assistant|>\n" }
        case .llama2:
            var system: String?
            var turns = messages[...]
            if let first = turns.first, first.role == "system" { system = first.content; turns = turns.dropFirst() }
            for m in turns {
                if m.role == "assistant" {
                    out += " " + m.content.trimmingCharacters(in: .whitespacesAndNewlines) + " " + eos
                } else {
                    var content = m.content
                    if let s = system { content = "<<SYS>>\n" + s + "\n<</SYS>>\n\n" + content; system = nil }
                    out += bos + "[INST] " + content.trimmingCharacters(in: .whitespacesAndNewlines) + " [/INST]"
                }
            }
        }
        return out
    }
}
