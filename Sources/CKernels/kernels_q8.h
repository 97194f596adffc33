// Integer products of K-quant weights and 8-bit activations, included once per instruction set by
// kernels.c with:
//   KQ(name)  the name with the path's suffix
//   Q8_ISA    0 plain C, 1 AVX2 (vpmaddubsw), 2 AVX-512 VNNI (vpmaddubsw, vpdpwssd)
// Within a 256-value block every path sums the same integers exactly, and the block's floats are
// combined in one order everywhere, so all paths return the same bits.

#if Q8_ISA > 0
#include <immintrin.h>

static inline __attribute__((always_inline)) int32_t KQ(hsum8)(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}
#endif

#if Q8_ISA == 2
// Word indices: words 8i…8i+7 of the result take word g + i of the source (i < 4).
static inline __attribute__((always_inline)) __m512i KQ(groups4)(int g) {
    return _mm512_setr_epi32(g * 0x10001, g * 0x10001, g * 0x10001, g * 0x10001,
                             (g + 1) * 0x10001, (g + 1) * 0x10001, (g + 1) * 0x10001, (g + 1) * 0x10001,
                             (g + 2) * 0x10001, (g + 2) * 0x10001, (g + 2) * 0x10001, (g + 2) * 0x10001,
                             (g + 3) * 0x10001, (g + 3) * 0x10001, (g + 3) * 0x10001, (g + 3) * 0x10001);
}

// The same integers as the other paths, with fewer instructions: vpmaddubsw adds the weight ×
// activation products in pairs (at most 2·63·127, so never saturating) and vpdpwssd weights each
// pair by its sub-block's scale into 32-bit lanes, where vpdpbusd would need a 32-bit multiply
// per scale. The minimums' and offsets' sums come from vpmaddwd over the 16-quant sums, and each
// block's prefetch runs PREFETCH_AHEAD bytes ahead as in the F32 rows.
// Q4_K, and Q5_K (type 13) with each quant's fifth bit from qh.
static inline __attribute__((always_inline)) float KQ(dot_q45k)(const uint8_t *b, const pk_q8_block *y, int blocks, const int type) {
    const int bs = type == 12 ? 144 : 176;
    const __m512i m4 = _mm512_set1_epi8(15), shift = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0), one = _mm512_set1_epi8(1);
    const __m256i pairs = _mm256_setr_epi16(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    float sum = 0;
    for (int j = 0; j < blocks; j++, b += bs, y++) {
        prefetch_ahead(b, bs);
        __m512i hb = type == 13 ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + 16))) : _mm512_setzero_si512();
        uint32_t sw[2], mw[2];
        kquant_scales(b, sw, mw);
        __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sw)));
        __m256i m16 = _mm256_permutexvar_epi16(pairs, _mm256_castsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mw))));
        int32_t mins = KQ(hsum8)(_mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)y->bsums)));
        __m512i acc = _mm512_setzero_si512();
#pragma unroll
        for (int p = 0; p < 4; p++) {
            __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + (type == 12 ? 16 : 48) + 32 * p)));
            __m512i w = _mm512_and_si512(_mm512_srlv_epi64(q, shift), m4);
            if (type == 13) {
                // Bit 2p of qh[i] for value 64p + i, bit 2p + 1 for 64p + 32 + i.
                __m512i hs = _mm512_set_epi64(2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p, 2 * p, 2 * p, 2 * p);
                w = _mm512_or_si512(w, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(hb, hs), one), 4));
            }
            __m512i pr = _mm512_maddubs_epi16(w, _mm512_loadu_si512(y->qs + 64 * p));
            __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * p)), _mm256_set1_epi16((short)(2 * p + 1)), 1);
            acc = _mm512_dpwssd_epi32(acc, pr, _mm512_permutexvar_epi16(idx, sc16));
        }
        int32_t isum = _mm512_reduce_add_epi32(acc);
        float d = h2f(b) * y->d, dmin = h2f(b + 2) * y->d;
        sum += d * (float)isum - dmin * (float)mins;
    }
    return sum;
}

