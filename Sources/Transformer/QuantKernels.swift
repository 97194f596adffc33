import Foundation
import GGUF
#if PERISCOPE_AVX2 && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

// MARK: - Quantised matrix–vector kernels
//
// Decode runs one token at a time, so every weight is read once per token: reading the 4-bit blocks
// moves ~6× fewer bytes than an F32 copy. The activations stay F32 (no activation quantisation as
// llama.cpp does), so these products agree with the F32 path to ~1e-6.
//
// With AVX2 the products read `InterleavedBlocks` (the same bytes repacked at load, 8 rows per
// vector, see below); the kernels on the GGUF blocks as mapped serve other builds and ranges that do
// not fall on whole groups of 8 rows.

/// F16 bit pattern → F32, by table: a libcall per block scale would dominate the kernels on CPUs
/// where Swift does not emit F16C instructions.
nonisolated(unsafe) let halfToFloatTable: UnsafeMutablePointer<Float> = {
    let table = UnsafeMutablePointer<Float>.allocate(capacity: 65_536)
    for bits in 0..<65_536 { table[bits] = Float(Float16(bitPattern: UInt16(bits))) }
    return table
}()

// Integer→float conversions of SIMD vectors are generic in the standard library and compile to
// scalar loops, so the kernels avoid them: bytes are split out of 32-bit lanes with shifts and
// masks, and turned into floats with the 2²³ trick (bits 0x4B00_0000 | v is the float 2²³ + v).
// Splitting 16 bytes held as 4 words by uniform shifts, slot j holds byte 4·(j % 4) + j / 4, so the activations are
// permuted the same way once per product (`permuteForKernels`).

/// Unsigned lanes (< 2²³) to floats.
@inline(__always)
func toFloat(_ v: SIMD4<UInt32>) -> SIMD4<Float> {
    unsafeBitCast(v | SIMD4<UInt32>(repeating: 0x4B00_0000), to: SIMD4<Float>.self) - SIMD4<Float>(repeating: 8_388_608)
}

/// Unsigned lanes (< 2²³) to floats, eight at a time.
@inline(__always)
func toFloat(_ v: SIMD8<UInt32>) -> SIMD8<Float> {
    unsafeBitCast(v | SIMD8<UInt32>(repeating: 0x4B00_0000), to: SIMD8<Float>.self) - SIMD8<Float>(repeating: 8_388_608)
}

/// The eight unsigned bytes at `p` as 32-bit lanes (one vpmovzxbd with AVX2).
@inline(__always)
func widenBytes(_ p: UnsafeRawPointer) -> SIMD8<UInt32> {
    #if PERISCOPE_AVX2 && canImport(_Builtin_intrinsics.intel)
    unsafeBitCast(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p.assumingMemoryBound(to: __m128i.self))), to: SIMD8<UInt32>.self)
    #else
    SIMD8<UInt32>(truncatingIfNeeded: p.loadUnaligned(as: SIMD8<UInt8>.self))
    #endif
}

/// The eight signed bytes at `p` as floats, exactly.
@inline(__always)
func signedBytesToFloat(_ p: UnsafeRawPointer) -> SIMD8<Float> {
    #if PERISCOPE_AVX2 && canImport(_Builtin_intrinsics.intel)
    unsafeBitCast(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p.assumingMemoryBound(to: __m128i.self)))),
                  to: SIMD8<Float>.self)
    #else
    // Flipping the sign bit maps q to q + 128 as an unsigned byte.
    toFloat(widenBytes(p) ^ SIMD8<UInt32>(repeating: 0x80)) - SIMD8<Float>(repeating: 128)
    #endif
}

/// x[count] reordered so that within each 16-float group, slot j holds element 4·(j % 4) + j / 4.
func permuteForKernels(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    var g = 0
    while g + 16 <= count {
        for j in 0..<16 { out[g + j] = x[g + 4 * (j % 4) + j / 4] }
        g += 16
    }
    while g < count { out[g] = x[g]; g += 1 }
}

// Two builds of the same kernels: 8-lane when the package is compiled for AVX2 (Package.swift
// defines PERISCOPE_AVX2 with `-target-cpu haswell` on x86-64), 4-lane otherwise — the default
// x86-64 target is SSE2, where 8-lane vectors and widening conversions are emulated and slower.
#if PERISCOPE_AVX2
// With AVX2 (x86-64 built with `-target-cpu haswell`, see Package.swift) LLVM lowers the generic
// SIMD integer→float conversions to vpmovzxbd/vpmovsxbd + vcvtdq2ps, so the kernels read the
// activations in their natural order and unpack 8 weights per instruction pair.

/// Whether the kernels read the activations permuted (`permuteForKernels`) or as given.
let kernelsUsePermutedInput = false

