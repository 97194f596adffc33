import Foundation
import GGUF
import Transformer

// Text through the tokenizers read from real GGUF vocabularies: a byte-level BPE one (SmolLM2)
// and a SentencePiece one with byte fallback (Gemma 3, or the tiny SentencePiece fixture). The
// first input byte picks the tokenizer and the options; the rest is the text. The ids must be in
// the vocabulary and decode, and the input's bytes read as ids (in range or not, as a client
// could send them) must decode too.

nonisolated(unsafe) private var tokenizers: [Tokenizer] = []

/// Reads the vocabularies once, before any input: under the sanitizer that takes seconds, which
/// libFuzzer would otherwise charge to the first input as a hang.
public func loadFuzzTokenizers(paths: [String]) throws {
    tokenizers = try paths.map { try Tokenizer(vocabulary: TokenizerVocabulary(gguf: GGUFFile(path: $0))) }
}

func fuzzTokenizer(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
    precondition(!tokenizers.isEmpty, "loadFuzzTokenizers first")
    guard let options = input.first else { return .refused }
    let tokenizer = tokenizers[Int(options & 1) % tokenizers.count]
    let body = UnsafeBufferPointer(rebasing: input.dropFirst())
    let text = String(decoding: body, as: UTF8.self)
    let ids = tokenizer.encode(text, addSpecial: options & 2 != 0, parseSpecial: options & 4 != 0)
    precondition(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "an id outside the vocabulary")
    let decoded = tokenizer.decode(ids)
    // Byte-level BPE loses nothing: plain text (no special tokens added or parsed) comes back,
    // unless a byte has no token of its own and became the unknown token (SmolLM2 has none for
    // 0x04, 0x06, 0x13, 0x14, 0x16 and 0x1D).
    if tokenizer.vocabulary.algorithm == .bytePairEncoding, options & 6 == 0,
       !ids.contains(where: { $0 == tokenizer.vocabulary.unknownID }) {
        precondition(Array(decoded.utf8) == Array(text.utf8), "BPE text does not decode to itself")
    }
    var raw: [Int32] = []
    var i = 0
    while i + 4 <= body.count {
        raw.append(Int32(bitPattern: UInt32(body[i]) | UInt32(body[i + 1]) << 8 | UInt32(body[i + 2]) << 16 | UInt32(body[i + 3]) << 24))
        i += 4
    }
    _ = tokenizer.decode(raw)
    return .accepted
}
