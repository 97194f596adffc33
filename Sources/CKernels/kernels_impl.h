// The kernels' bodies, included once per instruction set by kernels.c with:
//   KN(name)  the name with the level's suffix
//   VF, VL    the float vector the F32 product uses and its lanes
//   TR, TW    the product's register tile: TR activation rows × TW weight rows
//   FUSED     1 where multiply–adds are single rounded instructions (FMA)
// Dequantisation works on 16-lane vectors (half a 32-value block) at every level; the compiler
// splits them into the level's registers.

#define FMA(a, b, c) (FUSED ? __builtin_elementwise_fma((a), (b), (c)) : (a) * (b) + (c))

static inline __attribute__((always_inline)) VF KN(loadf)(const float *p) { VF v; memcpy(&v, p, sizeof(VF)); return v; }
static inline __attribute__((always_inline)) vf16 KN(load16f)(const float *p) { vf16 v; memcpy(&v, p, 64); return v; }
static inline __attribute__((always_inline)) void KN(store16)(float *p, vf16 v) { memcpy(p, &v, 64); }
static inline __attribute__((always_inline)) vi16 KN(bytes)(const uint8_t *p) { vb16 v; memcpy(&v, p, 16); return __builtin_convertvector(v, vi16); }
static inline __attribute__((always_inline)) vi16 KN(sbytes)(const uint8_t *p) { vsb16 v; memcpy(&v, p, 16); return __builtin_convertvector(v, vi16); }
static inline __attribute__((always_inline)) vf16 KN(tof)(vi16 v) { return __builtin_convertvector(v, vf16); }

static inline __attribute__((always_inline)) float KN(hsum)(VF v) {
    float s = 0;
    // Pairwise halves, then the last four lanes.
#if VL == 16
    vf8 a = v.lo + v.hi;
#else
    vf8 a = v;
#endif
    vf4 b = a.lo + a.hi;
    s = (b.x + b.z) + (b.y + b.w);
    return s;
}

static inline __attribute__((always_inline)) vf16 KN(h2f16)(const uint8_t *p) {
#if F16C
    vhf16 h; memcpy(&h, p, 32);
    return __builtin_convertvector(h, vf16);
#else
    vh16 raw; memcpy(&raw, p, 32);
    vu16 h = __builtin_convertvector(raw, vu16);
    // h2f's arithmetic lane by lane: no subnormal float ever meets the FPU.
    vu16 bits = (h & 0x7FFF) << 13, exponent = h & 0x7C00;
    vu16 tiny = (vu16)(__builtin_convertvector(h & 0x3FF, vf16) * 0x1p-24f);
    vu16 special = (vu16)(exponent == 0x7C00), subnormal = (vu16)(exponent == 0);   // all ones where so
    vu16 mag = (special & (bits | 0x7F800000u)) | (subnormal & tiny) | (~(special | subnormal) & (bits + (112u << 23)));
    return (vf16)(mag | ((h & 0x8000) << 16));
#endif
}

// An F16 value as a float: one vcvtph2ps where the level has F16C (exact, as the conversion
// always is), h2f's bit arithmetic otherwise.
static inline __attribute__((always_inline)) float KN(half)(const uint8_t *p) {
#if F16C
    _Float16 h; memcpy(&h, p, 2); return (float)h;
#else
    return h2f(p);
#endif
}

// MARK: - Dequantisation, one row at a time

static void KN(row_f16)(const uint8_t *b, int cols, float *y) {
    int k = 0;
    for (; k + 16 <= cols; k += 16) KN(store16)(y + k, KN(h2f16)(b + 2 * k));
    for (; k < cols; k++) y[k] = KN(half)(b + 2 * k);
}

static void KN(row_bf16)(const uint8_t *b, int cols, float *y) {
    for (int k = 0; k < cols; k++) { uint16_t h; memcpy(&h, b + 2 * k, 2); uint32_t u = (uint32_t)h << 16; memcpy(y + k, &u, 4); }
}

static void KN(row_q4_0)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 32; j++, b += 18, y += 32) {
        float d = KN(half)(b);
        vi16 w = KN(bytes)(b + 2);
        KN(store16)(y, KN(tof)((w & 15) - 8) * d);
        KN(store16)(y + 16, KN(tof)((w >> 4) - 8) * d);
    }
}

