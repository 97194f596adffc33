import Foundation

// MARK: - GPT-2 byte alphabet

/// GPT-2's reversible map from the 256 byte values to printable Unicode scalars: byte-level BPE
/// vocabularies store token text in this alphabet (a space is `Ġ`, a newline `Ċ`).
enum ByteAlphabet {
    /// `scalar[b]` is the character that stands for byte `b`.
    static let scalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The inverse of `scalar`: the byte a character stands for.
    static let byte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in scalar.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    /// The bytes a byte-level token text stands for, or `nil` if it holds a character outside the alphabet.
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard let b = byte[s.value] else { return nil }
            out.append(b)
        }
        return out
    }
}

// MARK: - Byte-level BPE

/// Applies BPE merges to one pre-tokenized word, in the byte alphabet. Merges are applied lowest
/// rank first, leftmost first among equals, as Hugging Face `tokenizers` and llama.cpp do.
struct BytePairEncoder: Sendable {
    /// Merge rank and result id, keyed by the pair of ids `(left << 32) | right`.
    private let mergeTable: [UInt64: (rank: Int32, merged: Int32)]
    /// The token for each single byte.
    private let byteTokens: [Int32?]
    /// Token ids by text, for `ignoreMerges`.
    private let ids: [String: Int32]
    /// Llama 3 looks the whole word up before merging.
    let ignoreMerges: Bool
    private let unknownID: Int32?

    init(tokens: [String], ids: [String: Int32], merges: [String], ignoreMerges: Bool, unknownID: Int32?) throws {
        var byteTokens = [Int32?](repeating: nil, count: 256)
        for b in 0..<256 { byteTokens[b] = ids[String(Character(ByteAlphabet.scalar[b]))] }
        var table: [UInt64: (rank: Int32, merged: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.badValue(key: "tokenizer.ggml.merges", reason: "merge \(rank) '\(merge)' is not two tokens separated by one space")
            }
            // Merges whose parts or result are not tokens can never fire; skip them.
            guard let left = ids[String(parts[0])], let right = ids[String(parts[1])],
                  let merged = ids[String(parts[0]) + String(parts[1])] else { continue }
            let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
            if table[key] == nil { table[key] = (Int32(rank), merged) }
        }
        self.mergeTable = table
        self.byteTokens = byteTokens
        self.ids = ids
        self.ignoreMerges = ignoreMerges
        self.unknownID = unknownID
    }

    /// The token ids of one word given as UTF-8 bytes.
    func encode(_ word: [UInt8], into output: inout [Int32]) {
        if ignoreMerges {
            var text = String.UnicodeScalarView()
            for b in word { text.append(ByteAlphabet.scalar[Int(b)]) }
            if let id = ids[String(text)] { output.append(id); return }
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        for b in word {
            if let id = byteTokens[Int(b)] {
                symbols.append(id)
            } else if let unk = unknownID {
                symbols.append(unk)
            }
        }
        // Repeatedly merge the best-ranked adjacent pair; words are short, so a plain scan is fast.
        while symbols.count > 1 {
            var bestRank = Int32.max
            var bestIndex = -1
            var bestMerged: Int32 = 0
            for i in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(bitPattern: symbols[i])) << 32 | UInt64(UInt32(bitPattern: symbols[i + 1]))
                if let entry = mergeTable[key], entry.rank < bestRank {
                    bestRank = entry.rank
                    bestIndex = i
                    bestMerged = entry.merged
                }
            }
            if bestIndex < 0 { break }
            symbols[bestIndex] = bestMerged
            symbols.remove(at: bestIndex + 1)
        }
        output.append(contentsOf: symbols)
    }
}
