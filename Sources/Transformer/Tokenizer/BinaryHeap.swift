/// What a binary heap needs of its elements: which of two comes out first.
protocol HeapOrdered {
    func precedes(_ other: Self) -> Bool
}

// MARK: - Binary heap on an array

/// The priority queue of both merge loops (BPE by merge rank, SentencePiece by score): it keeps
/// long words linear-logarithmic.
extension Array where Element: HeapOrdered {
    mutating func heapPush(_ item: Element) {
        append(item)
        var child = count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self[child].precedes(self[parent]) else { break }
            swapAt(child, parent)
            child = parent
        }
    }

    mutating func heapPop() -> Element? {
        guard let top = first else { return nil }
        let last = removeLast()
        if !isEmpty {
            self[0] = last
            var parent = 0
            while true {
                let l = 2 * parent + 1, r = l + 1
                var best = parent
                if l < count, self[l].precedes(self[best]) { best = l }
                if r < count, self[r].precedes(self[best]) { best = r }
                if best == parent { break }
                swapAt(parent, best)
                parent = best
            }
        }
        return top
    }
}