static void KN(row_q4_1)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 32; j++, b += 20, y += 32) {
        float d = KN(half)(b), m = KN(half)(b + 2);
        vi16 w = KN(bytes)(b + 4);
        KN(store16)(y, d * KN(tof)(w & 15) + m);
        KN(store16)(y + 16, d * KN(tof)(w >> 4) + m);
    }
}

static const vu16 KN(lane) = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void KN(row_q5_0)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 32; j++, b += 22, y += 32) {
        float d = KN(half)(b);
        uint32_t qh; memcpy(&qh, b + 2, 4);
        vu16 h = qh;
        vi16 w = KN(bytes)(b + 6);
        vi16 lo = (w & 15) | (vi16)(((h >> KN(lane)) & 1) << 4);
        vi16 hi = (w >> 4) | (vi16)(((h >> (KN(lane) + 16)) & 1) << 4);
        KN(store16)(y, d * KN(tof)(lo - 16));
        KN(store16)(y + 16, d * KN(tof)(hi - 16));
    }
}

static void KN(row_q5_1)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 32; j++, b += 24, y += 32) {
        float d = KN(half)(b), m = KN(half)(b + 2);
        uint32_t qh; memcpy(&qh, b + 4, 4);
        vu16 h = qh;
        vi16 w = KN(bytes)(b + 8);
        vi16 lo = (w & 15) | (vi16)(((h >> KN(lane)) & 1) << 4);
        vi16 hi = (w >> 4) | (vi16)(((h >> (KN(lane) + 16)) & 1) << 4);
        KN(store16)(y, d * KN(tof)(lo) + m);
        KN(store16)(y + 16, d * KN(tof)(hi) + m);
    }
}

static void KN(row_q8_0)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 32; j++, b += 34, y += 32) {
        float d = KN(half)(b);
        KN(store16)(y, KN(tof)(KN(sbytes)(b + 2)) * d);
        KN(store16)(y + 16, KN(tof)(KN(sbytes)(b + 18)) * d);
    }
}

// The 6-bit scale and min of sub-block s of a Q4_K/Q5_K block.
static inline __attribute__((always_inline)) void KN(scale_min)(int s, const uint8_t *q, int *sc, int *m) {
    if (s < 4) { *sc = q[s] & 63; *m = q[s + 4] & 63; }
    else { *sc = (q[s + 4] & 0x0F) | ((q[s - 4] >> 6) << 4); *m = (q[s + 4] >> 4) | ((q[s] >> 6) << 4); }
}

static void KN(row_q4_k)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 256; j++, b += 144, y += 256) {
        float d = KN(half)(b), dmin = KN(half)(b + 2);
        const uint8_t *scales = b + 4, *qs = b + 16;
        for (int p = 0; p < 4; p++) {
            vi16 w0 = KN(bytes)(qs + 32 * p), w1 = KN(bytes)(qs + 32 * p + 16);
            int sc, m;
            KN(scale_min)(2 * p, scales, &sc, &m);
            float ds = d * (float)sc, ms = dmin * (float)m;
            KN(store16)(y + 64 * p, ds * KN(tof)(w0 & 15) - ms);
            KN(store16)(y + 64 * p + 16, ds * KN(tof)(w1 & 15) - ms);
            KN(scale_min)(2 * p + 1, scales, &sc, &m);
            ds = d * (float)sc; ms = dmin * (float)m;
            KN(store16)(y + 64 * p + 32, ds * KN(tof)(w0 >> 4) - ms);
            KN(store16)(y + 64 * p + 48, ds * KN(tof)(w1 >> 4) - ms);
        }
    }
}

static void KN(row_q5_k)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 256; j++, b += 176, y += 256) {
        float d = KN(half)(b), dmin = KN(half)(b + 2);
        const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + 48;
        vi16 h0 = KN(bytes)(qh), h1 = KN(bytes)(qh + 16);
        for (int p = 0; p < 4; p++) {
            vi16 w0 = KN(bytes)(qs + 32 * p), w1 = KN(bytes)(qs + 32 * p + 16);
            int s = 2 * p, sc, m;
            KN(scale_min)(s, scales, &sc, &m);
            float ds = d * (float)sc, ms = dmin * (float)m;
            KN(store16)(y + 64 * p, ds * KN(tof)((w0 & 15) | (((h0 >> s) & 1) << 4)) - ms);
            KN(store16)(y + 64 * p + 16, ds * KN(tof)((w1 & 15) | (((h1 >> s) & 1) << 4)) - ms);
            s += 1;
            KN(scale_min)(s, scales, &sc, &m);
            ds = d * (float)sc; ms = dmin * (float)m;
            KN(store16)(y + 64 * p + 32, ds * KN(tof)((w0 >> 4) | (((h0 >> s) & 1) << 4)) - ms);
            KN(store16)(y + 64 * p + 48, ds * KN(tof)((w1 >> 4) | (((h1 >> s) & 1) << 4)) - ms);
        }
    }
}

