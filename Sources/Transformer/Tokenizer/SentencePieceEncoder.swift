// SentencePiece BPE as llama.cpp runs it for `tokenizer.ggml.model = llama`: start from UTF-8
// characters, repeatedly merge the adjacent pair whose merged text is the highest-scoring token,
// then spell any piece that is not a token with byte-fallback tokens `<0xXX>`.

// MARK: - Encoder

struct SentencePieceEncoder: Sendable {
    /// Token ids by exact UTF-8 bytes (Swift `String` keys would merge canonically equivalent tokens such as `é` and `e\u{301}`).
    private let ids: [[UInt8]: Int32]
    private let scores: [Float]
    /// The `<0xXX>` token for each byte.
    private let byteTokens: [Int32?]
    private let unknownID: Int32?

    init(ids: [[UInt8]: Int32], scores: [Float], unknownID: Int32?) {
        self.ids = ids
        self.scores = scores
        var byteTokens = [Int32?](repeating: nil, count: 256)
        for b in 0..<256 {
            let hex = String(b, radix: 16, uppercase: true)
            byteTokens[b] = ids[Array(("<0x" + (hex.count == 1 ? "0" + hex : hex) + ">").utf8)]
        }
        self.byteTokens = byteTokens
        self.unknownID = unknownID
    }

    /// One symbol of the working list: a byte range of the text, linked to its neighbours.
    private struct Symbol {
        var start: Int
        var length: Int
        var prev: Int
        var next: Int
    }

    /// A candidate merge of symbols `left` and `left`'s next.
    private struct Bigram: HeapOrdered {
        var left: Int
        var right: Int
        var score: Float
        var length: Int

        /// Heap order: higher score first, then the leftmost.
        func precedes(_ other: Bigram) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    /// Encodes `text`, already escaped (spaces as `▁`), appending ids to `output`.
    func encode(_ escaped: String, into output: inout [Int32]) {
        let bytes = Array(escaped.utf8)
        guard !bytes.isEmpty else { return }
        // One symbol per UTF-8 character.
        var symbols: [Symbol] = []
        var offset = 0
        while offset < bytes.count {
            let length = min(Self.utf8Length(bytes[offset]), bytes.count - offset)
            symbols.append(Symbol(start: offset, length: length, prev: symbols.count - 1, next: symbols.count + 1))
            offset += length
        }
        symbols[symbols.count - 1].next = -1

        var heap: [Bigram] = []

        func text(_ start: Int, _ length: Int) -> [UInt8] {
            Array(bytes[start..<(start + length)])
        }
        func tryAdd(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let start = symbols[left].start
            let length = symbols[left].length + symbols[right].length
            let piece = text(start, length)
            guard let id = ids[piece] else { return }
            let score = Int(id) < scores.count ? scores[Int(id)] : 0
            heap.heapPush(Bigram(left: left, right: right, score: score, length: length))
        }

        for i in 1..<symbols.count { tryAdd(i - 1, i) }
        while let bigram = heap.heapPop() {
            let left = symbols[bigram.left], right = symbols[bigram.right]
            // Skip bigrams made stale by an earlier merge.
            if left.length == 0 || right.length == 0 || left.length + right.length != bigram.length { continue }
            symbols[bigram.left].length += right.length
            symbols[bigram.right].length = 0
            symbols[bigram.left].next = right.next
            if right.next >= 0 { symbols[right.next].prev = bigram.left }
            tryAdd(symbols[bigram.left].prev, bigram.left)
            tryAdd(bigram.left, symbols[bigram.left].next)
        }

        func resegment(_ start: Int, _ length: Int) {
            let piece = text(start, length)
            if let id = ids[piece] { output.append(id); return }
            // Not a token (merges only ever form tokens, so this is one unknown character): byte fallback.
            for b in bytes[start..<(start + length)] {
                if let id = byteTokens[Int(b)] { output.append(id) } else if let unk = unknownID { output.append(unk) }
            }
        }
        var i = 0
        while i >= 0 && i < symbols.count {
            resegment(symbols[i].start, symbols[i].length)
            i = symbols[i].next
        }
    }

    @inline(__always)
    private static func utf8Length(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }
}