static float KQ(dot_q6k)(const uint8_t *b, const pk_q8_block *y, int blocks) {
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    const __m512i shiftA = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0), shiftB = _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4);
    float sum = 0;
    for (int j = 0; j < blocks; j++, b += 210, y++) {
        prefetch_ahead(b, 210);
        const uint8_t *ql = b, *qh = b + 128;
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));
        // The offset −32·Σ sc_g·bsum_g starts the lanes' sums, so one reduction serves both.
        __m256i offset = _mm256_madd_epi16(_mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32)),
                                           _mm256_loadu_si256((const __m256i *)y->bsums));
        __m512i scz = _mm512_castsi256_si512(sc16);
        __m512i acc = _mm512_zextsi256_si512(offset);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            // k = 0, 1 take the low nibbles of 64 bytes of ql and qh's bits 0 and 2; k = 2, 3 the
            // high nibbles and bits 4 and 6. Pair sums 8g…8g+7 then belong to scale group 8h + g.
            __m512i l = _mm512_loadu_si512(ql + 64 * h);
            __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qh + 32 * h)));
            __m512i wA = _mm512_or_si512(_mm512_and_si512(l, m4),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(hb, shiftA), m2), 4));
            __m512i wB = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(hb, shiftB), m2), 4));
            __m512i pA = _mm512_maddubs_epi16(wA, _mm512_loadu_si512(y->qs + 128 * h));
            __m512i pB = _mm512_maddubs_epi16(wB, _mm512_loadu_si512(y->qs + 128 * h + 64));
            acc = _mm512_dpwssd_epi32(acc, pA, _mm512_permutexvar_epi16(KQ(groups4)(8 * h), scz));
            acc = _mm512_dpwssd_epi32(acc, pB, _mm512_permutexvar_epi16(KQ(groups4)(8 * h + 4), scz));
        }
        int32_t isum = _mm512_reduce_add_epi32(acc);
        sum += (h2f(b + 208) * y->d) * (float)isum;
    }
    return sum;
}
#else
// Σ q·y over one Q4_K block (values 64p…64p+31 are the low nibbles of qs[32p…], the next 32 the
// high ones), each 32 weighted by its 6-bit scale sc[s].
// Q5_K (qh non-null) adds each quant's fifth bit: bit 2p of qh[i] for value 64p + i, bit 2p + 1
// for 64p + 32 + i.
static inline __attribute__((always_inline)) int32_t KQ(isum_q4k)(const uint8_t *qs, const uint8_t *qh, const int8_t *y, const int *sc) {
#if Q8_ISA == 0
    int32_t isum = 0;
    for (int p = 0; p < 4; p++) {
        int32_t lo = 0, hi = 0;
        for (int i = 0; i < 32; i++) {
            int h0 = qh ? ((qh[i] >> (2 * p)) & 1) << 4 : 0, h1 = qh ? ((qh[i] >> (2 * p + 1)) & 1) << 4 : 0;
            lo += ((qs[32 * p + i] & 15) | h0) * y[64 * p + i];
            hi += ((qs[32 * p + i] >> 4) | h1) * y[64 * p + 32 + i];
        }
        isum += sc[2 * p] * lo + sc[2 * p + 1] * hi;
    }
    return isum;
#elif Q8_ISA == 1
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i acc = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi8(1);
    __m256i hb = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    for (int p = 0; p < 4; p++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * p), one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * p + 1), one), 4));
        }
        __m256i y0 = _mm256_loadu_si256((const __m256i *)(y + 64 * p));
        __m256i y1 = _mm256_loadu_si256((const __m256i *)(y + 64 * p + 32));
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_set1_epi16((short)sc[2 * p]));
        __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_set1_epi16((short)sc[2 * p + 1]));
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(p0, p1));
    }
    return KQ(hsum8)(acc);
#endif
}

static inline __attribute__((always_inline)) float KQ(dot_q45k)(const uint8_t *b, const pk_q8_block *y, int blocks, const int type) {
    float sum = 0;
    for (int j = 0; j < blocks; j++, b += type == 12 ? 144 : 176, y++) {
        uint32_t sw[2], mw[2];
        kquant_scales(b, sw, mw);
        const uint8_t *scb = (const uint8_t *)sw, *mb = (const uint8_t *)mw;
        int sc[8];
        int32_t mins = 0;
        for (int s = 0; s < 8; s++) {
            sc[s] = scb[s];
            mins += mb[s] * (y->bsums[2 * s] + y->bsums[2 * s + 1]);
        }
        int32_t isum = type == 12 ? KQ(isum_q4k)(b + 16, NULL, y->qs, sc) : KQ(isum_q4k)(b + 48, b + 16, y->qs, sc);
        float d = h2f(b) * y->d, dmin = h2f(b + 2) * y->d;
        sum += d * (float)isum - dmin * (float)mins;
    }
    return sum;
}