static void KN(row_q6_k)(const uint8_t *b, int cols, float *y) {
    for (int j = 0; j < cols / 256; j++, b += 210, y += 256) {
        const uint8_t *ql = b, *qh = b + 128, *scales = b + 192;
        float d = KN(half)(b + 208);
        for (int h = 0; h < 2; h++) {
            vi16 hi0 = KN(bytes)(qh + 32 * h), hi1 = KN(bytes)(qh + 32 * h + 16);
            for (int k = 0; k < 4; k++) {
                const uint8_t *low = ql + 64 * h + (k % 2) * 32;
                int ls = 4 * (k / 2), hs = 2 * k, sub = 8 * h + 2 * k;
                float d0 = d * (float)(int8_t)scales[sub], d1 = d * (float)(int8_t)scales[sub + 1];
                vi16 q0 = (((KN(bytes)(low) >> ls) & 15) | (((hi0 >> hs) & 3) << 4)) - 32;
                vi16 q1 = (((KN(bytes)(low + 16) >> ls) & 15) | (((hi1 >> hs) & 3) << 4)) - 32;
                KN(store16)(y + 128 * h + 32 * k, d0 * KN(tof)(q0));
                KN(store16)(y + 128 * h + 32 * k + 16, d1 * KN(tof)(q1));
            }
        }
    }
}

static void KN(dequantize_rows)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows, float *out) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *b = w + (size_t)r * row_bytes;
        float *y = out + (size_t)r * cols;
        switch (type) {
        case 0: memcpy(y, b, (size_t)cols * 4); break;
        case 1: KN(row_f16)(b, cols, y); break;
        case 2: KN(row_q4_0)(b, cols, y); break;
        case 3: KN(row_q4_1)(b, cols, y); break;
        case 6: KN(row_q5_0)(b, cols, y); break;
        case 7: KN(row_q5_1)(b, cols, y); break;
        case 8: KN(row_q8_0)(b, cols, y); break;
        case 12: KN(row_q4_k)(b, cols, y); break;
        case 13: KN(row_q5_k)(b, cols, y); break;
        case 14: KN(row_q6_k)(b, cols, y); break;
        case 30: KN(row_bf16)(b, cols, y); break;
        default: break;
        }
    }
}

// MARK: - Decode: one activation row against the blocks, no scratch
//
// Each block's quants become floats in registers and meet x there: Σ w·x = Σ_sub scale·Σ q·x
// + min·Σ x, with Σ x per 32 values computed once per call. Same sums as dequantise-then-multiply
// up to F32 rounding (the scale is applied to a partial sum instead of each weight).

static inline __attribute__((always_inline)) float KN(hsum16)(vf16 v) {
    vf8 a = v.lo + v.hi;
    vf4 b = a.lo + a.hi;
    return (b.x + b.z) + (b.y + b.w);
}

#define DOT_FMA16(a, b, c) (FUSED ? __builtin_elementwise_fma((a), (b), (c)) : (a) * (b) + (c))
#define DOT_FMA8(a, b, c) (FUSED ? __builtin_elementwise_fma((a), (b), (c)) : (a) * (b) + (c))
#define DOT_FMA1(a, b, c) (FUSED ? __builtin_fmaf((a), (b), (c)) : (a) * (b) + (c))

