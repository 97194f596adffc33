// The pre-tokenizers split text into words before BPE. Each is a hand-written scanner that
// behaves exactly like its regular expression (the ones llama.cpp and Hugging Face use), because
// Swift `Regex` on Linux is slow and its Unicode property classes are incomplete.

// MARK: - Scalar classes

/// The four classes the pre-tokenizer regexes distinguish: `\p{L}`, `\p{N}`, `\s`, and the rest.
enum ScalarClass: UInt8 {
    case letter, number, whitespace, other

    /// Classifies one scalar by its Unicode general category and White_Space property.
    init(_ scalar: Unicode.Scalar) {
        let value = scalar.value
        if value < 0x80 {
            // ASCII fast path.
            switch value {
            case 0x41...0x5A, 0x61...0x7A: self = .letter
            case 0x30...0x39: self = .number
            case 0x09...0x0D, 0x20: self = .whitespace
            default: self = .other
            }
            return
        }
        let properties = scalar.properties
        if properties.isWhitespace { self = .whitespace; return }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        default:
            self = .other
        }
    }
}

// MARK: - Pre-tokenizer

/// A word splitter chosen by the GGUF key `tokenizer.ggml.pre`.
enum PreTokenizer: Sendable, Equatable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM: every digit on its own (`\p{N}`), then the GPT-2 expression on the text between.
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3
    /// Qwen2: as Llama 3 but one digit per word (`\p{N}`).
    case qwen2

    /// The splitter for a `tokenizer.ggml.pre` name; names it does not know fall back to GPT-2
    /// (what Hugging Face's byte-level pre-tokenizer does).
    init(name: String) {
        switch name.lowercased() {
        // llama.cpp runs the same two expressions for these vocabularies.
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b": self = .smollm
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "dbrx", "smaug-bpe": self = .llama3
        case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2": self = .qwen2
        default: self = .gpt2
        }
    }

    /// The word ranges of `scalars[range]`, covering it entirely and in order.
    func split(_ scalars: [Unicode.Scalar], _ classes: [ScalarClass], _ range: Range<Int>, into words: inout [Range<Int>]) {
        switch self {
        case .gpt2:
            Self.scanGPT2(scalars, classes, range, &words)
        case .smollm:
            // Digits are isolated first; the GPT-2 expression then runs on each stretch between them.
            var start = range.lowerBound
            for i in range where classes[i] == .number {
                if start < i { Self.scanGPT2(scalars, classes, start..<i, &words) }
                words.append(i..<(i + 1))
                start = i + 1
            }
            if start < range.upperBound { Self.scanGPT2(scalars, classes, start..<range.upperBound, &words) }
        case .llama3:
            Self.scanLlama3(scalars, classes, range, maxDigits: 3, &words)
        case .qwen2:
            Self.scanLlama3(scalars, classes, range, maxDigits: 1, &words)
        }
    }

    // MARK: - GPT-2

    private static func scanGPT2(_ s: [Unicode.Scalar], _ c: [ScalarClass], _ range: Range<Int>, _ words: inout [Range<Int>]) {
        let hi = range.upperBound
        var i = range.lowerBound
        while i < hi {
            let end = matchGPT2(s, c, i, hi)
            words.append(i..<end)
            i = end
        }
    }

    /// The end of the GPT-2 match starting at `i` (alternatives tried in order, first wins).
    private static func matchGPT2(_ s: [Unicode.Scalar], _ c: [ScalarClass], _ i: Int, _ hi: Int) -> Int {
        // 's 't 're 've 'm 'll 'd (case-sensitive)
        if let end = contraction(s, i, hi, ignoringCase: false) { return end }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
        let j = (s[i] == " " && i + 1 < hi) ? i + 1 : i
        let cls = c[j]
        if cls != .whitespace {
            return run(c, from: j + 1, hi, of: cls)
        }
        return whitespace(s, c, i, hi)
    }

    // MARK: - Llama 3 / Qwen2

    private static func scanLlama3(_ s: [Unicode.Scalar], _ c: [ScalarClass], _ range: Range<Int>, maxDigits: Int, _ words: inout [Range<Int>]) {
        let hi = range.upperBound
        var i = range.lowerBound
        while i < hi {
            let end = matchLlama3(s, c, i, hi, maxDigits: maxDigits)
            words.append(i..<end)
            i = end
        }
    }

    private static func matchLlama3(_ s: [Unicode.Scalar], _ c: [ScalarClass], _ i: Int, _ hi: Int, maxDigits: Int) -> Int {
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if let end = contraction(s, i, hi, ignoringCase: true) { return end }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c[i] == .letter { return run(c, from: i + 1, hi, of: .letter) }
        if !isNewline(s[i]), c[i] != .number, i + 1 < hi, c[i + 1] == .letter {
            return run(c, from: i + 2, hi, of: .letter)
        }
        // \p{N}{1,maxDigits}
        if c[i] == .number {
            var end = i + 1
            while end < hi, end - i < maxDigits, c[end] == .number { end += 1 }
            return end
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let j = (s[i] == " " && i + 1 < hi) ? i + 1 : i
        if c[j] == .other {
            var end = run(c, from: j + 1, hi, of: .other)
            while end < hi, isNewline(s[end]) { end += 1 }
            return end
        }
        // \s*[\r\n]+ : the whitespace run up to and including its last line break.
        let wsEnd = run(c, from: i, hi, of: .whitespace)
        var p = wsEnd - 1
        while p >= i {
            if isNewline(s[p]) { return p + 1 }
            p -= 1
        }
        return whitespace(s, c, i, hi)
    }

    // MARK: - Shared pieces

    /// `\s+(?!\S)|\s+` at `i`, where `s[i]` is whitespace.
    private static func whitespace(_ s: [Unicode.Scalar], _ c: [ScalarClass], _ i: Int, _ hi: Int) -> Int {
        let end = run(c, from: i, hi, of: .whitespace)
        // Followed by a non-space: give back the last space so it can lead the next word.
        if end < hi, end - i >= 2 { return end - 1 }
        return end
    }

    /// The end of a run of `cls` beginning at `from`.
    @inline(__always)
    private static func run(_ c: [ScalarClass], from: Int, _ hi: Int, of cls: ScalarClass) -> Int {
        var end = from
        while end < hi, c[end] == cls { end += 1 }
        return end
    }

    @inline(__always)
    private static func isNewline(_ s: Unicode.Scalar) -> Bool { s == "\r" || s == "\n" }

    /// The end of an English contraction suffix at `i`, if one starts there.
    private static func contraction(_ s: [Unicode.Scalar], _ i: Int, _ hi: Int, ignoringCase: Bool) -> Int? {
        guard s[i] == "'", i + 1 < hi else { return nil }
        func lower(_ x: Unicode.Scalar) -> Unicode.Scalar {
            guard ignoringCase, x.value >= 0x41, x.value <= 0x5A, let l = Unicode.Scalar(x.value + 32) else { return x }
            return l
        }
        let a = lower(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
        guard i + 2 < hi else { return nil }
        let b = lower(s[i + 2])
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return i + 3 }
        return nil
    }
}