// Σ sc_g · Σ q·y over one Q6_K block with q the unsigned 6-bit quants (0…63); the caller
// subtracts 32·Σ sc_g·bsum_g. Values 128h + 32k + i take the low bits from
// ql[64h + 32(k mod 2) + i] (nibble k div 2) and the high two from qh[32h + i] (bits 2k).
static inline __attribute__((always_inline)) int32_t KQ(isum_q6k)(const uint8_t *ql, const uint8_t *qh,
                                                                   const int8_t *scales, const int8_t *y) {
#if Q8_ISA == 0
    int32_t isum = 0;
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++)
            for (int half = 0; half < 2; half++) {
                int32_t s = 0;
                for (int i = 16 * half; i < 16 * half + 16; i++) {
                    int q = ((ql[64 * h + 32 * (k % 2) + i] >> (4 * (k / 2))) & 15) | (((qh[32 * h + i] >> (2 * k)) & 3) << 4);
                    s += q * y[128 * h + 32 * k + i];
                }
                isum += scales[8 * h + 2 * k + half] * s;
            }
    return isum;
#elif Q8_ISA == 1
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h));
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32));
        __m256i hb = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
        __m256i lows[4] = {_mm256_and_si256(l0, m4), _mm256_and_si256(l1, m4),
                           _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4)};
        for (int k = 0; k < 4; k++) {
            __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * k), m2), 4);
            __m256i w = _mm256_or_si256(lows[k], high);
            __m256i yv = _mm256_loadu_si256((const __m256i *)(y + 128 * h + 32 * k));
            int g = 8 * h + 2 * k;
            __m256i scale = _mm256_set_m128i(_mm_set1_epi16(scales[g + 1]), _mm_set1_epi16(scales[g]));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, yv), scale));
        }
    }
    return KQ(hsum8)(acc);
#endif
}

static float KQ(dot_q6k)(const uint8_t *b, const pk_q8_block *y, int blocks) {
    float sum = 0;
    for (int j = 0; j < blocks; j++, b += 210, y++) {
        const int8_t *scales = (const int8_t *)(b + 192);
        int32_t offset = 0;
        for (int g = 0; g < 16; g++) offset += scales[g] * y->bsums[g];
        int32_t isum = KQ(isum_q6k)(b, b + 128, scales, y->qs) - 32 * offset;
        sum += (h2f(b + 208) * y->d) * (float)isum;
    }
    return sum;
}
#endif

// out[i·os + r] = W_r · x_i for `rows` weight rows and n quantised activation rows. A few weight
// rows at a time stay in L1 while every activation row passes over them.
static void KQ(product)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows, const pk_q8_block *x,
                        int n, float *out, size_t os) {
    const int blocks = cols / 256;
    int chunk = (int)(16384 / row_bytes);
    if (chunk < 1) chunk = 1;
    for (int r0 = 0; r0 < rows; r0 += chunk) {
        int r1 = r0 + chunk < rows ? r0 + chunk : rows;
        for (int i = 0; i < n; i++) {
            const pk_q8_block *xi = x + (size_t)i * blocks;
            for (int r = r0; r < r1; r++) {
                const uint8_t *b = w + (size_t)r * row_bytes;
                out[(size_t)i * os + r] = type == 12 ? KQ(dot_q45k)(b, xi, blocks, 12)
                                        : type == 13 ? KQ(dot_q45k)(b, xi, blocks, 13) : KQ(dot_q6k)(b, xi, blocks);
            }
        }
    }
}

// MARK: - Batches: sixteen weight rows unpacked once per block, every activation row over them
//
// Per 256-value block a panel holds sixteen rows' quants times their sub-block scales as 16 bits
// (Q4_K/Q5_K at most 31·63, Q6_K at most 32·128), so one 16-bit multiply–add per pair replaces
// the nibble masks, scale shuffles and byte products that the decode rows spend per weight, and
// that unpacking serves every activation row of the batch. The integer sums per block are the
// decode path's exactly, and the block's floats are combined as there, so a row of a batch gets
// the bits it would get alone.