/// Σ q·x over one Q4_1 block without the scale: 32 nibbles (low nibbles are elements 0..15, high
/// nibbles 16..31) times x[32], as 8 partial sums.
@inline(__always)
func q4Block(_ b: UnsafeRawPointer, _ xb: UnsafeRawPointer) -> SIMD8<Float> {
    // Bytes 0–7 and 8–15 widened straight from memory (vpmovzxbd), then split into nibbles in
    // 32-bit lanes: fewer shuffles than splitting the 16 bytes first and widening each half.
    let a = SIMD8<Int32>(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt8>.self))
    let c = SIMD8<Int32>(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 12, as: SIMD8<UInt8>.self))
    let nibble = SIMD8<Int32>(repeating: 0xF)
    let f0 = SIMD8<Float>(a & nibble), f1 = SIMD8<Float>(c & nibble)
    let f2 = SIMD8<Float>(a &>> 4), f3 = SIMD8<Float>(c &>> 4)
    var t = f0 * xb.loadUnaligned(as: SIMD8<Float>.self)
    t = t.addingProduct(f1, xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
    t = t.addingProduct(f2, xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
    return t.addingProduct(f3, xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
}

/// Σ q·x over one Q4_1 row: blocks of {f16 d, f16 m, 16 bytes of nibbles}, value = d·q + m,
/// so Σ(d·q + m)·x = d·Σq·x + m·Σx with `xSums[j]` = Σx over block j.
@inline(__always)
func dotQ4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>,
             blocks: Int, _ half: UnsafePointer<Float>) -> Float {
    var acc = SIMD8<Float>()
    var accMin: Float = 0
    let xr = UnsafeRawPointer(x)
    for j in 0..<blocks {
        let b = row + j &* 20
        let d = half[Int(b.loadUnaligned(as: UInt16.self))]
        let m = half[Int(b.loadUnaligned(fromByteOffset: 2, as: UInt16.self))]
        acc = acc.addingProduct(SIMD8(repeating: d), q4Block(b, xr + j &* 128))
        accMin += m * xSums[j]
    }
    return acc.sum() + accMin
}

/// Four Q4_1 rows `stride` bytes apart against the same x (four weight streams in flight).
@inline(__always)
func dotQ4_1x4(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>,
               blocks: Int, _ half: UnsafePointer<Float>) -> (Float, Float, Float, Float) {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var min0: Float = 0, min1: Float = 0, min2: Float = 0, min3: Float = 0
    let xr = UnsafeRawPointer(x)
    let r1 = row + stride, r2 = r1 + stride, r3 = r2 + stride
    for j in 0..<blocks {
        let o = j &* 20
        let b0 = row + o, b1 = r1 + o, b2 = r2 + o, b3 = r3 + o
        let xb = xr + j &* 128
        let s = xSums[j]
        acc0 = acc0.addingProduct(SIMD8(repeating: half[Int(b0.loadUnaligned(as: UInt16.self))]), q4Block(b0, xb))
        acc1 = acc1.addingProduct(SIMD8(repeating: half[Int(b1.loadUnaligned(as: UInt16.self))]), q4Block(b1, xb))
        acc2 = acc2.addingProduct(SIMD8(repeating: half[Int(b2.loadUnaligned(as: UInt16.self))]), q4Block(b2, xb))
        acc3 = acc3.addingProduct(SIMD8(repeating: half[Int(b3.loadUnaligned(as: UInt16.self))]), q4Block(b3, xb))
        min0 += half[Int(b0.loadUnaligned(fromByteOffset: 2, as: UInt16.self))] * s
        min1 += half[Int(b1.loadUnaligned(fromByteOffset: 2, as: UInt16.self))] * s
        min2 += half[Int(b2.loadUnaligned(fromByteOffset: 2, as: UInt16.self))] * s
        min3 += half[Int(b3.loadUnaligned(fromByteOffset: 2, as: UInt16.self))] * s
    }
    return (acc0.sum() + min0, acc1.sum() + min1, acc2.sum() + min2, acc3.sum() + min3)
}

/// Four Q8_0 rows `stride` bytes apart against the same x.
@inline(__always)
func dotQ8_0x4(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, blocks: Int,
               _ half: UnsafePointer<Float>) -> (Float, Float, Float, Float) {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    let r1 = row + stride, r2 = r1 + stride, r3 = r2 + stride
    for j in 0..<blocks {
        let o = j &* 34
        let b0 = row + o, b1 = r1 + o, b2 = r2 + o, b3 = r3 + o
        let xb = xr + j &* 128
        acc0 = acc0.addingProduct(SIMD8(repeating: half[Int(b0.loadUnaligned(as: UInt16.self))]), q8Block(b0, xb))
        acc1 = acc1.addingProduct(SIMD8(repeating: half[Int(b1.loadUnaligned(as: UInt16.self))]), q8Block(b1, xb))
        acc2 = acc2.addingProduct(SIMD8(repeating: half[Int(b2.loadUnaligned(as: UInt16.self))]), q8Block(b2, xb))
        acc3 = acc3.addingProduct(SIMD8(repeating: half[Int(b3.loadUnaligned(as: UInt16.self))]), q8Block(b3, xb))
    }
    return (acc0.sum(), acc1.sum(), acc2.sum(), acc3.sum())
}

/// Σ q·x over one Q8_0 block without the scale: 32 signed bytes times x[32], as 8 partial sums.
@inline(__always)
func q8Block(_ b: UnsafeRawPointer, _ xb: UnsafeRawPointer) -> SIMD8<Float> {
    @inline(__always) func q(_ k: Int) -> SIMD8<Float> {
        SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 2 &+ 8 &* k, as: SIMD8<Int8>.self)))
    }
    var t = q(0) * xb.loadUnaligned(as: SIMD8<Float>.self)
    t = t.addingProduct(q(1), xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
    t = t.addingProduct(q(2), xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
    return t.addingProduct(q(3), xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
}

/// Σ q·x over one Q8_0 row: blocks of {f16 d, 32 × int8}, value = d·q.
@inline(__always)
func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int, _ half: UnsafePointer<Float>) -> Float {
    var acc = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    for j in 0..<blocks {
        let b = row + j &* 34
        acc = acc.addingProduct(SIMD8(repeating: half[Int(b.loadUnaligned(as: UInt16.self))]), q8Block(b, xr + j &* 128))
    }
    return acc.sum()
}

#else
/// Whether the kernels read the activations permuted (`permuteForKernels`) or as given.
let kernelsUsePermutedInput = true

/// Σ over one group of 16 unsigned bytes (held as 4 words) of f(byte)·x, where f maps a byte
/// (already masked and offset by the caller's `transform`) to a float, and x is permuted.
@inline(__always)
func dot16(_ w: SIMD4<UInt32>, _ x: UnsafeRawPointer, _ transform: (SIMD4<UInt32>) -> SIMD4<Float>) -> SIMD4<Float> {
    var t = transform(w) * x.loadUnaligned(as: SIMD4<Float>.self)
    t += transform(w &>> 8) * x.loadUnaligned(fromByteOffset: 16, as: SIMD4<Float>.self)
    t += transform(w &>> 16) * x.loadUnaligned(fromByteOffset: 32, as: SIMD4<Float>.self)
    t += transform(w &>> 24) * x.loadUnaligned(fromByteOffset: 48, as: SIMD4<Float>.self)
    return t
}

/// Σ q·x over one Q4_1 row: blocks of {f16 d, f16 m, 16 bytes of nibbles}, value = d·q + m,
/// low nibbles are elements 0..15 of the block and high nibbles 16..31. `x` is permuted
/// (`permuteForKernels`); `xSums[j]` is Σ x over block j.
///
/// Each nibble is masked in place and shifted into the top of a float's mantissa with exponent 0,
/// giving f = 1 + q/16 in three integer ops. Then Σ(d·q + m)·x = 16d·Σf·x + (m − 16d)·Σx.
@inline(__always)
func dotQ4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>,
             blocks: Int, _ half: UnsafePointer<Float>) -> Float {
    var acc = SIMD4<Float>()
    var accMin: Float = 0
    let xr = UnsafeRawPointer(x)
    let one = SIMD4<UInt32>(repeating: 0x3F80_0000)
    @inline(__always) func f(_ v: SIMD4<UInt32>) -> SIMD4<Float> { unsafeBitCast(v | one, to: SIMD4<Float>.self) }
    @inline(__always) func xs(_ p: UnsafeRawPointer, _ k: Int) -> SIMD4<Float> { p.loadUnaligned(fromByteOffset: 16 &* k, as: SIMD4<Float>.self) }
    for j in 0..<blocks {
        let b = row + j &* 20
        let d16 = 16 * half[Int(b.loadUnaligned(as: UInt16.self))]
        let m = half[Int(b.loadUnaligned(fromByteOffset: 2, as: UInt16.self))]
        let w = b.loadUnaligned(fromByteOffset: 4, as: SIMD4<UInt32>.self)
        let xb = xr + j &* 128
        // Low nibble of byte k sits at bits 8k...8k+3, high nibble at 8k+4...8k+7; move each to bits 19...22.
        var t = f((w & SIMD4(repeating: 0x0000_000F)) &<< 19) * xs(xb, 0)
        t += f((w & SIMD4(repeating: 0x0000_0F00)) &<< 11) * xs(xb, 1)
        t += f((w & SIMD4(repeating: 0x000F_0000)) &<< 3) * xs(xb, 2)
        t += f((w & SIMD4(repeating: 0x0F00_0000)) &>> 5) * xs(xb, 3)
        t += f((w & SIMD4(repeating: 0x0000_00F0)) &<< 15) * xs(xb, 4)
        t += f((w & SIMD4(repeating: 0x0000_F000)) &<< 7) * xs(xb, 5)
        t += f((w & SIMD4(repeating: 0x00F0_0000)) &>> 1) * xs(xb, 6)
        t += f((w & SIMD4(repeating: 0xF000_0000)) &>> 9) * xs(xb, 7)
        acc += d16 * t
        accMin += (m - d16) * xSums[j]
    }
    return acc.sum() + accMin
}