// K-quant rows read their blocks PREFETCH_AHEAD bytes ahead: on rows as long as an MLP's down
// projection (x then fills most of L1) the hardware prefetcher alone leaves the stream waiting on
// memory, 40-50% slower than the same matrix in cache.
static float KN(dot1)(int type, const uint8_t *b, int cols, const float *x, const float *xs) {
    vf16 acc0 = 0, acc1 = 0;
    float mins = 0;
    switch (type) {
    case 0: case 1: case 30: {
        int k = 0;
        for (; k + 32 <= cols; k += 32) {
            vf16 w0, w1;
            if (type == 0) { w0 = KN(load16f)((const float *)b + k); w1 = KN(load16f)((const float *)b + k + 16); }
            else if (type == 1) { w0 = KN(h2f16)(b + 2 * k); w1 = KN(h2f16)(b + 2 * k + 32); }
            else {
                vh16 r0, r1; memcpy(&r0, b + 2 * k, 32); memcpy(&r1, b + 2 * k + 32, 32);
                w0 = (vf16)(__builtin_convertvector(r0, vu16) << 16); w1 = (vf16)(__builtin_convertvector(r1, vu16) << 16);
            }
            acc0 = DOT_FMA16(w0, KN(load16f)(x + k), acc0);
            acc1 = DOT_FMA16(w1, KN(load16f)(x + k + 16), acc1);
        }
        float tail = 0;
        for (; k < cols; k++) {
            float w;
            if (type == 0) memcpy(&w, b + 4 * k, 4);
            else if (type == 1) w = h2f(b + 2 * k);
            else { uint16_t h; memcpy(&h, b + 2 * k, 2); uint32_t u = (uint32_t)h << 16; memcpy(&w, &u, 4); }
            tail += w * x[k];
        }
        return KN(hsum16)(acc0 + acc1) + tail;
    }
    case 12: case 13: {                                  // Q4_K / Q5_K: d·sc·q − dmin·m per 32
        vf8 offs = 0;
        for (int j = 0; j < cols / 256; j++) {
            const uint8_t *blk = b + j * (type == 12 ? 144 : 176);
            prefetch_ahead(blk, type == 12 ? 144 : 176);
            float d = KN(half)(blk), dmin = KN(half)(blk + 2);
            uint32_t sw[2], mw[2];
            kquant_scales(blk, sw, mw);
            vb8 scb, mb;
            memcpy(&scb, sw, 8); memcpy(&mb, mw, 8);
            vf8 dsv = __builtin_convertvector(scb, vf8) * d, ms = __builtin_convertvector(mb, vf8) * dmin;
            // Through memory: a broadcast from memory is one load, from a register lane two shuffles.
            float ds[8];
            memcpy(ds, &dsv, 32);
            __asm__("" : : "r"(ds) : "memory");
            vf8 xs8; memcpy(&xs8, xs + 8 * j, 32);
            offs = DOT_FMA8(ms, xs8, offs);
            const uint8_t *qs = blk + (type == 12 ? 16 : 48);
            vi16 h0 = 0, h1 = 0;
            if (type == 13) { h0 = KN(bytes)(blk + 16); h1 = KN(bytes)(blk + 32); }
            const float *xj = x + 256 * j;
#pragma unroll
            for (int p = 0; p < 4; p++) {
                vi16 w0 = KN(bytes)(qs + 32 * p), w1 = KN(bytes)(qs + 32 * p + 16);
                int s = 2 * p;
                vi16 q0 = w0 & 15, q1 = w1 & 15;
                if (type == 13) { q0 |= ((h0 >> s) & 1) << 4; q1 |= ((h1 >> s) & 1) << 4; }
                vf16 t = KN(tof)(q0) * KN(load16f)(xj + 64 * p);
                t = DOT_FMA16(KN(tof)(q1), KN(load16f)(xj + 64 * p + 16), t);
                acc0 = DOT_FMA16((vf16)ds[s], t, acc0);
                s += 1;
                q0 = w0 >> 4; q1 = w1 >> 4;
                if (type == 13) { q0 |= ((h0 >> s) & 1) << 4; q1 |= ((h1 >> s) & 1) << 4; }
                t = KN(tof)(q0) * KN(load16f)(xj + 64 * p + 32);
                t = DOT_FMA16(KN(tof)(q1), KN(load16f)(xj + 64 * p + 48), t);
                acc1 = DOT_FMA16((vf16)ds[s], t, acc1);
            }
        }
        vf4 o4 = offs.lo + offs.hi;
        mins = -((o4.x + o4.z) + (o4.y + o4.w));
        break;
    }
    case 14:                                             // Q6_K: d·sc·(q − 32) per 16
        for (int j = 0; j < cols / 256; j++) {
            const uint8_t *blk = b + j * 210, *ql = blk, *qh = blk + 128;
            prefetch_ahead(blk, 210);
            vf16 dsv = KN(tof)(KN(sbytes)(blk + 192)) * KN(half)(blk + 208);
            float ds[16];
            memcpy(ds, &dsv, 64);
            __asm__("" : : "r"(ds) : "memory");
            const float *xj = x + 256 * j;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                vb16 hi0, hi1;
                memcpy(&hi0, qh + 32 * h, 16); memcpy(&hi1, qh + 32 * h + 16, 16);
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    const uint8_t *low = ql + 64 * h + (k % 2) * 32;
                    int ls = 4 * (k / 2), hs = 2 * k, sub = 8 * h + 2 * k;
                    vb16 l0, l1;
                    memcpy(&l0, low, 16); memcpy(&l1, low + 16, 16);
                    // The 6-bit quants less 32 fit a signed byte: combined in byte lanes, widened once.
                    vb16 q0 = (((l0 >> ls) & 15) | (((hi0 >> hs) & 3) << 4)) - 32;
                    vb16 q1 = (((l1 >> ls) & 15) | (((hi1 >> hs) & 3) << 4)) - 32;
                    const float *xk = xj + 128 * h + 32 * k;
                    acc0 = DOT_FMA16((vf16)ds[sub], KN(tof)(__builtin_convertvector((vsb16)q0, vi16)) * KN(load16f)(xk), acc0);
                    acc1 = DOT_FMA16((vf16)ds[sub + 1], KN(tof)(__builtin_convertvector((vsb16)q1, vi16)) * KN(load16f)(xk + 16), acc1);
                }
            }
        }
        break;
    default: break;
    }
    return KN(hsum16)(acc0 + acc1) + mins;
}