#if Q8_ISA > 0
// 32 quants (bytes) times their scales (two of 16 each, or one) into values 8t…8t+31 of a row.
static inline __attribute__((always_inline)) void KQ(put32)(pk_q8_panel *P, int g, int s, int t, __m256i q, int sc0, int sc1, int off) {
    __m256i lo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(q)), hi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(q, 1));
    lo = _mm256_mullo_epi16(_mm256_sub_epi16(lo, _mm256_set1_epi16((short)off)), _mm256_set1_epi16((short)sc0));
    hi = _mm256_mullo_epi16(_mm256_sub_epi16(hi, _mm256_set1_epi16((short)off)), _mm256_set1_epi16((short)sc1));
    _mm_store_si128((__m128i *)P->q[g][t][s], _mm256_castsi256_si128(lo));
    _mm_store_si128((__m128i *)P->q[g][t + 1][s], _mm256_extracti128_si256(lo, 1));
    _mm_store_si128((__m128i *)P->q[g][t + 2][s], _mm256_castsi256_si128(hi));
    _mm_store_si128((__m128i *)P->q[g][t + 3][s], _mm256_extracti128_si256(hi, 1));
}
#endif

// Row `row` of the panel from block `b` of `type`.
static void KQ(pack_row)(int type, const uint8_t *b, pk_q8_panel *P, int row) {
    const int g = row & 3, s = row >> 2;
#if Q8_ISA > 0
    {
        const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
        if (type == 14) {
            const int8_t *sc = (const int8_t *)(b + 192);
            for (int h = 0; h < 2; h++) {
                __m256i l0 = _mm256_loadu_si256((const __m256i *)(b + 64 * h)), l1 = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32));
                __m256i hb = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
                __m256i lows[4] = {_mm256_and_si256(l0, m4), _mm256_and_si256(l1, m4),
                                   _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4)};
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    __m256i q = _mm256_or_si256(lows[k], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * k), m2), 4));
                    KQ(put32)(P, g, s, 16 * h + 4 * k, q, sc[8 * h + 2 * k], sc[8 * h + 2 * k + 1], 32);
                }
            }
            P->d[row] = h2f(b + 208);
            P->dmin[row] = 0;
            return;
        }
        uint32_t sw[2], mw[2];
        kquant_scales(b, sw, mw);
        const uint8_t *scb = (const uint8_t *)sw;
        // Q5_K: bit 2p of qh[i] is the fifth bit of value 64p + i, bit 2p + 1 that of 64p + 32 + i.
        const __m256i one = _mm256_set1_epi8(1);
        const __m256i hb = type == 13 ? _mm256_loadu_si256((const __m256i *)(b + 16)) : _mm256_setzero_si256();
#pragma unroll
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(b + (type == 12 ? 16 : 48) + 32 * p));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (type == 13) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * p), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * p + 1), one), 4));
            }
            KQ(put32)(P, g, s, 8 * p, lo, scb[2 * p], scb[2 * p], 0);
            KQ(put32)(P, g, s, 8 * p + 4, hi, scb[2 * p + 1], scb[2 * p + 1], 0);
        }
        _mm_store_si128((__m128i *)P->m[g][s], _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mw)));
        P->d[row] = h2f(b);
        P->dmin[row] = h2f(b + 2);
        return;
    }