/// Σ q·x over one Q8_0 row: blocks of {f16 d, 32 × int8}, value = d·q. `x` is permuted.
@inline(__always)
func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int, _ half: UnsafePointer<Float>) -> Float {
    var acc = SIMD4<Float>()
    let xr = UnsafeRawPointer(x)
    // int8 q ↦ q + 128 as an unsigned byte (flip the sign bit), converted, then 128 taken off.
    // (2²³ + 128 subtracted at once: the 2²³ trick and the offset in one step.)
    let byte = SIMD4<UInt32>(repeating: 0xFF), signFlip = SIMD4<UInt32>(repeating: 0x4B00_0080)
    let offset = SIMD4<Float>(repeating: 8_388_736)
    for j in 0..<blocks {
        let b = row + j &* 34
        let d = half[Int(b.loadUnaligned(as: UInt16.self))]
        let xb = xr + j &* 128
        let convert = { (v: SIMD4<UInt32>) in unsafeBitCast((v & byte) ^ signFlip, to: SIMD4<Float>.self) - offset }
        let t = dot16(b.loadUnaligned(fromByteOffset: 2, as: SIMD4<UInt32>.self), xb, convert)
            + dot16(b.loadUnaligned(fromByteOffset: 18, as: SIMD4<UInt32>.self), xb + 64, convert)
        acc += d * t
    }
    return acc.sum()
}

#endif

// MARK: - Row-interleaved blocks (decode with AVX2)
//
// At load, Q4_1 and Q8_0 matrices are also repacked so that one 8-lane vector holds the same
// weight of 8 consecutive rows (`InterleavedBlocks`). A product then broadcasts each activation
// once for 8 rows (16 for Q4_1, which takes two groups at a time), applies a block's 8 scales with
// one FMA, needs no horizontal sums, and writes 8 outputs with one store: ~3 vector operations per
// 8 multiply–adds instead of ~5.

