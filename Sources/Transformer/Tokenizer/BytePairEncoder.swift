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

    /// The inverse of `scalar`, indexed by scalar value (all below U+0144); -1 for characters outside the alphabet.
    static let byte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in scalar.enumerated() where Int(s.value) < table.count { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// The bytes a byte-level token text stands for, or `nil` if it holds a character outside the alphabet.
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard Int(s.value) < byte.count, byte[Int(s.value)] >= 0 else { return nil }
            out.append(UInt8(byte[Int(s.value)]))
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
    private let ids: [[UInt8]: Int32]
    /// Llama 3 looks the whole word up before merging.
    let ignoreMerges: Bool
    private let unknownID: Int32?

    init(ids: [[UInt8]: Int32], merges: [String], ignoreMerges: Bool, unknownID: Int32?) throws {
        var byteTokens = [Int32?](repeating: nil, count: 256)
        for b in 0..<256 { byteTokens[b] = ids[Array(String(Character(ByteAlphabet.scalar[b])).utf8)] }
        var table: [UInt64: (rank: Int32, merged: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            // "left right": split at the one space byte (token texts hold none).
            let bytes = Array(merge.utf8)
            guard let space = bytes.firstIndex(of: 0x20), bytes[(space + 1)...].firstIndex(of: 0x20) == nil else {
                throw TokenizerError.badValue(key: "tokenizer.ggml.merges", reason: "merge \(rank) '\(merge)' is not two tokens separated by one space")
            }
            var joined = bytes
            joined.remove(at: space)
            // Merges whose parts or result are not tokens can never fire; skip them.
            guard let left = ids[Array(bytes[..<space])], let right = ids[Array(bytes[(space + 1)...])],
                  let merged = ids[joined] else { continue }
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
            var text: [UInt8] = []
            text.reserveCapacity(word.count * 2)
            for b in word { UTF8.encode(ByteAlphabet.scalar[Int(b)]) { text.append($0) } }
            if let id = ids[text] { output.append(id); return }
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
        if symbols.count < 2 { output.append(contentsOf: symbols); return }
        mergeAll(&symbols)
        output.append(contentsOf: symbols)
    }

    // MARK: - Merging

    /// A candidate merge of the symbol at `left` with its right neighbour; ordered by rank, then position.
    private struct Candidate: HeapOrdered {
        var rank: Int32
        var left: Int32
        var leftID: Int32
        var rightID: Int32
        var merged: Int32

        @inline(__always)
        func precedes(_ other: Candidate) -> Bool {
            rank < other.rank || (rank == other.rank && left < other.left)
        }
    }

    @inline(__always)
    private func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        mergeTable[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))]
    }

    /// Merges the best-ranked adjacent pair until none is left, leftmost first among equal ranks.
    /// A linked list and a heap keep long words (pasted blobs) linear-logarithmic.
    private func mergeAll(_ symbols: inout [Int32]) {
        let n = symbols.count
        var next = [Int32](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<n { buffer[i] = i + 1 < n ? Int32(i + 1) : -1 }
            count = n
        }
        var prev = [Int32](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<n { buffer[i] = Int32(i - 1) }
            count = n
        }
        var heap: [Candidate] = []
        heap.reserveCapacity(n)
        for i in 0..<(n - 1) {
            if let m = lookup(symbols[i], symbols[i + 1]) {
                heap.heapPush(Candidate(rank: m.rank, left: Int32(i), leftID: symbols[i], rightID: symbols[i + 1], merged: m.merged))
            }
        }
        var alive = [Bool](repeating: true, count: n)
        while let c = heap.heapPop() {
            let l = Int(c.left)
            let r = Int(next[l])
            // Skip candidates made stale by an earlier merge.
            guard alive[l], r >= 0, symbols[l] == c.leftID, symbols[r] == c.rightID else { continue }
            symbols[l] = c.merged
            alive[r] = false
            let after = next[r]
            next[l] = after
            if after >= 0 { prev[Int(after)] = Int32(l) }
            let before = prev[l]
            if before >= 0, let m = lookup(symbols[Int(before)], c.merged) {
                heap.heapPush(Candidate(rank: m.rank, left: before, leftID: symbols[Int(before)], rightID: c.merged, merged: m.merged))
            }
            if after >= 0, let m = lookup(c.merged, symbols[Int(after)]) {
                heap.heapPush(Candidate(rank: m.rank, left: Int32(l), leftID: c.merged, rightID: symbols[Int(after)], merged: m.merged))
            }
        }
        var out = 0
        var i = 0
        while i >= 0 {
            symbols[out] = symbols[i]
            out += 1
            i = Int(next[i])
        }
        symbols.removeLast(n - out)
    }
}
