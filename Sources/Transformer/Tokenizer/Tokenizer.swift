import Foundation

/// Turns text into token ids and back, exactly as the model was trained to see it.
///
/// Built from a GGUF file's `tokenizer.*` metadata: byte-level BPE (`gpt2`) with the
/// pre-tokenizer named by `tokenizer.ggml.pre`, or SentencePiece (`llama`). Special and control
/// tokens written in the text (`<|im_start|>`) are recognised as single tokens.
/// Thread-safe: the per-word cache is guarded by a lock.
///
/// Behaves like llama.cpp and like each model's own Hugging Face `tokenizer.json`. Two known
/// differences from transformers' *GGUF* loader (`from_pretrained(gguf_file:)`), both bugs there:
/// it always splits byte-level BPE text with the GPT-2 expression, ignoring `tokenizer.ggml.pre`
/// (for SmolLM2 this changes whitespace before digits, e.g. `"a  1"`), and its SentencePiece
/// conversion adds no prefix space to text that already starts with whitespace.
public final class Tokenizer: @unchecked Sendable {
    /// The vocabulary this tokenizer was built from.
    public let vocabulary: TokenizerVocabulary
    /// Token ids by exact UTF-8 bytes: `String` keys would hash slowly (normalising) and would merge
    /// canonically equivalent tokens such as `é` and `e\u{301}`.
    private let ids: [[UInt8]: Int32]
    private let preTokenizer: PreTokenizer
    private let bpe: BytePairEncoder?
    private let spm: SentencePieceEncoder?
    /// Each token's decoded bytes.
    private let pieceBytes: [[UInt8]]
    /// Tokens recognised inside text, by first scalar, longest first; `alwaysParsed` marks user-defined ones.
    private let specialTokens: [Unicode.Scalar: [(scalars: [Unicode.Scalar], id: Int32, alwaysParsed: Bool)]]
    private var wordCache: [[UInt8]: [Int32]] = [:]
    private let cacheLock = NSLock()

    // MARK: - Building

    /// Builds a tokenizer from plain vocabulary data.
    /// - Throws: `TokenizerError.badValue` when the arrays disagree or an id is out of range.
    public init(vocabulary: TokenizerVocabulary) throws {
        let tokens = vocabulary.tokens
        guard !tokens.isEmpty else {
            throw TokenizerError.badValue(key: "tokenizer.ggml.tokens", reason: "the token list is empty")
        }
        if !vocabulary.tokenKinds.isEmpty, vocabulary.tokenKinds.count != tokens.count {
            throw TokenizerError.badValue(key: "tokenizer.ggml.token_type",
                                          reason: "it has \(vocabulary.tokenKinds.count) entries but there are \(tokens.count) tokens")
        }
        if vocabulary.algorithm == .sentencePiece, !vocabulary.scores.isEmpty, vocabulary.scores.count != tokens.count {
            throw TokenizerError.badValue(key: "tokenizer.ggml.scores",
                                          reason: "it has \(vocabulary.scores.count) entries but there are \(tokens.count) tokens")
        }
        for (key, id) in [("tokenizer.ggml.bos_token_id", vocabulary.bosID), ("tokenizer.ggml.eos_token_id", vocabulary.eosID),
                          ("tokenizer.ggml.unknown_token_id", vocabulary.unknownID)] {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw TokenizerError.badValue(key: key, reason: "id \(id) is outside the vocabulary of \(tokens.count) tokens")
            }
        }
        self.vocabulary = vocabulary

        // Text → id; on duplicates the first id wins, as in llama.cpp.
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() {
            let key = Array(t.utf8)
            if ids[key] == nil { ids[key] = Int32(i) }
        }
        self.ids = ids

        let pre = PreTokenizer(name: vocabulary.preTokenizer)
        self.preTokenizer = pre
        switch vocabulary.algorithm {
        case .bytePairEncoding:
            bpe = try BytePairEncoder(ids: ids, merges: vocabulary.merges,
                                      ignoreMerges: pre == .llama3, unknownID: vocabulary.unknownID)
            spm = nil
        case .sentencePiece:
            bpe = nil
            spm = SentencePieceEncoder(ids: ids, scores: vocabulary.scores, unknownID: vocabulary.unknownID)
        }

