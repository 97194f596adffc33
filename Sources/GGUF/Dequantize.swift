// MARK: - Dequantisation entry point

/// Dequantises `count` values of type `type` from raw blocks at `from` into `to`.
///
/// `count` must be a multiple of `type.blockSize` and `from` must hold
/// `count / blockSize * bytesPerBlock` bytes. Block layouts follow llama.cpp's
/// `ggml-common.h`. Unsupported types (see `GGMLType.isSupported`) leave `to` untouched;
/// `GGUFFile.dequantize` checks support first and throws instead.
public func dequantize(_ type: GGMLType, from: UnsafeRawPointer, to: UnsafeMutablePointer<Float>, count: Int) {
    let blocks = count / type.blockSize
    let src = from.assumingMemoryBound(to: UInt8.self)
    switch type {
    case .f32: dequantizeF32(src, to, count)
    case .f16: dequantizeF16(src, to, count)
    case .bf16: dequantizeBF16(src, to, count)
    case .q4_0: dequantizeQ4_0(src, to, blocks)
    case .q4_1: dequantizeQ4_1(src, to, blocks)
    case .q5_0: dequantizeQ5_0(src, to, blocks)
    case .q5_1: dequantizeQ5_1(src, to, blocks)
    case .q8_0: dequantizeQ8_0(src, to, blocks)
    case .q2_K: dequantizeQ2_K(src, to, blocks)
    case .q3_K: dequantizeQ3_K(src, to, blocks)
    case .q4_K: dequantizeQ4_K(src, to, blocks)
    case .q5_K: dequantizeQ5_K(src, to, blocks)
    case .q6_K: dequantizeQ6_K(src, to, blocks)
    default: break
    }
}

// MARK: - Half precision

/// IEEE binary16 bits to `Float`, exactly (subnormals, infinities and NaNs included).
///
/// Normal values are the bits with the exponent rebased (15 → 127); subnormals are their 10-bit
/// mantissa × 2⁻²⁴, an exact product of normal floats. No subnormal float ever reaches the FPU: an
/// Intel core takes a microcode assist of ~150 cycles for each, and nearly every Q6_K block scale
/// is a binary16 subnormal. Selects, not branches, so loops vectorise.
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
    let bits = UInt32(h & 0x7FFF) << 13, exponent = h & 0x7C00
    let tiny = (Float(h & 0x3FF) * 0x1p-24).bitPattern
    let magnitude = exponent == 0x7C00 ? (bits | 0x7F80_0000) : exponent == 0 ? tiny : bits &+ (112 << 23)
    return Float(bitPattern: magnitude | (UInt32(h & 0x8000) << 16))
}

/// bfloat16 bits to `Float` (the top half of a binary32).
@inline(__always)
public func bfloat16ToFloat(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
}

/// Little-endian u16 at `p + offset`.
@inline(__always)
private func u16(_ p: UnsafePointer<UInt8>, _ offset: Int) -> UInt16 {
    UInt16(p[offset]) | (UInt16(p[offset + 1]) << 8)
}

/// Little-endian binary16 at `p + offset`, as `Float`.
@inline(__always)
private func half(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Float {
    halfToFloat(u16(p, offset))
}

// MARK: - Plain types

private func dequantizeF32(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
}

private func dequantizeF16(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { dst[i] = halfToFloat(u16(src, 2 * i)) }
}

private func dequantizeBF16(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { dst[i] = bfloat16ToFloat(u16(src, 2 * i)) }
}

// MARK: - 32-value blocks

/// Q4_0: f16 d, 16 bytes of nibbles; value = d × (q − 8). Low nibbles are values 0–15, high 16–31.
private func dequantizeQ4_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 18
        let d = half(block, 0)
        let qs = block + 2
        let y = dst + b * 32
        for j in 0..<16 {
            y[j] = Float(Int32(qs[j] & 0x0F) - 8) * d
            y[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
        }
    }
}

/// Q4_1: f16 d, f16 m, 16 bytes of nibbles; value = d × q + m.
private func dequantizeQ4_1(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 20
        let d = half(block, 0)
        let m = half(block, 2)
        let qs = block + 4
        let y = dst + b * 32
        for j in 0..<16 {
            y[j] = d * Float(qs[j] & 0x0F) + m
            y[j + 16] = d * Float(qs[j] >> 4) + m
        }
    }
}

/// Q5_0: f16 d, u32 of fifth bits, 16 bytes of nibbles; value = d × (q − 16).
private func dequantizeQ5_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 22
        let d = half(block, 0)
        let qh = UInt32(u16(block, 2)) | (UInt32(u16(block, 4)) << 16)
        let qs = block + 6
        let y = dst + b * 32
        for j in 0..<16 {
            let lo = Int32(qs[j] & 0x0F) | Int32((qh >> UInt32(j)) & 1) << 4
            let hi = Int32(qs[j] >> 4) | Int32((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(lo - 16)
            y[j + 16] = d * Float(hi - 16)
        }
    }
}

/// Q5_1: f16 d, f16 m, u32 of fifth bits, 16 bytes of nibbles; value = d × q + m.
private func dequantizeQ5_1(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 24
        let d = half(block, 0)
        let m = half(block, 2)
        let qh = UInt32(u16(block, 4)) | (UInt32(u16(block, 6)) << 16)
        let qs = block + 8
        let y = dst + b * 32
        for j in 0..<16 {
            let lo = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
            let hi = UInt32(qs[j] >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(lo) + m
            y[j + 16] = d * Float(hi) + m
        }
    }
}

/// Q8_0: f16 d, 32 signed bytes; value = q × d.
private func dequantizeQ8_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 34
        let d = half(block, 0)
        let qs = block + 2
        let y = dst + b * 32
        for j in 0..<32 {
            y[j] = Float(Int8(bitPattern: qs[j])) * d
        }
    }
}
