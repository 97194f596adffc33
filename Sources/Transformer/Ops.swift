import COpenBLAS
import Foundation

// MARK: - Ops
//
// Small free functions, output first, the way llama2.c's run.c reads. Every buffer is row-major
// with one row per token position: `n` rows of `width` floats.
//
// Products and sums are written apart (`a + b * c`), never as `addingProduct`: the Swift code is
// built for any x86-64, without FMA, where `addingProduct` becomes a call to libm's `fmaf` per lane.

/// out[n, d] = x[n, d] / rms(x) ⊙ weight[d]   (RMSNorm, as Hugging Face computes it in float32).
func rmsnorm(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ weight: [Float], n: Int, eps: Float) {
    let d = weight.count
    weight.withUnsafeBufferPointer { w in
        let wr = UnsafeRawPointer(w.baseAddress!)
        for r in 0..<n {
            let xr = x + r * d, yr = out + r * d
            let xb = UnsafeRawPointer(xr), yb = UnsafeMutableRawPointer(yr)
            var acc = SIMD8<Float>()
            var i = 0
            while i &+ 8 <= d {
                let v = xb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                acc += v * v
                i &+= 8
            }
            var ss = acc.sum()
            while i < d { ss += xr[i] * xr[i]; i &+= 1 }
            let scale = 1 / (ss / Float(d) + eps).squareRoot()
            i = 0
            while i &+ 8 <= d {
                let o = i &* 4
                yb.storeBytes(of: wr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                    * (xb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * scale), toByteOffset: o, as: SIMD8<Float>.self)
                i &+= 8
            }
            while i < d { yr[i] = w[i] * (xr[i] * scale); i &+= 1 }
        }
    }
}

/// x[n, width] += bias[width] for every row.
func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: [Float], n: Int) {
    let w = bias.count
    for r in 0..<n { for i in 0..<w { x[r * w + i] += bias[i] } }
}