/// Rows per interleaved group (the lanes of one vector).
let interleavedGroupRows = 8

/// Rows whose blocks a Q4_1 product reads together: two groups, their blocks alternating in memory
/// (one stream), so each activation broadcast serves 16 rows.
let interleavedQ4_1Rows = 16

/// Whether matrices are repacked into `InterleavedBlocks` at load: only where 8-lane integer→float
/// conversions are single instructions (AVX2), elsewhere they would be emulated.
#if PERISCOPE_AVX2
let kernelsUseInterleavedBlocks = true
#else
let kernelsUseInterleavedBlocks = false
#endif

/// A Q4_1 or Q8_0 matrix repacked in groups of 8 rows, each group's 32-column blocks in order.
///
/// Q4_1 block of a group (160 bytes, as many as the 8 rows' GGUF blocks): 8 × f16 scales d,
/// 8 × f16 minimums m, then four 32-byte vectors; vector k holds 32-bit word k (bytes 4k..4k+3) of
/// each row's 16 nibble bytes, row r in lane r. Nibble s (bits 4s..4s+3) of word k is element
/// 4k + s/2 for even s and 16 + 4k + (s−1)/2 for odd s (the GGUF order: low nibbles first).
/// Groups go in pairs (`interleavedQ4_1Rows`): block j of groups 2p and 2p + 1 side by side, so a
/// group's blocks are `blockStride` = 320 bytes apart.
/// Q8_0 block of a group (272 bytes): 8 × f16 scales, then 32 × 8 bytes, element e of row r at 8e + r.
struct InterleavedBlocks {
    let base: UnsafeMutableRawPointer
    /// Bytes of one group's block of 32 columns.
    let blockBytes: Int
    /// Bytes from one of a group's blocks to its next (2 × blockBytes for paired Q4_1 groups).
    let blockStride: Int
    /// Bytes of one group (all its blocks).
    let groupBytes: Int
    /// Rows a product must take together: 16 for Q4_1 (group pairs), 8 for Q8_0.
    let rowsTogether: Int

    /// Whether a matrix of `type` and this shape can be repacked.
    static func supports(_ type: GGMLType, rows: Int, cols: Int) -> Bool {
        cols % 32 == 0 && (type == .q4_1 && rows % interleavedQ4_1Rows == 0 || type == .q8_0 && rows % interleavedGroupRows == 0)
    }