#endif
    int16_t v[256];
    if (type == 14) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < 32; i++) {
                    int q = ((ql[64 * h + 32 * (k % 2) + i] >> (4 * (k / 2))) & 15) | (((qh[32 * h + i] >> (2 * k)) & 3) << 4);
                    v[128 * h + 32 * k + i] = (int16_t)(sc[8 * h + 2 * k + i / 16] * (q - 32));
                }
        P->d[row] = h2f(b + 208);
        P->dmin[row] = 0;
    } else {
        uint32_t sw[2], mw[2];
        kquant_scales(b, sw, mw);
        const uint8_t *scb = (const uint8_t *)sw, *mb = (const uint8_t *)mw;
        const uint8_t *qs = b + (type == 12 ? 16 : 48), *qh = b + 16;
        for (int p = 0; p < 4; p++) {
            int16_t s0 = scb[2 * p], s1 = scb[2 * p + 1];
            for (int i = 0; i < 32; i++) {
                int lo = qs[32 * p + i] & 15, hi = qs[32 * p + i] >> 4;
                if (type == 13) { lo |= ((qh[i] >> (2 * p)) & 1) << 4; hi |= ((qh[i] >> (2 * p + 1)) & 1) << 4; }
                v[64 * p + i] = (int16_t)(s0 * lo);
                v[64 * p + 32 + i] = (int16_t)(s1 * hi);
            }
        }
        for (int k = 0; k < 8; k++) P->m[g][s][k] = mb[k];
        P->d[row] = h2f(b);
        P->dmin[row] = h2f(b + 2);
    }
    for (int t = 0; t < 32; t++) memcpy(P->q[g][t][s], v + 8 * t, 16);
}

#if Q8_ISA == 2
// vpdpwssd as one instruction: the compiler otherwise splits it into vpmaddwd and vpaddd, twice
// the instructions of the tile's inner loop.
static inline __attribute__((always_inline)) __m512i KQ(dpwssd)(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

// Sixteen lanes per accumulator, four per row (slot); the four groups' accumulators summed into
// one vector whose lane 4s + g is row 4s + g.
static inline __attribute__((always_inline)) __m512i KQ(reduce4)(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
    __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
}

// f[16a + row] += the block's term for R activation rows from their integer sums: the rows'
// scales times the activations' (and the minimums), in the decode rows' order.
static inline __attribute__((always_inline)) void KQ(finish)(int type, const float *d, const float *dmin, const int16_t (*m)[4][8],
                                                            __m512i (*acc)[4], const pk_q8_wide *x, size_t xs, const int R, float *f) {
    const __m512 dw = _mm512_load_ps(d), dminw = _mm512_load_ps(dmin);
#pragma unroll
    for (int a = 0; a < R; a++) {
        const pk_q8_wide *xa = x + a * xs;
        __m512 dx = _mm512_set1_ps(xa->d);
        __m512 term = _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(KQ(reduce4)(acc[a][0], acc[a][1], acc[a][2], acc[a][3])));
        if (type != 14) {
            __m512i xm = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)xa->msums)), z = _mm512_setzero_si512();
            __m512i mins = KQ(reduce4)(_mm512_dpwssd_epi32(z, _mm512_load_si512(m[0]), xm),
                                       _mm512_dpwssd_epi32(z, _mm512_load_si512(m[1]), xm),
                                       _mm512_dpwssd_epi32(z, _mm512_load_si512(m[2]), xm),
                                       _mm512_dpwssd_epi32(z, _mm512_load_si512(m[3]), xm));
            term = _mm512_sub_ps(term, _mm512_mul_ps(_mm512_mul_ps(dminw, dx), _mm512_cvtepi32_ps(mins)));
        }
        _mm512_storeu_ps(f + 16 * a, _mm512_add_ps(_mm512_loadu_ps(f + 16 * a), term));
    }
}

// f[16a + row] += this block's term for R activation rows (x[a·xs]) against the panel's rows.
static inline __attribute__((always_inline)) void KQ(tile)(int type, const pk_q8_panel *P, const pk_q8_wide *x,
                                                          size_t xs, const int R, float *f) {
    __m512i acc[6][4];
#pragma unroll
    for (int a = 0; a < R; a++)
#pragma unroll
        for (int g = 0; g < 4; g++) acc[a][g] = _mm512_setzero_si512();
#pragma unroll 2
    for (int t = 0; t < 32; t++) {
        __m512i wv[4];
#pragma unroll
        for (int g = 0; g < 4; g++) wv[g] = _mm512_load_si512(P->q[g][t]);
#pragma unroll
        for (int a = 0; a < R; a++) {
            __m512i xv = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(x[a * xs].qs + 8 * t)));
#pragma unroll
            for (int g = 0; g < 4; g++) acc[a][g] = KQ(dpwssd)(acc[a][g], wv[g], xv);
        }
    }
    KQ(finish)(type, P->d, P->dmin, P->m, acc, x, xs, R, f);
}
#define Q8_TILE_ROWS 6

