// "Did you mean …?" for unknown verbs and keywords: an unknown word is answered with the nearest
// valid ones (docs/command-language.md, Errors).

/// The candidates nearest to `word` by edit distance (insertions, deletions, substitutions and
/// swaps of neighbours each cost 1; case is ignored), best first, ties in the candidates' order.
///
/// The largest distance accepted grows with the word: 1 for up to 3 letters, 2 for up to 6,
/// 3 beyond, so that "lense" finds "lens" and "layer" finds "layers" while "x" finds nothing
/// far-fetched. A candidate that starts with `word` (3 letters or more) also counts, right after
/// the matches at distance 1: "patchs" finds "patchscope".
public func suggestions(for word: String, among candidates: [String]) -> [String] {
    let needle = Array(word.lowercased().unicodeScalars)
    guard !needle.isEmpty else { return [] }
    let limit = needle.count <= 3 ? 1 : needle.count <= 6 ? 2 : 3
    var scored: [(score: Int, index: Int, candidate: String)] = []
    var seen = Set<String>()
    for (index, candidate) in candidates.enumerated() where !seen.contains(candidate) {
        seen.insert(candidate)
        let hay = Array(candidate.lowercased().unicodeScalars)
        let distance = editDistance(needle, hay)
        if distance <= limit {
            // Rank by distance, scaled so a prefix match (score 3) sits between distance 1 and 2.
            scored.append((distance * 2, index, candidate))
        } else if needle.count >= 3, hay.starts(with: needle) {
            scored.append((3, index, candidate))
        }
    }
    scored.sort { ($0.score, $0.index) < ($1.score, $1.index) }
    return scored.map(\.candidate)
}

/// A sentence naming the nearest candidates, such as "Did you mean `layers`?", or nil when
/// none is near. At most three are named.
public func didYouMean(_ word: String, among candidates: [String]) -> String? {
    let near = suggestions(for: word, among: candidates).prefix(3).map { "`\($0)`" }
    switch near.count {
    case 0: return nil
    case 1: return "Did you mean \(near[0])?"
    default: return "Did you mean \(near.dropLast().joined(separator: ", ")) or \(near[near.count - 1])?"
    }
}

/// Optimal-string-alignment distance: Levenshtein plus the swap of two neighbours ("lnes" → "lens").
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    let width = b.count + 1
    // Three rolling rows: two back (for swaps), previous, current.
    var before = [Int](repeating: 0, count: width)
    var previous = Array(0...b.count)
    var row = [Int](repeating: 0, count: width)
    for i in 1...a.count {
        row[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var best = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                best = min(best, before[j - 2] + 1)
            }
            row[j] = best
        }
        (before, previous, row) = (previous, row, before)
    }
    return previous[b.count]
}
