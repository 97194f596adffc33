import CKernels

// MARK: - Attention row kernels (decode)
//
// One query head against the cached keys and values of its sequence, in the C kernels (SIMD chosen
// at run time); prompts go through BLAS, where many query rows share each key.

/// row[j] = scale · q·k_j for keys j in 0..<count (key j at `keys + j·stride`).
func attentionScoresRow(_ row: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                        stride: Int, count: Int, headDim hd: Int, scale: Float) {
    pk_attention_scores(kernelConfiguration.level, row, q, keys, stride, Int32(count), Int32(hd), scale)
}

/// z[hd] = Σ_j p[j] · v_j for values j in 0..<count (value j at `values + j·stride`).
func attentionValuesRow(_ z: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, values: UnsafePointer<Float>,
                        stride: Int, count: Int, headDim hd: Int) {
    pk_attention_values(kernelConfiguration.level, z, p, values, stride, Int32(count), Int32(hd))
}
