// MARK: - Rows of sequences laid end to end

/// The first buffer row of each sequence when sequences of `counts` rows lie one after another,
/// and the total: `[0, c₀, c₀ + c₁, …]` (`counts.count + 1` entries).
func rowOffsets(_ counts: [Int]) -> [Int] {
    var offsets = [0]
    offsets.reserveCapacity(counts.count + 1)
    for n in counts { offsets.append(offsets[offsets.count - 1] + n) }
    return offsets
}
