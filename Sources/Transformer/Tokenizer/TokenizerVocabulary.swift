import Foundation

// MARK: - Token kinds

/// What a vocabulary entry is, with the numbering GGUF uses in `tokenizer.ggml.token_type`.
public enum TokenKind: Int32, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    /// Control tokens such as `<|im_start|>` or `<s>`: recognised in text only when special parsing is on.
    case control = 3
    /// User-defined tokens: always recognised in text as a whole.
    case userDefined = 4
    case unused = 5
    /// SentencePiece byte-fallback tokens `<0x00>` … `<0xFF>`.
    case byte = 6
}

/// The two tokenizer algorithms GGUF files name in `tokenizer.ggml.model`.
public enum TokenizerAlgorithm: String, Sendable {
    /// Byte-level BPE with merges (`gpt2`): SmolLM2, Llama 3, Qwen2.
    case bytePairEncoding = "gpt2"
    /// SentencePiece BPE with scores and byte fallback (`llama`): Llama 2, TinyLlama, Mistral.
    case sentencePiece = "llama"
}

// MARK: - Errors

/// Why a tokenizer could not be built or a chat template could not be applied.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A required GGUF metadata key is absent.
    case missingKey(String)
    /// A GGUF metadata key has the wrong type or an unusable value.
    case badValue(key: String, reason: String)
    /// `tokenizer.ggml.model` names an algorithm this tokenizer does not implement.
    case unsupportedModel(String)
    /// The model carries no chat template.
    case noChatTemplate
    /// The chat template is a Jinja program of a family this tokenizer does not recognise.
    case unsupportedChatTemplate(String)

    public var description: String {
        switch self {
        case .missingKey(let key):
            return "The GGUF file has no '\(key)' metadata, so its tokenizer cannot be built; re-export the model with a recent llama.cpp converter."
        case .badValue(let key, let reason):
            return "The GGUF metadata '\(key)' is unusable: \(reason)."
        case .unsupportedModel(let name):
            return "Tokenizer model '\(name)' is not supported; Periscope reads 'gpt2' (byte-level BPE) and 'llama' (SentencePiece) vocabularies."
        case .noChatTemplate:
            return "This model has no chat template (no 'tokenizer.chat_template' metadata); write the prompt out in full instead of using `chat`."
        case .unsupportedChatTemplate(let excerpt):
            return "The model's chat template is not one Periscope recognises (ChatML, Llama 2, Llama 3, Zephyr); it begins: \(excerpt)… Write the prompt out in full instead of using `chat`."
        }
    }
}

// MARK: - Vocabulary

/// Everything a tokenizer needs, as plain data: what GGUF stores under `tokenizer.*`.
public struct TokenizerVocabulary: Sendable {
    /// The algorithm (`tokenizer.ggml.model`).
    public var algorithm: TokenizerAlgorithm
    /// Token texts, indexed by id (`tokenizer.ggml.tokens`). Byte-level BPE stores bytes mapped to printable characters.
    public var tokens: [String]
    /// One kind per token (`tokenizer.ggml.token_type`); empty means all normal.
    public var tokenKinds: [TokenKind]
    /// BPE merges in priority order, each `"left right"` (`tokenizer.ggml.merges`).
    public var merges: [String]
    /// SentencePiece scores, higher merges first (`tokenizer.ggml.scores`).
    public var scores: [Float]
    public var bosID: Int32?
    public var eosID: Int32?
    public var unknownID: Int32?
    public var paddingID: Int32?
    /// Whether `encode(addSpecial: true)` prepends BOS / appends EOS.
    public var addBOS: Bool
    public var addEOS: Bool
    /// SentencePiece: prefix the text with a space before encoding (`tokenizer.ggml.add_space_prefix`).
    public var addSpacePrefix: Bool
    /// The pre-tokenizer name (`tokenizer.ggml.pre`): `smollm`, `llama3`/`llama-bpe`, `qwen2`, `gpt2`/`default`, …
    public var preTokenizer: String
    /// The Jinja chat template (`tokenizer.chat_template`), if any.
    public var chatTemplate: String?

    public init(algorithm: TokenizerAlgorithm, tokens: [String], tokenKinds: [TokenKind] = [],
                merges: [String] = [], scores: [Float] = [],
                bosID: Int32? = nil, eosID: Int32? = nil, unknownID: Int32? = nil, paddingID: Int32? = nil,
                addBOS: Bool? = nil, addEOS: Bool = false, addSpacePrefix: Bool? = nil,
                preTokenizer: String = "default", chatTemplate: String? = nil) {
        self.algorithm = algorithm
        self.tokens = tokens
        self.tokenKinds = tokenKinds
        self.merges = merges
        self.scores = scores
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        // llama.cpp's defaults when the GGUF is silent: SentencePiece adds BOS and a space prefix.
        self.addBOS = addBOS ?? (algorithm == .sentencePiece)
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix ?? (algorithm == .sentencePiece)
        self.preTokenizer = preTokenizer
        self.chatTemplate = chatTemplate
    }

    /// The kind of token `id`.
    func kind(_ id: Int) -> TokenKind {
        id < tokenKinds.count ? tokenKinds[id] : .normal
    }
}