    /// Repacks `rows` rows of `bytesPerRow` bytes of GGUF blocks at `source` (`supports` holds).
    init(type: GGMLType, source: UnsafeRawPointer, rows: Int, cols: Int, bytesPerRow: Int) {
        let blocks = cols / 32
        blockBytes = type == .q4_1 ? 160 : 272
        blockStride = type == .q4_1 ? 2 * blockBytes : blockBytes
        rowsTogether = type == .q4_1 ? interleavedQ4_1Rows : interleavedGroupRows
        groupBytes = blocks * blockBytes
        let groups = rows / interleavedGroupRows
        let total = groups * groupBytes
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(total, 64), alignment: 64)
        self.base = base
        let blockBytes = blockBytes, groupBytes = groupBytes, blockStride = blockStride
        let chunks = max(1, min(groups, ProcessInfo.processInfo.activeProcessorCount * 4))
        let perChunk = (groups + chunks - 1) / chunks
        parallelFor(chunks) { c in
            for g in (c * perChunk)..<min(groups, (c + 1) * perChunk) {
                for j in 0..<blocks {
                    let out = InterleavedBlocks.start(of: g, base: base, groupBytes: groupBytes, blockBytes: blockBytes, blockStride: blockStride)
                        + j * blockStride
                    for r in 0..<interleavedGroupRows {
                        let src = source + (g * interleavedGroupRows + r) * bytesPerRow
                        // Plain loads and stores: a copyMemory call per byte made this most of the load time.
                        if type == .q4_1 {
                            let b = src + j * 20
                            out.storeBytes(of: b.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                            out.storeBytes(of: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self), toByteOffset: 16 + 2 * r, as: UInt16.self)
                            for k in 0..<4 {
                                out.storeBytes(of: b.loadUnaligned(fromByteOffset: 4 + 4 * k, as: UInt32.self),
                                               toByteOffset: 32 + 32 * k + 4 * r, as: UInt32.self)
                            }
                        } else {
                            let b = src + j * 34
                            out.storeBytes(of: b.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                            for e in 0..<32 {
                                out.storeBytes(of: b.load(fromByteOffset: 2 + e, as: UInt8.self), toByteOffset: 16 + 8 * e + r, as: UInt8.self)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Where block 0 of group g starts (paired Q4_1 groups share their pair's span).
    @inline(__always)
    func start(ofGroup g: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(InterleavedBlocks.start(of: g, base: base, groupBytes: groupBytes, blockBytes: blockBytes, blockStride: blockStride))
    }

    @inline(__always)
    private static func start(of g: Int, base: UnsafeMutableRawPointer, groupBytes: Int, blockBytes: Int,
                              blockStride: Int) -> UnsafeMutableRawPointer {
        if blockStride == blockBytes { return base + g &* groupBytes }
        let offset: Int = (g / 2) &* (2 &* groupBytes) &+ (g % 2) &* blockBytes
        return base + offset
    }

    func deallocate() { base.deallocate() }
}

/// Activations in the order the interleaved Q4_1 kernel reads them: for block j, word k, nibble s,
/// x[element(k, s)] · 2^(−4s) (s < 7), because the kernel converts nibble s masked in place, i.e.
/// q · 2^(4s); the power-of-two scalings are exact, so each product is exactly q · x.
func scaleForInterleavedQ4_1(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    // 2^(−4s) for s < 7; the top nibble is shifted down instead.
    let scales: SIMD8<Float> = [1, 0x1p-4, 0x1p-8, 0x1p-12, 0x1p-16, 0x1p-20, 0x1p-24, 1]
    for j in 0..<(count / 32) {
        let xb = x + 32 &* j
        for k in 0..<4 {
            // Nibble s of word k: element 4k + s/2 (low nibbles, even s) or 16 + 4k + (s − 1)/2 (odd s).
            let lo = xb + 4 &* k, hi = xb + (16 &+ 4 &* k)
            let v = SIMD8<Float>(lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], lo[3], hi[3]) * scales
            UnsafeMutableRawPointer(out + (32 &* j &+ 8 &* k)).storeBytes(of: v, as: SIMD8<Float>.self)
        }
    }
}

#if PERISCOPE_AVX2 && canImport(_Builtin_intrinsics.intel)
// Written with intrinsics: from the equivalent generic SIMD code LLVM built the broadcasts by
// shuffles, kept the accumulators in memory across blocks and spilled.

/// Σ over the 16 rows of a pair of Q4_1 groups (block j of the second 160 bytes after the
/// first's): out[r] = Σ_j d_jr · Σ q·x + m_jr · Σx_j, `xs` in `scaleForInterleavedQ4_1`'s order,
/// `xSums[j]` = Σ x over block j. Each activation broadcast serves 16 rows, and the two groups' FMA
/// chains are independent, so the core overlaps them (one group at a time leaves it waiting on
/// each chain; two separate activation streams compete for the load ports).
@inline(__always)
func dotQ4_1GroupPair(_ g: UnsafeRawPointer, _ xs: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>,
                      blocks: Int) -> (SIMD8<Float>, SIMD8<Float>) {
    var accA = _mm256_setzero_ps(), accB = _mm256_setzero_ps()
    var minA = _mm256_setzero_ps(), minB = _mm256_setzero_ps()
    for j in 0..<blocks {
        let a = g + j &* 320, b = a + 160, xb = xs + j &* 32
        var tA = _mm256_setzero_ps(), tB = _mm256_setzero_ps()
        for k in 0..<4 {
            let (u, v) = q4WordPair(a + (32 &+ 32 &* k), b + (32 &+ 32 &* k), xb + 8 &* k)
            tA = _mm256_add_ps(tA, u); tB = _mm256_add_ps(tB, v)
        }
        let s = _mm256_broadcast_ss(xSums + j)
        accA = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(a.assumingMemoryBound(to: __m128i.self))), tA, accA)
        accB = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(b.assumingMemoryBound(to: __m128i.self))), tB, accB)
        minA = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((a + 16).assumingMemoryBound(to: __m128i.self))), s, minA)
        minB = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((b + 16).assumingMemoryBound(to: __m128i.self))), s, minB)
    }
    return (_mm256_add_ps(accA, minA), _mm256_add_ps(accB, minB))
}

/// Σ over the 8 nibbles of word k of each lane (row) of both groups of a pair, times their
/// activations x[8] (pre-scaled by 2^(−4s), see `scaleForInterleavedQ4_1`).
@inline(__always)
func q4WordPair(_ p: UnsafeRawPointer, _ r: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> (__m256, __m256) {
    let w = _mm256_loadu_si256(p.assumingMemoryBound(to: __m256i.self))
    let v = _mm256_loadu_si256(r.assumingMemoryBound(to: __m256i.self))
    var a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0
    @inline(__always) func step(_ mask: Int32, _ s: Int, _ a: inout __m256, _ b: inout __m256) {
        let m = _mm256_set1_epi32(mask), xv = _mm256_broadcast_ss(x + s)
        a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(w, m)), xv, a)
        b = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v, m)), xv, b)
    }
    step(0xF, 0, &a0, &b0)
    step(0xF0, 1, &a1, &b1)
    step(0xF00, 2, &a0, &b0)
    step(0xF000, 3, &a1, &b1)
    step(0xF_0000, 4, &a0, &b0)
    step(0xF0_0000, 5, &a1, &b1)
    step(0xF00_0000, 6, &a0, &b0)
    // The top nibble shifted down: masked in place it would read as a negative int32.
    let x7 = _mm256_broadcast_ss(x + 7)
    a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 28)), x7, a1)
    b1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v, 28)), x7, b1)
    return (_mm256_add_ps(a0, a1), _mm256_add_ps(b0, b1))
}