// Q4_K and Q5_K on VNNI: the quants stay bytes (0…31) and vpdpbusd multiplies 64 of them by 64
// activations at once; the two vpdpbusd of a 32-value sub-block (at most 8·31·127 per lane, so a
// 16-bit value) then meet the sub-block's scale in one vpdpwssd: three instructions per 128
// multiply–adds of a row against four with the 16-bit panel.
typedef struct {
    uint8_t q[4][16][4][16];  // group g, values 16t…16t+15, slot s: row 4s + g
    int32_t sc[4][8][16];     // group g, sub-block: each slot's four lanes hold its row's scale
    int16_t m[4][4][8];
    float d[16], dmin[16];
} pk_q8_panel8;

static inline __attribute__((always_inline)) __m512i KQ(dpbusd)(__m512i acc, __m512i u8, __m512i s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
    return acc;
}

static inline __attribute__((always_inline)) __m512i KQ(dpwssd_m)(__m512i acc, __m512i a, const void *b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "m"(*(const __m512i *)b));
    return acc;
}

static void KQ(pack_row8)(int type, const uint8_t *b, pk_q8_panel8 *P, int row) {
    const int g = row & 3, s = row >> 2;
    uint32_t sw[2], mw[2];
    kquant_scales(b, sw, mw);
    const uint8_t *scb = (const uint8_t *)sw;
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    const __m256i hb = type == 13 ? _mm256_loadu_si256((const __m256i *)(b + 16)) : _mm256_setzero_si256();
#pragma unroll
    for (int p = 0; p < 4; p++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(b + (type == 12 ? 16 : 48) + 32 * p));
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (type == 13) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * p), one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * p + 1), one), 4));
        }
        _mm_store_si128((__m128i *)P->q[g][4 * p][s], _mm256_castsi256_si128(lo));
        _mm_store_si128((__m128i *)P->q[g][4 * p + 1][s], _mm256_extracti128_si256(lo, 1));
        _mm_store_si128((__m128i *)P->q[g][4 * p + 2][s], _mm256_castsi256_si128(hi));
        _mm_store_si128((__m128i *)P->q[g][4 * p + 3][s], _mm256_extracti128_si256(hi, 1));
        _mm_store_si128((__m128i *)&P->sc[g][2 * p][4 * s], _mm_set1_epi32(scb[2 * p]));
        _mm_store_si128((__m128i *)&P->sc[g][2 * p + 1][4 * s], _mm_set1_epi32(scb[2 * p + 1]));
    }
    _mm_store_si128((__m128i *)P->m[g][s], _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mw)));
    P->d[row] = h2f(b);
    P->dmin[row] = h2f(b + 2);
}

static inline __attribute__((always_inline)) void KQ(tile8)(int type, const pk_q8_panel8 *P, const pk_q8_wide *x,
                                                           size_t xs, const int R, float *f) {
    __m512i acc[6][4];
#pragma unroll
    for (int a = 0; a < R; a++)
#pragma unroll
        for (int g = 0; g < 4; g++) acc[a][g] = _mm512_setzero_si512();
    for (int sub = 0; sub < 8; sub++) {
        __m512i w0[4], w1[4];
#pragma unroll
        for (int g = 0; g < 4; g++) { w0[g] = _mm512_load_si512(P->q[g][2 * sub]); w1[g] = _mm512_load_si512(P->q[g][2 * sub + 1]); }
#pragma unroll
        for (int a = 0; a < R; a++) {
            __m512i x0 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(x[a * xs].qb + 32 * sub)));
            __m512i x1 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(x[a * xs].qb + 32 * sub + 16)));
#pragma unroll
            for (int g = 0; g < 4; g++) {
                __m512i t = KQ(dpbusd)(KQ(dpbusd)(_mm512_setzero_si512(), w0[g], x0), w1[g], x1);
                acc[a][g] = KQ(dpwssd_m)(acc[a][g], t, P->sc[g][sub]);
            }
        }
    }
    KQ(finish)(type, P->d, P->dmin, P->m, acc, x, xs, R, f);
}
#elif Q8_ISA == 1
static inline __attribute__((always_inline)) __m256i KQ(reduce4)(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    __m256i t01 = _mm256_add_epi32(_mm256_unpacklo_epi32(a0, a1), _mm256_unpackhi_epi32(a0, a1));
    __m256i t23 = _mm256_add_epi32(_mm256_unpacklo_epi32(a2, a3), _mm256_unpackhi_epi32(a2, a3));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
}