// Σ q·x over one 32-value block of Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 without its scale or offset, as 16
// partial sums.
static inline __attribute__((always_inline)) vf16 KN(qx32)(const int type, const uint8_t *q, vf16 x0, vf16 x1) {
    if (type == 2 || type == 3) {
        vi16 w = KN(bytes)(q + (type == 2 ? 2 : 4));
        return DOT_FMA16(KN(tof)(w >> 4), x1, KN(tof)(w & 15) * x0);
    }
    if (type == 6 || type == 7) {
        uint32_t qh; memcpy(&qh, q + (type == 6 ? 2 : 4), 4);
        vu16 h = qh;
        vi16 w = KN(bytes)(q + (type == 6 ? 6 : 8));
        vi16 lo = (w & 15) | (vi16)(((h >> KN(lane)) & 1) << 4);
        vi16 hi = (w >> 4) | (vi16)(((h >> (KN(lane) + 16)) & 1) << 4);
        return DOT_FMA16(KN(tof)(hi), x1, KN(tof)(lo) * x0);
    }
    return DOT_FMA16(KN(tof)(KN(sbytes)(q + 18)), x1, KN(tof)(KN(sbytes)(q + 2)) * x0);
}

// W_r · x for one row of a 32-value block type (type a constant after inlining). The offsets
// (Q4_1/Q5_1 minimums, Q4_0/Q5_0's −8/−16) go through xs[j] = Σ x over block j. Rows are taken
// one after another, so the weights stream through memory in order: several rows side by side
// (sharing the x loads) defeat the hardware prefetcher and run up to three times slower once the
// matrix is out of cache.
static inline __attribute__((always_inline)) float KN(row_b32)(const int type, const uint8_t *b, int cols,
                                                              const float *x, const float *xs) {
    const int bs = type == 2 ? 18 : type == 3 ? 20 : type == 6 ? 22 : type == 7 ? 24 : 34;
    vf16 acc = 0;
    float off = 0;
    for (int j = 0; j < cols / 32; j++) {
        const uint8_t *q = b + j * bs;
        float d = KN(half)(q);
        acc = DOT_FMA16((vf16)d, KN(qx32)(type, q, KN(load16f)(x + 32 * j), KN(load16f)(x + 32 * j + 16)), acc);
        if (type == 3 || type == 7) off = DOT_FMA1(KN(half)(q + 2), xs[j], off);
        else if (type == 2) off = DOT_FMA1(-8 * d, xs[j], off);
        else if (type == 6) off = DOT_FMA1(-16 * d, xs[j], off);
    }
    return KN(hsum16)(acc) + off;
}

// Each row prefetches the bytes PREFETCH_AHEAD beyond its own, as the K-quant rows do: rows of a
// few hundred bytes (SmolLM2's 576 columns, Gemma 3's 640) otherwise leave a core's stream waiting
// on memory (Gemma 3's Q8_0 unembedding: 0.146 → 0.095 ns per weight on one core).
#define ROWS_B32(T) for (int r = 0; r < rows; r++) { \
        const uint8_t *row = w + (size_t)r * row_bytes; \
        prefetch_ahead(row, (int)row_bytes); \
        out[(size_t)r * os] = KN(row_b32)(T, row, cols, x, xs); \
    }