/// Σ over 8 rows of a Q8_0 group: out[r] = Σ_j d_jr · Σ q·x, x in natural order.
@inline(__always)
func dotQ8_0Group(_ g: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> SIMD8<Float> {
    var acc = _mm256_setzero_ps()
    for j in 0..<blocks {
        let b = g + j &* 272, xb = x + j &* 32
        @inline(__always) func q(_ e: Int) -> __m256 {
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((b + (16 &+ 8 &* e)).assumingMemoryBound(to: __m128i.self))))
        }
        var t0 = _mm256_mul_ps(q(0), _mm256_broadcast_ss(xb))
        var t1 = _mm256_mul_ps(q(1), _mm256_broadcast_ss(xb + 1))
        var t2 = _mm256_mul_ps(q(2), _mm256_broadcast_ss(xb + 2))
        var t3 = _mm256_mul_ps(q(3), _mm256_broadcast_ss(xb + 3))
        var e = 4
        while e < 32 {
            t0 = _mm256_fmadd_ps(q(e), _mm256_broadcast_ss(xb + e), t0)
            t1 = _mm256_fmadd_ps(q(e &+ 1), _mm256_broadcast_ss(xb + (e &+ 1)), t1)
            t2 = _mm256_fmadd_ps(q(e &+ 2), _mm256_broadcast_ss(xb + (e &+ 2)), t2)
            t3 = _mm256_fmadd_ps(q(e &+ 3), _mm256_broadcast_ss(xb + (e &+ 3)), t3)
            e &+= 4
        }
        let d = _mm256_cvtph_ps(_mm_loadu_si128(b.assumingMemoryBound(to: __m128i.self)))
        acc = _mm256_fmadd_ps(d, _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)), acc)
    }
    return acc
}
#else
/// Σ over 8 rows of a Q4_1 group: out[r] = Σ_j d_jr · Σ q·x + m_jr · Σx_j. `xs` is
/// `scaleForInterleavedQ4_1`'s order, `xSums[j]` = Σ x over block j.
func dotQ4_1Group(_ g: UnsafeRawPointer, blockStride: Int, _ xs: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>,
                  blocks: Int) -> SIMD8<Float> {
    var acc = SIMD8<Float>(), accMin = SIMD8<Float>()
    for j in 0..<blocks {
        let b = g + j &* blockStride, xb = xs + j &* 32
        var t = SIMD8<Float>()
        for k in 0..<4 {
            let w = b.loadUnaligned(fromByteOffset: 32 + 32 * k, as: SIMD8<Int32>.self)
            for s in 0..<7 {
                t = t.addingProduct(SIMD8<Float>(w & SIMD8(repeating: Int32(0xF) << (4 * s))), SIMD8(repeating: xb[8 * k + s]))
            }
            let top = SIMD8<Int32>(truncatingIfNeeded: SIMD8<UInt32>(truncatingIfNeeded: w) &>> 28)
            t = t.addingProduct(SIMD8<Float>(top), SIMD8(repeating: xb[8 * k + 7]))
        }
        acc = acc.addingProduct(SIMD8<Float>(b.loadUnaligned(as: SIMD8<Float16>.self)), t)
        accMin = accMin.addingProduct(SIMD8<Float>(b.loadUnaligned(fromByteOffset: 16, as: SIMD8<Float16>.self)),
                                      SIMD8(repeating: xSums[j]))
    }
    return acc + accMin
}

/// `dotQ4_1Group` for a pair of groups (block j of the second 160 bytes after the first's).
func dotQ4_1GroupPair(_ g: UnsafeRawPointer, _ xs: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>,
                      blocks: Int) -> (SIMD8<Float>, SIMD8<Float>) {
    (dotQ4_1Group(g, blockStride: 320, xs, xSums, blocks: blocks), dotQ4_1Group(g + 160, blockStride: 320, xs, xSums, blocks: blocks))
}

/// Σ over 8 rows of a Q8_0 group: out[r] = Σ_j d_jr · Σ q·x, x in natural order.
func dotQ8_0Group(_ g: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> SIMD8<Float> {
    var acc = SIMD8<Float>()
    for j in 0..<blocks {
        let b = g + j &* 272
        var t = SIMD8<Float>()
        for e in 0..<32 {
            let q = SIMD8<Int32>(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 16 + 8 * e, as: SIMD8<Int8>.self))
            t = t.addingProduct(SIMD8<Float>(q), SIMD8(repeating: x[32 * j + e]))
        }
        acc = acc.addingProduct(SIMD8<Float>(b.loadUnaligned(as: SIMD8<Float16>.self)), t)
    }
    return acc
}
#endif

// MARK: - Decode attention rows

/// row[j] = scale · q·k_j for keys j in 0..<count (key j at `keys + j·stride`), the scores of one
/// query head while decoding. Eight keys at a time: eight accumulators, reduced together by one
/// horizontal-add tree, instead of a full reduction per key.
func attentionScoresRow(_ row: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                        stride: Int, count: Int, headDim hd: Int, scale: Float) {
    var j = 0
    #if PERISCOPE_AVX2 && canImport(_Builtin_intrinsics.intel)
    if hd % 8 == 0 {
        let scaleV = _mm256_set1_ps(scale), swapHalves = _mm256_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3)
        while j &+ 8 <= count {
            let k0 = keys + j &* stride
            var a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
            var d = 0
            while d < hd {
                let qv = _mm256_loadu_ps(q + d)
                let k = k0 + d
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(k), qv, a0)
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(k + stride), qv, a1)
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 2 &* stride), qv, a2)
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 3 &* stride), qv, a3)
                a4 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 4 &* stride), qv, a4)
                a5 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 5 &* stride), qv, a5)
                a6 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 6 &* stride), qv, a6)
                a7 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 7 &* stride), qv, a7)
                d &+= 8
            }
            // Lane i of the result = Σ of a_i: pairwise sums within 128-bit halves, then the halves.
            let u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3))
            let u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7))
            let s0 = _mm256_mul_ps(_mm256_add_ps(u0, _mm256_permutevar8x32_ps(u0, swapHalves)), scaleV)
            let s1 = _mm256_mul_ps(_mm256_add_ps(u1, _mm256_permutevar8x32_ps(u1, swapHalves)), scaleV)
            _mm_storeu_ps(row + j, _mm256_castps256_ps128(s0))
            _mm_storeu_ps(row + j + 4, _mm256_castps256_ps128(s1))
            j &+= 8
        }
    }
    #endif
    while j < count { row[j] = scale * dotF32(keys + j &* stride, q, count: hd); j &+= 1 }
}