// The same tile in 256-bit halves (slots 0–1, then 2–3), vpmaddwd and vpaddd for vpdpwssd.
static inline __attribute__((always_inline)) void KQ(tile)(int type, const pk_q8_panel *P, const pk_q8_wide *x,
                                                          size_t xs, const int R, float *f) {
    for (int half = 0; half < 2; half++) {
        __m256i acc[2][4];
#pragma unroll
        for (int a = 0; a < R; a++)
#pragma unroll
            for (int g = 0; g < 4; g++) acc[a][g] = _mm256_setzero_si256();
        for (int t = 0; t < 32; t++) {
            __m256i wv[4];
#pragma unroll
            for (int g = 0; g < 4; g++) wv[g] = _mm256_load_si256((const __m256i *)P->q[g][t][2 * half]);
#pragma unroll
            for (int a = 0; a < R; a++) {
                __m256i xv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x[a * xs].qs + 8 * t)));
#pragma unroll
                for (int g = 0; g < 4; g++) acc[a][g] = _mm256_add_epi32(acc[a][g], _mm256_madd_epi16(wv[g], xv));
            }
        }
        const __m256 dw = _mm256_loadu_ps(P->d + 8 * half), dminw = _mm256_loadu_ps(P->dmin + 8 * half);
#pragma unroll
        for (int a = 0; a < R; a++) {
            const pk_q8_wide *xa = x + a * xs;
            __m256 dx = _mm256_set1_ps(xa->d);
            __m256 term = _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(KQ(reduce4)(acc[a][0], acc[a][1], acc[a][2], acc[a][3])));
            if (type != 14) {
                __m256i xm = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)xa->msums));
                __m256i mins = KQ(reduce4)(_mm256_madd_epi16(_mm256_load_si256((const __m256i *)P->m[0][2 * half]), xm),
                                           _mm256_madd_epi16(_mm256_load_si256((const __m256i *)P->m[1][2 * half]), xm),
                                           _mm256_madd_epi16(_mm256_load_si256((const __m256i *)P->m[2][2 * half]), xm),
                                           _mm256_madd_epi16(_mm256_load_si256((const __m256i *)P->m[3][2 * half]), xm));
                term = _mm256_sub_ps(term, _mm256_mul_ps(_mm256_mul_ps(dminw, dx), _mm256_cvtepi32_ps(mins)));
            }
            float *fa = f + 16 * a + 8 * half;
            _mm256_storeu_ps(fa, _mm256_add_ps(_mm256_loadu_ps(fa), term));
        }
    }
}
#define Q8_TILE_ROWS 2
#else
// Plain C: the same integers row by row, the same float operations per row.
static inline __attribute__((always_inline)) void KQ(tile)(int type, const pk_q8_panel *P, const pk_q8_wide *x,
                                                          size_t xs, const int R, float *f) {
    for (int a = 0; a < R; a++) {
        const pk_q8_wide *xa = x + a * xs;
        for (int row = 0; row < 16; row++) {
            const int g = row & 3, s = row >> 2;
            int32_t isum = 0, mins = 0;
            for (int t = 0; t < 32; t++)
                for (int k = 0; k < 8; k++) isum += P->q[g][t][s][k] * xa->qs[8 * t + k];
            float dx = xa->d;
            float term = (P->d[row] * dx) * (float)isum;
            if (type != 14) {
                for (int k = 0; k < 8; k++) mins += P->m[g][s][k] * xa->msums[k];
                term = term - (P->dmin[row] * dx) * (float)mins;
            }
            f[16 * a + row] += term;
        }
    }
}
#define Q8_TILE_ROWS 1
#endif