// xs[j] = Σ x over values 32j..<32j+32, each block summed in order k = 0…31. Four blocks go side
// by side: the same sums as one block at a time, without waiting on each add's latency.
static void KN(block_sums)(const float *x, int cols, float *xs) {
    const int blocks = cols / 32;
    int j = 0;
    for (; j + 4 <= blocks; j += 4) {
        const float *x0 = x + 32 * j;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int k = 0; k < 32; k++) { s0 += x0[k]; s1 += x0[32 + k]; s2 += x0[64 + k]; s3 += x0[96 + k]; }
        xs[j] = s0; xs[j + 1] = s1; xs[j + 2] = s2; xs[j + 3] = s3;
    }
    for (; j < blocks; j++) {
        float s = 0;
        for (int k = 0; k < 32; k++) s += x[32 * j + k];
        xs[j] = s;
    }
}

// out[r·os] = W_r · x for `rows` rows, with xs from block_sums(x).
static void KN(dot_rows1_sums)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows, const float *x,
                               const float *xs, float *out, size_t os) {
    switch (type) {
    case 2: ROWS_B32(2); break;
    case 3: ROWS_B32(3); break;
    case 6: ROWS_B32(6); break;
    case 7: ROWS_B32(7); break;
    case 8: ROWS_B32(8); break;
    default: for (int r = 0; r < rows; r++) out[(size_t)r * os] = KN(dot1)(type, w + (size_t)r * row_bytes, cols, x, xs);
    }
}

// out[r·os] = W_r · x for `rows` rows; xs (scratch) receives Σ x per 32 values.
static void KN(dot_rows1)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows, const float *x,
                          float *out, size_t os, float *xs) {
    KN(block_sums)(x, cols, xs);
    KN(dot_rows1_sums)(type, w, row_bytes, cols, rows, x, xs, out, os);
}

#undef DOT_FMA16
#undef ROWS_B32
#undef DOT_FMA1
#undef DOT_FMA8

// MARK: - F32 product

// out[a·os + b] = x_a · w_b for R activation rows (cols apart) and C weight rows (cols apart):
// R×C accumulators stay in registers over the columns, then one horizontal sum each.
static inline __attribute__((always_inline)) void KN(tile)(const float *x, const float *w, int cols, int kv,
                                                          float *out, size_t os, const int R, const int C) {
    VF acc[TR][TW];
#pragma unroll
    for (int a = 0; a < R; a++)
#pragma unroll
        for (int c = 0; c < C; c++) acc[a][c] = 0;
    for (int k = 0; k < kv; k += VL) {
        VF wv[TW];
#pragma unroll
        for (int c = 0; c < C; c++) wv[c] = KN(loadf)(w + (size_t)c * cols + k);
#pragma unroll
        for (int a = 0; a < R; a++) {
            VF xv = KN(loadf)(x + (size_t)a * cols + k);
#pragma unroll
            for (int c = 0; c < C; c++) acc[a][c] = FMA(xv, wv[c], acc[a][c]);
        }
    }
#pragma unroll
    for (int a = 0; a < R; a++)
#pragma unroll
        for (int c = 0; c < C; c++) {
            float s = KN(hsum)(acc[a][c]);
            for (int k = kv; k < cols; k++) s += x[(size_t)a * cols + k] * w[(size_t)c * cols + k];
            out[(size_t)a * os + c] = s;
        }
}

static void KN(gemm)(const float *x, int n, const float *w, int rows, int cols, float *out, size_t os) {
    const int kv = cols - cols % VL;
    int i = 0;
    for (; i + TR <= n; i += TR) {
        const float *xi = x + (size_t)i * cols;
        float *oi = out + (size_t)i * os;
        int r = 0;
        for (; r + TW <= rows; r += TW) KN(tile)(xi, w + (size_t)r * cols, cols, kv, oi + r, os, TR, TW);
        for (; r < rows; r++) KN(tile)(xi, w + (size_t)r * cols, cols, kv, oi + r, os, TR, 1);
    }
    for (; i < n; i++) {
        const float *xi = x + (size_t)i * cols;
        float *oi = out + (size_t)i * os;
        int r = 0;
        for (; r + TW <= rows; r += TW) KN(tile)(xi, w + (size_t)r * cols, cols, kv, oi + r, os, 1, TW);
        for (; r < rows; r++) KN(tile)(xi, w + (size_t)r * cols, cols, kv, oi + r, os, 1, 1);
    }
}

