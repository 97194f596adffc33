import Foundation
import GGUF
import Transformer

// libFuzzer target: text through the two tokenizers read from real GGUF vocabularies, a
// byte-level BPE one (SmolLM2) and a SentencePiece one with byte fallback (Gemma 3, or the tiny
// SentencePiece fixture), named by PERISCOPE_FUZZ_BPE and PERISCOPE_FUZZ_SPM. The first input
// byte picks the tokenizer and the options; the rest is the text. The ids must decode, and the
// input's bytes as ids must decode too.

private func tokenizer(_ variable: String) -> Tokenizer? {
    guard let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty else { return nil }
    do {
        return try Tokenizer(vocabulary: TokenizerVocabulary(gguf: GGUFFile(path: path)))
    } catch {
        FileHandle.standardError.write(Data("\(variable)=\(path): \(error)\n".utf8))
        exit(2)
    }
}

nonisolated(unsafe) private let tokenizers: [Tokenizer] = {
    let found = [tokenizer("PERISCOPE_FUZZ_BPE"), tokenizer("PERISCOPE_FUZZ_SPM")].compactMap { $0 }
    if found.isEmpty {
        FileHandle.standardError.write(Data("set PERISCOPE_FUZZ_BPE and/or PERISCOPE_FUZZ_SPM to GGUF files\n".utf8))
        exit(2)
    }
    return found
}()

/// Reads both vocabularies before fuzzing starts: under the sanitizer that takes seconds, which
/// libFuzzer would otherwise charge to the first input as a hang.
func loadFuzzTokenizers() { _ = tokenizers.count }

func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    guard count > 0 else { return 0 }
    let options = start[0]
    let tokenizer = tokenizers[Int(options & 1) % tokenizers.count]
    let body = UnsafeBufferPointer(start: start + 1, count: count - 1)
    let text = String(decoding: body, as: UTF8.self)
    let ids = tokenizer.encode(text, addSpecial: options & 2 != 0, parseSpecial: options & 4 != 0)
    _ = tokenizer.decode(ids)
    // Arbitrary ids, in range and out of it, as a client could send them.
    var raw: [Int32] = []
    var i = 0
    while i + 4 <= body.count {
        raw.append(Int32(bitPattern: UInt32(body[i]) | UInt32(body[i + 1]) << 8 | UInt32(body[i + 2]) << 16 | UInt32(body[i + 3]) << 24))
        i += 4
    }
    _ = tokenizer.decode(raw)
    return 0
}
