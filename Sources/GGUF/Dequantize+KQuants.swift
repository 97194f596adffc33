// MARK: - k-quants (256-value super-blocks)

/// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K/Q5_K block (llama.cpp's
/// `get_scale_min_k4`): bytes 0–3 hold scales 0–3, bytes 4–7 mins 0–3, and bytes 8–11
/// the low four bits of scales/mins 4–7 whose top two bits ride in bytes 0–7.
@inline(__always)
private func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
    if j < 4 {
        return (q[j] & 63, q[j + 4] & 63)
    }
    return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
}

@inline(__always)
private func half(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Float {
    halfToFloat(UInt16(p[offset]) | (UInt16(p[offset + 1]) << 8))
}

/// Q2_K: 16 scale bytes (low nibble scale, high nibble min), 64 bytes of 2-bit values,
/// f16 d, f16 dmin; value = d·sc × q − dmin·m, sixteen sub-blocks of 16.
func dequantizeQ2_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 84
        let scales = block
        let qs = block + 16
        let d = half(block, 80)
        let dmin = half(block, 82)
        let y = dst + b * 256
        for i in 0..<16 {
            // Sub-block i: half i/8 of qs, bit-pair (i%8)/2, 16-byte part i%2.
            let dl = d * Float(scales[i] & 0x0F)
            let ml = dmin * Float(scales[i] >> 4)
            let q = qs + (i / 8) * 32 + (i % 2) * 16
            let shift = UInt8(2 * ((i % 8) / 2))
            let out = y + 16 * i
            for l in 0..<16 {
                out[l] = dl * Float((q[l] >> shift) & 3) - ml
            }
        }
    }
}

/// Q3_K: 32 bytes of high bits (hmask), 64 bytes of 2-bit low parts, 12 bytes of packed
/// 6-bit scales, f16 d; value = d·(sc − 32) × (q − (high bit clear ? 4 : 0)).
func dequantizeQ3_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 110
        let hmask = block
        let qs = block + 32
        let packed = block + 96
        let d = half(block, 108)
        let y = dst + b * 256
        for i in 0..<16 {
            let low = i < 8 ? packed[i] & 0x0F : packed[i - 8] >> 4
            let high = (packed[8 + i % 4] >> UInt8(2 * (i / 4))) & 3
            let dl = d * Float(Int32(low | (high << 4)) - 32)
            let q = qs + (i / 8) * 32 + (i % 2) * 16
            let shift = UInt8(2 * ((i % 8) / 2))
            let hm = hmask + (i % 2) * 16
            let bit = UInt8(i / 2)
            let out = y + 16 * i
            for l in 0..<16 {
                let lowBits = Int32((q[l] >> shift) & 3)
                let offset = Int32(((hm[l] >> bit) & 1) ^ 1) << 2
                out[l] = dl * Float(lowBits - offset)
            }
        }
    }
}

/// Q4_K: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles;
/// eight sub-blocks of 32, value = d·sc × q − dmin·m.
func dequantizeQ4_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 144
        let d = half(block, 0)
        let dmin = half(block, 2)
        let scales = block + 4
        let qs = block + 16
        let y = dst + b * 256
        for s in 0..<8 {
            let (sc, m) = scaleMinK4(s, scales)
            let ds = d * Float(sc)
            let ms = dmin * Float(m)
            let q = qs + (s / 2) * 32
            let shift = UInt8(4 * (s % 2))
            let out = y + 32 * s
            for l in 0..<32 {
                out[l] = ds * Float((q[l] >> shift) & 0x0F) - ms
            }
        }
    }
}

/// Q5_K: as Q4_K plus 32 bytes of fifth bits (bit s of byte l belongs to sub-block s).
func dequantizeQ5_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 176
        let d = half(block, 0)
        let dmin = half(block, 2)
        let scales = block + 4
        let qh = block + 16
        let qs = block + 48
        let y = dst + b * 256
        for s in 0..<8 {
            let (sc, m) = scaleMinK4(s, scales)
            let ds = d * Float(sc)
            let ms = dmin * Float(m)
            let q = qs + (s / 2) * 32
            let shift = UInt8(4 * (s % 2))
            let bit = UInt8(s)
            let out = y + 32 * s
            for l in 0..<32 {
                let v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> bit) & 1) << 4)
                out[l] = ds * Float(v) - ms
            }
        }
    }
}

/// Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit high parts, 16 signed 8-bit scales,
/// f16 d; sixteen sub-blocks of 16, value = d·sc × (q − 32).
func dequantizeQ6_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 210
        let ql = block
        let qh = block + 128
        let scales = block + 192
        let d = half(block, 208)
        let y = dst + b * 256
        // Each 128-value half uses 64 bytes of ql and 32 of qh; quarter k of a half takes
        // nibble k/2 of ql[(k%2)*32 + l] and bit-pair k of qh[l].
        for h in 0..<2 {
            let lowBase = ql + 64 * h
            let highBase = qh + 32 * h
            for k in 0..<4 {
                let low = lowBase + (k % 2) * 32
                let lowShift = UInt8(4 * (k / 2))
                let highShift = UInt8(2 * k)
                let out = y + 128 * h + 32 * k
                let sub = 8 * h + 2 * k
                let d0 = d * Float(Int8(bitPattern: scales[sub]))
                let d1 = d * Float(Int8(bitPattern: scales[sub + 1]))
                for l in 0..<16 {
                    let q = Int32(((low[l] >> lowShift) & 0x0F) | (((highBase[l] >> highShift) & 3) << 4)) - 32
                    out[l] = d0 * Float(q)
                }
                for l in 16..<32 {
                    let q = Int32(((low[l] >> lowShift) & 0x0F) | (((highBase[l] >> highShift) & 3) << 4)) - 32
                    out[l] = d1 * Float(q)
                }
            }
        }
    }
}