// One activation row against rows of W, with xs from block_sums(x) shared by every call on x.
static void KN(product_row)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows, const float *x,
                            const float *xs, float *out, size_t os) {
    if (type == 0) { KN(gemm)(x, 1, (const float *)w, rows, cols, out, os); return; }
    KN(dot_rows1_sums)(type, w, row_bytes, cols, rows, x, xs, out, os);
}

static void KN(product)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows, const float *x, int n,
                        float *out, size_t os, float *scratch, int chunk) {
    if (n == 1 && type != 0) { KN(dot_rows1)(type, w, row_bytes, cols, rows, x, out, 1, scratch); return; }
    if (type == 0) { KN(gemm)(x, n, (const float *)w, rows, cols, out, os); return; }
    if (chunk < 1) chunk = 1;
    for (int r0 = 0; r0 < rows; r0 += chunk) {
        int c = rows - r0 < chunk ? rows - r0 : chunk;
        KN(dequantize_rows)(type, w + (size_t)r0 * row_bytes, row_bytes, cols, c, scratch);
        KN(gemm)(x, n, scratch, c, cols, out + r0, os);
    }
}

// MARK: - Attention rows

static void KN(attention_scores)(float *row, const float *q, const float *keys, size_t stride, int count, int hd, float scale) {
    const int kv = hd - hd % VL;
    int j = 0;
    for (; j + 4 <= count; j += 4) {
        const float *k0 = keys + (size_t)j * stride;
        VF a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int d = 0; d < kv; d += VL) {
            VF qv = KN(loadf)(q + d);
            a0 = FMA(qv, KN(loadf)(k0 + d), a0);
            a1 = FMA(qv, KN(loadf)(k0 + stride + d), a1);
            a2 = FMA(qv, KN(loadf)(k0 + 2 * stride + d), a2);
            a3 = FMA(qv, KN(loadf)(k0 + 3 * stride + d), a3);
        }
        float s[4] = {KN(hsum)(a0), KN(hsum)(a1), KN(hsum)(a2), KN(hsum)(a3)};
        for (int t = 0; t < 4; t++) {
            for (int d = kv; d < hd; d++) s[t] += q[d] * k0[t * stride + d];
            row[j + t] = scale * s[t];
        }
    }
    for (; j < count; j++) {
        const float *k0 = keys + (size_t)j * stride;
        VF a0 = 0;
        for (int d = 0; d < kv; d += VL) a0 = FMA(KN(loadf)(q + d), KN(loadf)(k0 + d), a0);
        float s = KN(hsum)(a0);
        for (int d = kv; d < hd; d++) s += q[d] * k0[d];
        row[j] = scale * s;
    }
}

static void KN(attention_values)(float *z, const float *p, const float *values, size_t stride, int count, int hd) {
    int c = 0;
    for (; c + 4 * VL <= hd; c += 4 * VL) {
        VF a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const float *v = values + c;
        for (int j = 0; j < count; j++, v += stride) {
            VF pj = p[j];
            a0 = FMA(KN(loadf)(v), pj, a0);
            a1 = FMA(KN(loadf)(v + VL), pj, a1);
            a2 = FMA(KN(loadf)(v + 2 * VL), pj, a2);
            a3 = FMA(KN(loadf)(v + 3 * VL), pj, a3);
        }
        memcpy(z + c, &a0, sizeof(VF)); memcpy(z + c + VL, &a1, sizeof(VF));
        memcpy(z + c + 2 * VL, &a2, sizeof(VF)); memcpy(z + c + 3 * VL, &a3, sizeof(VF));
    }
    for (; c + VL <= hd; c += VL) {
        VF a0 = 0;
        const float *v = values + c;
        for (int j = 0; j < count; j++, v += stride) a0 = FMA(KN(loadf)(v), (VF)p[j], a0);
        memcpy(z + c, &a0, sizeof(VF));
    }
    for (; c < hd; c++) {
        float s = 0;
        for (int j = 0; j < count; j++) s += p[j] * values[(size_t)j * stride + c];
        z[c] = s;
    }
}

#undef FMA