/// z[hd] = Σ_j p[j] · v_j for values j in 0..<count (value j at `values + j·stride`), one head's
/// output while decoding: the sums stay in registers across the keys (64 columns at a time).
func attentionValuesRow(_ z: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, values: UnsafePointer<Float>,
                        stride: Int, count: Int, headDim hd: Int) {
    var c = 0
    #if PERISCOPE_AVX2 && canImport(_Builtin_intrinsics.intel)
    while c &+ 64 <= hd {
        var a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
        var v = values + c
        for j in 0..<count {
            let pj = _mm256_broadcast_ss(p + j)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(v), pj, a0)
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 8), pj, a1)
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 16), pj, a2)
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 24), pj, a3)
            a4 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 32), pj, a4)
            a5 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 40), pj, a5)
            a6 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 48), pj, a6)
            a7 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 56), pj, a7)
            v += stride
        }
        let o = z + c
        _mm256_storeu_ps(o, a0); _mm256_storeu_ps(o + 8, a1); _mm256_storeu_ps(o + 16, a2); _mm256_storeu_ps(o + 24, a3)
        _mm256_storeu_ps(o + 32, a4); _mm256_storeu_ps(o + 40, a5); _mm256_storeu_ps(o + 48, a6); _mm256_storeu_ps(o + 56, a7)
        c &+= 64
    }
    #endif
    guard c < hd else { return }
    (z + c).initialize(repeating: 0, count: hd - c)
    for j in 0..<count { axpy(z + c, p[j], values + j &* stride + c, count: hd - c) }
}

/// Σ w·x over an F32 row.
@inline(__always)
func dotF32(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD16<Float>()
    let wr = UnsafeRawPointer(w), xr = UnsafeRawPointer(x)
    var i = 0
    while i &+ 16 <= count {
        acc += wr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            * xr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
        i &+= 16
    }
    var tail: Float = 0
    while i < count { tail += w[i] * x[i]; i &+= 1 }
    return acc.sum() + tail
}

/// Activations prepared once for every matrix that reads them: permuted into the kernels' lane
/// order, with Σx per 32-block (the Q4_1 m·Σx term).
final class KernelInput {
    let n: Int                                   // activation rows
    let cols: Int
    let x: UnsafePointer<Float>                  // [n, cols] as given
    let permuted: UnsafePointer<Float>           // [n, cols] in the 4-lane kernels' order (x itself with AVX2)
    let sums: UnsafeMutablePointer<Float>        // [n, cols / 32]
    let interleavedQ4_1: UnsafePointer<Float>    // [n, cols] in the interleaved Q4_1 kernel's order (AVX2)
    private let storage: UnsafeMutablePointer<Float>

    init(_ x: UnsafePointer<Float>, n: Int, cols: Int) {
        self.n = n; self.cols = cols; self.x = x
        let blocks = cols / 32
        // One allocation per region: sums, then the permuted or the interleaved order as used.
        let reordered = cols % 32 == 0 && (kernelsUsePermutedInput || kernelsUseInterleavedBlocks) ? n * cols : 0
        storage = .allocate(capacity: max(n * blocks + reordered, 1))
        sums = storage
        let order = storage + n * blocks
        permuted = kernelsUsePermutedInput && reordered > 0 ? UnsafePointer(order) : x
        interleavedQ4_1 = kernelsUseInterleavedBlocks && reordered > 0 ? UnsafePointer(order) : x
        guard cols % 32 == 0 else { return }
        for i in 0..<n {
            if kernelsUsePermutedInput { permuteForKernels(order + i * cols, x + i * cols, count: cols) }
            if kernelsUseInterleavedBlocks { scaleForInterleavedQ4_1(order + i * cols, x + i * cols, count: cols) }
            for j in 0..<blocks { sums[i * blocks + j] = dotF32Sum(x + i * cols + j * 32, 32) }
        }
    }

    deinit { storage.deallocate() }
}

extension WeightMatrix {
    /// Whether `matvec` reads this matrix's blocks directly (otherwise it dequantises row by row).
    var hasDirectKernel: Bool { (type == .q4_1 || type == .q8_0) && cols % 32 == 0 }

    /// out[n, rows] = x[n, cols] · Wᵀ by row-parallel matrix–vector products, for small n (decode).
    func matvec(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int) {
        matvecGroup([out], x, [self], n: n)
    }

