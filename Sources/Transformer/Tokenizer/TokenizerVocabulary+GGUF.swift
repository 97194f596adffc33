import GGUF

// MARK: - Reading the vocabulary from GGUF metadata

extension TokenizerVocabulary {
    /// Reads `tokenizer.*` metadata from a GGUF file.
    /// - Throws: `TokenizerError` naming the missing or malformed key.
    public init(gguf: GGUFFile) throws {
        let meta = gguf.metadata
        guard let modelValue = meta["tokenizer.ggml.model"] else { throw TokenizerError.missingKey("tokenizer.ggml.model") }
        guard let modelName = modelValue.string else {
            throw TokenizerError.badValue(key: "tokenizer.ggml.model", reason: "it is not a string")
        }
        guard let algorithm = TokenizerAlgorithm(rawValue: modelName) else { throw TokenizerError.unsupportedModel(modelName) }

        guard let tokensValue = meta["tokenizer.ggml.tokens"] else { throw TokenizerError.missingKey("tokenizer.ggml.tokens") }
        guard let tokens = tokensValue.stringArray else {
            throw TokenizerError.badValue(key: "tokenizer.ggml.tokens", reason: "it is not an array of strings")
        }

        var kinds: [TokenKind] = []
        if let value = meta["tokenizer.ggml.token_type"] {
            guard let raw = value.intArray else {
                throw TokenizerError.badValue(key: "tokenizer.ggml.token_type", reason: "it is not an array of integers")
            }
            kinds = raw.map { TokenKind(rawValue: Int32(truncatingIfNeeded: $0)) ?? .normal }
        }

        var merges: [String] = []
        if algorithm == .bytePairEncoding {
            guard let value = meta["tokenizer.ggml.merges"] else { throw TokenizerError.missingKey("tokenizer.ggml.merges") }
            guard let list = value.stringArray else {
                throw TokenizerError.badValue(key: "tokenizer.ggml.merges", reason: "it is not an array of strings")
            }
            merges = list
        }

        var scores: [Float] = []
        if let value = meta["tokenizer.ggml.scores"] {
            guard let list = value.floatArray else {
                throw TokenizerError.badValue(key: "tokenizer.ggml.scores", reason: "it is not an array of numbers")
            }
            scores = list
        } else if algorithm == .sentencePiece {
            throw TokenizerError.missingKey("tokenizer.ggml.scores")
        }

        func id(_ key: String) throws -> Int32? {
            guard let value = meta[key] else { return nil }
            guard let n = value.int, let id = Int32(exactly: n) else {
                throw TokenizerError.badValue(key: key, reason: "it is not a token id")
            }
            return id
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = meta[key] else { return nil }
            guard let b = value.bool else { throw TokenizerError.badValue(key: key, reason: "it is not a boolean") }
            return b
        }

        self.init(algorithm: algorithm, tokens: tokens, tokenKinds: kinds, merges: merges, scores: scores,
                  bosID: try id("tokenizer.ggml.bos_token_id"), eosID: try id("tokenizer.ggml.eos_token_id"),
                  unknownID: try id("tokenizer.ggml.unknown_token_id"), paddingID: try id("tokenizer.ggml.padding_token_id"),
                  addBOS: try flag("tokenizer.ggml.add_bos_token"), addEOS: try flag("tokenizer.ggml.add_eos_token") ?? false,
                  addSpacePrefix: try flag("tokenizer.ggml.add_space_prefix"),
                  preTokenizer: meta["tokenizer.ggml.pre"]?.string ?? "default",
                  chatTemplate: meta["tokenizer.chat_template"]?.string)
    }
}

extension Tokenizer {
    /// Builds the tokenizer a GGUF model carries.
    /// - Throws: `TokenizerError` naming the missing or malformed key.
    public convenience init(gguf: GGUFFile) throws {
        try self.init(vocabulary: TokenizerVocabulary(gguf: gguf))
    }
}
