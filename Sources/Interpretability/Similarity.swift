import Foundation

// MARK: - Cosine similarity

/// Cosine similarity between vectors.
public enum Similarity {
    /// cos(a, b) = a·b / (‖a‖‖b‖), accumulated in Double; throws when lengths differ or a vector is zero.
    public static func cosine(_ a: [Float], _ b: [Float]) throws -> Double {
        guard a.count == b.count else { throw AnalysisError.widthMismatch(expected: a.count, found: b.count) }
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y; na += x * x; nb += y * y
        }
        guard na > 0, nb > 0 else {
            throw AnalysisError.zeroVector
        }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    /// The symmetric matrix of pairwise cosines (1 on the diagonal).
    public static func matrix(_ vectors: [[Float]]) throws -> [[Double]] {
        var m = [[Double]](repeating: [Double](repeating: 0, count: vectors.count), count: vectors.count)
        for i in vectors.indices {
            for j in i..<vectors.count {
                let c = i == j ? 1 : try cosine(vectors[i], vectors[j])
                if i == j { _ = try cosine(vectors[i], vectors[i]) }   // rejects zero vectors on the diagonal too
                m[i][j] = c; m[j][i] = c
            }
        }
        return m
    }
}