    /// Rows `range` of out[n, rows] = x · Wᵀ.
    func matvecRows(_ out: UnsafeMutablePointer<Float>, _ input: KernelInput, _ range: Range<Int>) {
        let rows = self.rows, cols = self.cols, blocks = cols / 32, n = input.n
        if let packed = interleaved, range.lowerBound % packed.rowsTogether == 0, range.upperBound % packed.rowsTogether == 0 {
            let groups = (range.lowerBound / interleavedGroupRows)..<(range.upperBound / interleavedGroupRows)
            let sums = UnsafePointer(input.sums)
            if type == .q4_1 {
                let xs = UnsafePointer(input.interleavedQ4_1)
                for g in stride(from: groups.lowerBound, to: groups.upperBound, by: 2) {
                    let p = packed.start(ofGroup: g)
                    for i in 0..<n {
                        let (a, b) = dotQ4_1GroupPair(p, xs + i &* cols, sums + i &* blocks, blocks: blocks)
                        let o: UnsafeMutablePointer<Float> = out + (i &* rows &+ g &* 8)
                        UnsafeMutableRawPointer(o).storeBytes(of: a, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(o + 8).storeBytes(of: b, as: SIMD8<Float>.self)
                    }
                }
            } else {
                let xs = input.x
                for g in groups {
                    let p = packed.start(ofGroup: g)
                    for i in 0..<n {
                        let xi = xs + i &* cols
                        let v = dotQ8_0Group(p, xi, blocks: blocks)
                        let o: UnsafeMutablePointer<Float> = out + (i &* rows &+ g &* 8)
                        UnsafeMutableRawPointer(o).storeBytes(of: v, as: SIMD8<Float>.self)
                    }
                }
            }
            return
        }
        let half = UnsafePointer(halfToFloatTable)
        let xq = UnsafePointer(input.permuted), sums = UnsafePointer(input.sums)
        switch type {
        case .q4_1 where hasDirectKernel:
            #if PERISCOPE_AVX2
            // Rows r, r + h, r + 2h, r + 3h together: weight streams far apart keep more reads in
            // flight than one (the loads, not the arithmetic, bound a pass over weights that miss the cache).
            let h = range.count / 4
            var r = range.lowerBound
            while r < range.lowerBound &+ h {
                let row = quantised + r &* bytesPerRow
                for i in 0..<n {
                    let (a, b, c, d) = dotQ4_1x4(row, stride: h &* bytesPerRow, xq + i &* cols, sums + i &* blocks, blocks: blocks, half)
                    let o = i &* rows &+ r
                    out[o] = a; out[o &+ h] = b; out[o &+ 2 &* h] = c; out[o &+ 3 &* h] = d
                }
                r &+= 1
            }
            r = range.lowerBound &+ 4 &* h
            while r < range.upperBound {
                let row = quantised + r &* bytesPerRow
                for i in 0..<n { out[i &* rows &+ r] = dotQ4_1(row, xq + i &* cols, sums + i &* blocks, blocks: blocks, half) }
                r &+= 1
            }
            #else
            for r in range {
                let row = quantised + r &* bytesPerRow
                for i in 0..<n { out[i &* rows &+ r] = dotQ4_1(row, xq + i &* cols, sums + i &* blocks, blocks: blocks, half) }
            }
            #endif
        case .q8_0 where hasDirectKernel:
            #if PERISCOPE_AVX2
            // Rows r, r + h, r + 2h, r + 3h together: weight streams far apart keep more reads in
            // flight than one (the loads, not the arithmetic, bound a pass over weights that miss the cache).
            let h = range.count / 4
            var r = range.lowerBound
            while r < range.lowerBound &+ h {
                let row = quantised + r &* bytesPerRow
                for i in 0..<n {
                    let (a, b, c, d) = dotQ8_0x4(row, stride: h &* bytesPerRow, xq + i &* cols, blocks: blocks, half)
                    let o = i &* rows &+ r
                    out[o] = a; out[o &+ h] = b; out[o &+ 2 &* h] = c; out[o &+ 3 &* h] = d
                }
                r &+= 1
            }
            r = range.lowerBound &+ 4 &* h
            while r < range.upperBound {
                let row = quantised + r &* bytesPerRow
                for i in 0..<n { out[i &* rows &+ r] = dotQ8_0(row, xq + i &* cols, blocks: blocks, half) }
                r &+= 1
            }
            #else
            for r in range {
                let row = quantised + r &* bytesPerRow
                for i in 0..<n { out[i &* rows &+ r] = dotQ8_0(row, xq + i &* cols, blocks: blocks, half) }
            }
            #endif
        default:
            // Other types: one dequantised row at a time, dotted in F32.
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            defer { scratch.deallocate() }
            for r in range {
                let w: UnsafePointer<Float>
                if let f32 { w = UnsafePointer(f32 + r * cols) } else {
                    dequantize(type, from: quantised + r * bytesPerRow, to: scratch, count: cols)
                    w = UnsafePointer(scratch)
                }
                for i in 0..<n { out[i &* rows &+ r] = dotF32(w, input.x + i &* cols, count: cols) }
            }
        }
    }
}

/// Tasks per thread in a decode region: whole tasks are claimed, so a region ends at most one small
/// task after the other thread (a q/k/v region of 960 rows: 8 tasks, 120 rows each).
let decodeTasksPerCore = 4

/// outs[m][n, ws[m].rows] = x[n, cols] · ws[m]ᵀ for matrices reading the same activations (q, k, v;
/// gate, up): the activations are prepared once and all rows are shared out in one parallel
/// region, so the cores meet once per group rather than once per matrix.
func matvecGroup(_ outs: [UnsafeMutablePointer<Float>], _ x: UnsafePointer<Float>, _ ws: [WeightMatrix], n: Int) {
    let input = KernelInput(x, n: n, cols: ws[0].cols)
    let totalRows = ws.reduce(0) { $0 + $1.rows }
    let cores = WorkerPool.shared.width
    // Whole pairs of 8-row groups per task, so the interleaved kernels serve every task.
    let target = totalRows >= 256 ? max(16, totalRows / (cores * decodeTasksPerCore) / 16 * 16) : totalRows
    var tasks: [(matrix: Int, rows: Range<Int>)] = []
    for (m, w) in ws.enumerated() {
        var r = 0
        while r < w.rows { tasks.append((m, r..<min(w.rows, r + target))); r += target }
    }
    WorkerPool.shared.run(tasks.count) { t in
        let task = tasks[t]
        ws[task.matrix].matvecRows(outs[task.matrix], input, task.rows)
    }
}

@inline(__always)
func dotF32Sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var s: Float = 0
    for i in 0..<count { s += x[i] }
    return s
}