/// y[count] += a · x[count].
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, count: Int) {
    var i = 0
    let yr = UnsafeMutableRawPointer(y), xr = UnsafeRawPointer(x)
    while i &+ 8 <= count {
        let o = i &* 4
        yr.storeBytes(of: yr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            + SIMD8(repeating: a) * xr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
                      toByteOffset: o, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count { y[i] += a * x[i]; i &+= 1 }
}

/// out[count] += x[count]  (the residual connection).
func addInPlace(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    let ob = UnsafeMutableRawPointer(out), xb = UnsafeRawPointer(x)
    var i = 0
    while i &+ 8 <= count {
        let o = i &* 4
        ob.storeBytes(of: ob.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + xb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
                      toByteOffset: o, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count { out[i] += x[i]; i &+= 1 }
}

/// Rotates x[n, heads·d_head] in place: row r is at absolute position `positions[r]`.
/// `frequencies[i] = base^(-2i/ropeDim)` for each of the ropeDim/2 pairs.
func rope(_ x: UnsafeMutablePointer<Float>, positions: [Int], heads: Int, headDim: Int,
          frequencies: [Float], style: RopeStyle) {
    let pairs = frequencies.count
    let table = RopeAngles.table(frequencies, covering: (positions.max() ?? 0) + 1)
    table.cos.withUnsafeBufferPointer { cosines in
        table.sin.withUnsafeBufferPointer { sines in
            for (r, pos) in positions.enumerated() {
                for p in 0..<pairs {
                    let c = cosines[pos * pairs + p], s = sines[pos * pairs + p]
                    for h in 0..<heads {
                        let head = x + (r * heads + h) * headDim
                        let (i, j) = style == .adjacent ? (2 * p, 2 * p + 1) : (p, p + headDim / 2)
                        let a = head[i], b = head[j]
                        head[i] = a * c - b * s
                        head[j] = a * s + b * c
                    }
                }
            }
        }
    }
}

/// cos and sin of position × frequency for every position seen so far, per frequency list: a
/// prompt pass rotates q and k of every row in every block, and each angle costs two libm calls.
final class RopeAngles: @unchecked Sendable {
    let cos: [Float]   // [positions, pairs]
    let sin: [Float]   // [positions, pairs]
    let positions: Int

    private init(_ frequencies: [Float], positions: Int) {
        var c = [Float](), s = [Float]()
        c.reserveCapacity(positions * frequencies.count)
        s.reserveCapacity(positions * frequencies.count)
        for pos in 0..<positions {
            for f in frequencies {
                // The angle rounded to float, as the reference makes it (position × frequency in
                // float32); its cosine and sine exactly. Past a few hundred positions the rounding
                // moves the angle by ~1e-5 rad, which the sharp attention of long prompts amplifies.
                let angle = Double(Float(pos) * f)
                c.append(Float(Foundation.cos(angle)))
                s.append(Float(Foundation.sin(angle)))
            }
        }
        cos = c; sin = s; self.positions = positions
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var tables: [[Float]: RopeAngles] = [:]

    /// The table for `frequencies` with at least `count` positions (grown by doubling).
    static func table(_ frequencies: [Float], covering count: Int) -> RopeAngles {
        lock.lock()
        defer { lock.unlock() }
        if let t = tables[frequencies], t.positions >= count { return t }
        let size = max(count, 2 * (tables[frequencies]?.positions ?? 128))
        let t = RopeAngles(frequencies, positions: size)
        tables[frequencies] = t
        return t
    }
}

/// out[n, d_ff] = silu(gate[n, d_ff]) ⊙ up[n, d_ff]   (SwiGLU), eight lanes at a time.
func swiglu(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    let ob = UnsafeMutableRawPointer(out), gb = UnsafeRawPointer(gate), ub = UnsafeRawPointer(up)
    var i = 0
    while i &+ 8 <= count {
        let o = i &* 4
        let g = gb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
        let silu = g / (1 + exp8(-g))
        ob.storeBytes(of: silu * ub.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), toByteOffset: o, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count {
        let g = gate[i]
        out[i] = g / (1 + exp(-g)) * up[i]
        i &+= 1
    }
}

/// out[n, d_ff] = gelu_tanh(gate[n, d_ff]) ⊙ up[n, d_ff]   (GeGLU with the tanh GELU, Gemma's
/// gelu_pytorch_tanh), eight lanes at a time. 0.5·(1 + tanh u) = sigmoid(2u), so
/// gelu_tanh(g) = g / (1 + e^(−2u)) with u = √(2/π)·(g + 0.044715·g³).
func geglu(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    let ob = UnsafeMutableRawPointer(out), gb = UnsafeRawPointer(gate), ub = UnsafeRawPointer(up)
    let k: Float = 2 * (2 / Float.pi).squareRoot(), cube: Float = 0.044715
    var i = 0
    while i &+ 8 <= count {
        let o = i &* 4
        let g = gb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
        let u = k * (g + cube * g * g * g)
        let gelu = g / (1 + exp8(-u))
        ob.storeBytes(of: gelu * ub.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), toByteOffset: o, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count {
        let g = gate[i]
        out[i] = g / (1 + exp(-k * (g + cube * g * g * g))) * up[i]
        i &+= 1
    }
}

/// SwiGLU over `rows` rows of `width`, shared between the cores when there are enough (a sweep's
/// thousand rows take ~1 ms of exponentials, which one core would do while the other waits).
func swiglu(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, rows: Int, width: Int) {
    gated(out, gate, up, rows: rows, width: width) { swiglu($0, $1, $2, count: $3) }
}

/// GeGLU over `rows` rows of `width`, shared between the cores like `swiglu`.
func geglu(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, rows: Int, width: Int) {
    gated(out, gate, up, rows: rows, width: width) { geglu($0, $1, $2, count: $3) }
}

/// The gated activation of an MLP: SwiGLU (llama) or GeGLU with the tanh GELU (Gemma 3).
enum GatedActivation {
    case swiglu, geglu

    func apply(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        switch self {
        case .swiglu: Transformer.swiglu(out, gate, up, count: count)
        case .geglu: Transformer.geglu(out, gate, up, count: count)
        }
    }

    func apply(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, rows: Int, width: Int) {
        switch self {
        case .swiglu: Transformer.swiglu(out, gate, up, rows: rows, width: width)
        case .geglu: Transformer.geglu(out, gate, up, rows: rows, width: width)
        }
    }
}

/// A gated activation over `rows` rows of `width`, in eight parts on the cores when there are enough.
private func gated(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>,
                   rows: Int, width: Int,
                   _ op: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void) {
    guard rows * width >= 1 << 18 else { op(out, gate, up, rows * width); return }
    let parts = 8, perPart = (rows + parts - 1) / parts
    nonisolated(unsafe) let out = out
    WorkerPool.shared.run(parts) { p in
        let r0 = p * perPart, r1 = min(rows, r0 + perPart)
        guard r0 < r1 else { return }
        op(out + r0 * width, gate + r0 * width, up + r0 * width, (r1 - r0) * width)
    }
}

/// x[count] *= a.
func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
    for i in 0..<count { x[i] *= a }
}

/// e^x in eight lanes (Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial for e^r,
/// then 2^n through the exponent bits); relative error ~1e-7, like libm's expf. Inputs are clamped
/// to ±88.3 (e^x stays finite; silu and softmax need nothing beyond).
@inline(__always)
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Clamped with compare-and-blend (`clamped` calls pointwiseMin/Max, which are not inlined here).
    let lo = SIMD8<Float>(repeating: -87.3), hi = SIMD8<Float>(repeating: 88.3)
    let x = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    // n = round(x / ln2), through the 1.5·2²³ trick: the sum's low mantissa bits then hold n.
    let shifted = x * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    var r = x - n * 0.693_359_375   // r = x − n·ln2 in two parts (n·ln2's high part is exact)
    r = r + n * 2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_5e-1
    p = p * r + 5.000_000_1e-1
    let e = (p * (r * r) + r) + 1
    let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return e * unsafeBitCast(bits, to: SIMD8<Float>.self)
}

/// log Σ e^x over a row of logits, in double: the softmax normaliser a metric such as p(answer)
/// needs. Eight lanes of `exp8` summed in float over 512 entries at a time, then in double, since
/// one libm exp per entry of a vocabulary-wide row would cost ten times as much.
public func logSumExp(_ x: UnsafeBufferPointer<Float>) -> Double {
    guard let base = x.baseAddress, !x.isEmpty else { return -.infinity }
    let count = x.count
    var m = -Float.infinity
    var i = 0
    var lanes = SIMD8<Float>(repeating: -.infinity)
    let raw = UnsafeRawPointer(base)
    while i &+ 8 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        lanes = lanes.replacing(with: v, where: v .> lanes)       // (pointwiseMax is not inlined here)
        i &+= 8
    }
    m = lanes.max()
    while i < count { m = max(m, base[i]); i &+= 1 }
    guard m.isFinite else { return Double(m) }
    let shift = SIMD8<Float>(repeating: m)
    var total = 0.0
    i = 0
    while i &+ 8 <= count {
        var chunk = SIMD8<Float>()
        let end = min(count & ~7, i &+ 512)
        while i < end {
            chunk += exp8(raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) - shift)
            i &+= 8
        }
        total += Double(chunk.sum())
    }
    while i < count { total += Foundation.exp(Double(base[i] - m)); i &+= 1 }
    return Double(m) + Foundation.log(total)
}

/// x[count] ← softmax(x) in place; -infinity entries become 0.
func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var maxValue = -Float.infinity
    for i in 0..<count where x[i] > maxValue { maxValue = x[i] }
    guard maxValue > -Float.infinity else {
        for i in 0..<count { x[i] = 0 }
        return
    }
    var sum: Float = 0
    for i in 0..<count {
        let e = exp(x[i] - maxValue)
        x[i] = e
        sum += e
    }
    let inv = 1 / sum
    for i in 0..<count { x[i] *= inv }
}

/// RoPE frequencies 1 / base^(2i/ropeDim) for i in 0..<ropeDim/2, in float32 step by step as the
/// reference computes them.
func ropeFrequencies(ropeDim: Int, base: Float) -> [Float] {
    (0..<ropeDim / 2).map { i in 1 / powf(base, Float(2 * i) / Float(ropeDim)) }
}

/// Tells OpenBLAS how many threads to use (both cores of the machine by default).
func configureBLASThreads(_ count: Int = ProcessInfo.processInfo.activeProcessorCount) {
    openblas_set_num_threads(Int32(count))
}

/// Runs `body(i)` for i in 0..<iterations on every core (DispatchQueue.concurrentPerform), for
/// bodies that write disjoint parts of raw buffers.
func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    if iterations == 1 { body(0); return }
    withoutActuallyEscaping(body) { escapable in
        nonisolated(unsafe) let work = escapable
        DispatchQueue.concurrentPerform(iterations: iterations) { i in work(i) }
    }
}