        // Decoded bytes of every token.
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(tokens.count)
        var special: [Unicode.Scalar: [(scalars: [Unicode.Scalar], id: Int32, alwaysParsed: Bool)]] = [:]
        for (i, text) in tokens.enumerated() {
            let kind = vocabulary.kind(i)
            switch (vocabulary.algorithm, kind) {
            case (_, .control), (_, .userDefined), (_, .unknown):
                pieces.append(Array(text.utf8))
            case (.bytePairEncoding, _):
                pieces.append(ByteAlphabet.bytes(of: text) ?? Array(text.utf8))
            case (.sentencePiece, .byte):
                pieces.append(Self.byteValue(of: text).map { [$0] } ?? Array(text.utf8))
            case (.sentencePiece, _):
                var unescaped = String.UnicodeScalarView()
                for s in text.unicodeScalars { unescaped.append(s == "\u{2581}" ? " " : s) }
                pieces.append(Array(String(unescaped).utf8))
            }
            if kind == .control || kind == .userDefined || kind == .unknown, let first = text.unicodeScalars.first {
                special[first, default: []].append((Array(text.unicodeScalars), Int32(i), kind == .userDefined))
            }
        }
        for key in special.keys { special[key]?.sort { $0.scalars.count > $1.scalars.count } }
        self.pieceBytes = pieces
        self.specialTokens = special
    }

    // MARK: - Properties

    /// The number of tokens in the vocabulary.
    public var vocabularySize: Int { vocabulary.tokens.count }
    public var bosID: Int32? { vocabulary.bosID }
    public var eosID: Int32? { vocabulary.eosID }

    /// The id of a token given by its exact vocabulary text, if it exists.
    public func id(ofToken text: String) -> Int32? { ids[Array(text.utf8)] }

    /// Whether `id` is a control token (BOS, EOS, `<|im_start|>`, …).
    public func isControl(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocabularySize && vocabulary.kind(Int(id)) == .control
    }

    // MARK: - Encoding

    /// The token ids of `text`.
    /// - Parameters:
    ///   - addSpecial: prepend BOS / append EOS when the vocabulary asks for them.
    ///   - parseSpecial: recognise control tokens such as `<|im_start|>` written in the text.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        var output: [Int32] = []
        if addSpecial, vocabulary.addBOS, let bos = vocabulary.bosID { output.append(bos) }
        let scalars = Array(text.unicodeScalars)
        let fragments = partition(scalars, parseSpecial: parseSpecial)
        if let bpe {
            let classes = scalars.map(ScalarClass.init)
            var words: [Range<Int>] = []
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    words.removeAll(keepingCapacity: true)
                    preTokenizer.split(scalars, classes, range, into: &words)
                    for word in words { encodeWord(scalars[word], bpe, into: &output) }
                }
            }
        } else if let spm {
            // llama.cpp: a space is prefixed to the text at the start and after every special token.
            var previousWasSpecial = true
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    previousWasSpecial = true
                case .text(let range):
                    // Spaces become U+2581 scalar by scalar (String replacement works on grapheme clusters,
                    // and would miss a space that a combining mark attaches to).
                    var escaped = String.UnicodeScalarView()
                    if vocabulary.addSpacePrefix && previousWasSpecial { escaped.append("\u{2581}") }
                    for s in scalars[range] { escaped.append(s == " " ? "\u{2581}" : s) }
                    spm.encode(String(escaped), into: &output)
                    previousWasSpecial = false
                }
            }
        }
        if addSpecial, vocabulary.addEOS, let eos = vocabulary.eosID { output.append(eos) }
        return output
    }

    /// BPE of one word, through the cache.
    private func encodeWord(_ word: ArraySlice<Unicode.Scalar>, _ bpe: BytePairEncoder, into output: inout [Int32]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(word.count)
        for s in word { UTF8.encode(s) { bytes.append($0) } }
        cacheLock.lock()
        let cached = wordCache[bytes]
        cacheLock.unlock()
        if let cached { output.append(contentsOf: cached); return }
        var ids: [Int32] = []
        bpe.encode(bytes, into: &ids)
        output.append(contentsOf: ids)
        cacheLock.lock()
        if wordCache.count > 200_000 { wordCache.removeAll(keepingCapacity: true) }  // bound memory on huge corpora
        wordCache[bytes] = ids
        cacheLock.unlock()
    }

    /// A stretch of text, or a special token found in it.
    private enum Fragment {
        case text(Range<Int>)
        case token(Int32)
    }

    /// Splits the text around special tokens, leftmost-longest first.
    private func partition(_ scalars: [Unicode.Scalar], parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = []
        var textStart = 0
        var i = 0
        scan: while i < scalars.count {
            if let candidates = specialTokens[scalars[i]] {
                for candidate in candidates where parseSpecial || candidate.alwaysParsed {
                    let n = candidate.scalars.count
                    if i + n <= scalars.count, scalars[i..<(i + n)].elementsEqual(candidate.scalars) {
                        if textStart < i { fragments.append(.text(textStart..<i)) }
                        fragments.append(.token(candidate.id))
                        i += n
                        textStart = i
                        continue scan
                    }
                }
            }
            i += 1
        }
        if textStart < scalars.count { fragments.append(.text(textStart..<scalars.count)) }
        return fragments
    }

    // MARK: - Decoding

    /// The text of a token sequence. Special tokens appear as their text; bytes that do not form
    /// valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        // SentencePiece: drop the space the encoder prefixed, at the start and after special tokens.
        var stripSpace = vocabulary.algorithm == .sentencePiece && vocabulary.addSpacePrefix
        for id in ids {
            guard id >= 0, Int(id) < pieceBytes.count else { continue }
            var piece = pieceBytes[Int(id)][...]
            let kind = vocabulary.kind(Int(id))
            if stripSpace, kind != .control, piece.first == 0x20 { piece = piece.dropFirst() }
            if vocabulary.algorithm == .sentencePiece, vocabulary.addSpacePrefix {
                stripSpace = kind == .control
            }
            bytes.append(contentsOf: piece)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// One token's text as it decodes on its own (a partial UTF-8 character becomes U+FFFD).
    public func piece(_ id: Int32) -> String {
        guard id >= 0, Int(id) < pieceBytes.count else { return "" }
        return String(decoding: pieceBytes[Int(id)], as: UTF8.self)
    }

    /// The raw bytes token `id` stands for, for callers that stream UTF-8 across tokens.
    public func pieceBytes(_ id: Int32) -> [UInt8] {
        guard id >= 0, Int(id) < pieceBytes.count else { return [] }
        return pieceBytes[Int(id)]
    }

    /// The byte of a SentencePiece byte token `<0xAB>`.
    private static func byteValue(of token: String) -> UInt8? {
        guard token.hasPrefix("<0x"), token.hasSuffix(">"), token.count == 6 else { return nil }
        return UInt8(token.dropFirst(3).dropLast(), radix: 16)
    }
}