// out[i·os + r] = W_r · x_i for `rows` weight rows (Q4_K, Q5_K, Q6_K) and n activation rows in
// the batch layout. Sixteen rows at a time, block by block: each block is unpacked into the panel
// (8.5 KB, 6.5 KB as bytes; in L1 with the activations' block) and every activation row passes over it; the float
// sums of up to 64 activation rows wait on the stack.
// Tiles of `count` (1 to Q8_TILE_ROWS) activation rows, each width a constant after inlining;
// `eight` takes the byte panel (at most 4 rows).
static inline __attribute__((always_inline)) void KQ(tiles)(const int eight, int type, const void *P, const pk_q8_wide *x,
                                                           size_t xs, int count, float *f) {
#if Q8_ISA == 2
    if (eight) {
        switch (count) {
        case 1: KQ(tile8)(type, P, x, xs, 1, f); break;
        case 2: KQ(tile8)(type, P, x, xs, 2, f); break;
        case 3: KQ(tile8)(type, P, x, xs, 3, f); break;
        case 4: KQ(tile8)(type, P, x, xs, 4, f); break;
        default: break;
        }
        return;
    }
#endif
    (void)eight;
    switch (count) {
    case 1: KQ(tile)(type, P, x, xs, 1, f); break;
#if Q8_TILE_ROWS > 2
    case 2: KQ(tile)(type, P, x, xs, 2, f); break;
    case 3: KQ(tile)(type, P, x, xs, 3, f); break;
    case 4: KQ(tile)(type, P, x, xs, 4, f); break;
    case 5: KQ(tile)(type, P, x, xs, 5, f); break;
    case 6: KQ(tile)(type, P, x, xs, 6, f); break;
#elif Q8_TILE_ROWS == 2
    case 2: KQ(tile)(type, P, x, xs, 2, f); break;
#endif
    default: break;
    }
}

static inline __attribute__((always_inline)) void KQ(batch)(const int eight, int type, const uint8_t *w, size_t row_bytes,
                                                           int cols, int rows, const pk_q8_wide *x, int n, float *out, size_t os) {
    const int blocks = cols / 256, bs = type == 12 ? 144 : type == 13 ? 176 : 210;
    const int step = eight ? 4 : Q8_TILE_ROWS;
    union {
        pk_q8_panel p16;
#if Q8_ISA == 2
        pk_q8_panel8 p8;
#endif
    } P __attribute__((aligned(64)));
    float f[64 * 16];
    for (int i0 = 0; i0 < n; i0 += 64) {
        const int ni = n - i0 < 64 ? n - i0 : 64;
        for (int r0 = 0; r0 < rows; r0 += 16) {
            const int nr = rows - r0 < 16 ? rows - r0 : 16;
            if (nr < 16) memset(&P, 0, sizeof P);
            memset(f, 0, sizeof(float) * 16 * (size_t)ni);
            for (int j = 0; j < blocks; j++) {
                for (int row = 0; row < nr; row++) {
                    const uint8_t *b = w + (size_t)(r0 + row) * row_bytes + (size_t)j * bs;
                    // Sixteen rows are sixteen streams, more than the hardware prefetcher follows:
                    // the next block of each is fetched while every activation row meets this one.
                    if (j + 1 < blocks) for (int o = 0; o < bs; o += 64) __builtin_prefetch(b + bs + o);
#if Q8_ISA == 2
                    if (eight) { KQ(pack_row8)(type, b, &P.p8, row); continue; }
#endif
                    KQ(pack_row)(type, b, &P.p16, row);
                }
                const pk_q8_wide *xj = x + (size_t)i0 * blocks + j;
                int a = 0;
                for (; a + step <= ni; a += step) KQ(tiles)(eight, type, &P, xj + (size_t)a * blocks, blocks, step, f + 16 * a);
                // The last rows in one narrower tile.
                if (a < ni) KQ(tiles)(eight, type, &P, xj + (size_t)a * blocks, blocks, ni - a, f + 16 * a);
            }
            for (int a = 0; a < ni; a++)
                for (int row = 0; row < nr; row++) out[(size_t)(i0 + a) * os + r0 + row] = f[16 * a + row];
        }
    }
}

static void KQ(product_batch)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows,
                              const pk_q8_wide *x, int n, float *out, size_t os) {
#if Q8_ISA == 2
    if (type != 14) { KQ(batch)(1, type, w, row_bytes, cols, rows, x, n, out, os); return; }
#endif
    KQ(batch)(0, type, w, row_bytes, cols, rows, x, n, out, os);
}
#undef Q8_TILE_ROWS
