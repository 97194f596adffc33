// Integer products of 32-value block weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and activations
// quantised to 8 bits per 32 values, included once per instruction set by kernels.c with:
//   KB(name)  the name with the path's suffix
//   B8_ISA    0 plain C, 1 AVX2 (vpmaddubsw + vpmaddwd), 2 AVX-512 VNNI on 256-bit vectors (vpdpbusd)
//
// An activation row (pk_quantize_q8_32) is d[nbp] floats, sum[nbp] int32, the quants transposed
// for the batch tiles (per 8 blocks, bytes 4k…4k+3 of each block side by side: 32·nbp int8) and
// qs[cols] int8, where x ≈ d·q per block of 32, sum is the block's Σq and nbp the blocks rounded
// up to 8 (the padding is zero). Per block the weights' integer quants q meet the activations' in one exact integer
// sum: Σ (q − o)·y = Σ q·y − o·Σy for the offset o of Q4_0 (8), Q5_0 (16), and Q8_0 where the
// path biases its signed quants by 128. Eight blocks' sums then meet their scales together, in
// vectors of eight floats whose arithmetic is the same at every level:
//   acc += (d_w·d_x)·isum,  and for Q4_1/Q5_1  accm += m·(d_x·Σy),
// lane j taking blocks j, j+8, …, so every path returns the same bits.

typedef int32_t KB(vi8) __attribute__((ext_vector_type(8)));

// Bytes of one weight block of `type`, and where its quants start.
#define B32_BYTES(t) ((t) == 2 ? 18 : (t) == 3 ? 20 : (t) == 6 ? 22 : (t) == 7 ? 24 : 34)
#define B32_QS(t) ((t) == 2 ? 2 : (t) == 3 ? 4 : (t) == 6 ? 6 : (t) == 7 ? 8 : 2)
#define B32_MIN(t) ((t) == 3 || (t) == 7)

// The 8 blocks' float step: acc += (dw·dx)·isum; for minimums accm += m·(dx·Σy).
static inline __attribute__((always_inline)) void KB(combine)(const int type, vf8 *acc, vf8 *accm, vf8 dw, vf8 m,
                                                               const float *dx, const int32_t *sumy, KB(vi8) isum) {
    vf8 dxv; memcpy(&dxv, dx, 32);
    *acc = *acc + (dw * dxv) * __builtin_convertvector(isum, vf8);
    if (B32_MIN(type)) {
        KB(vi8) s; memcpy(&s, sumy, 32);
        *accm = *accm + m * (dxv * __builtin_convertvector(s, vf8));
    }
}

static inline __attribute__((always_inline)) float KB(hsum8)(vf8 a) {
    vf4 b = a.lo + a.hi;
    return (b.x + b.z) + (b.y + b.w);
}

#if B8_ISA > 0
#include <immintrin.h>

// Offset subtracted through the activations' block sums (log2), 0 for none.
#define B32_SHIFT(t) ((t) == 2 ? 3 : (t) == 6 ? 4 : ((t) == 8 && B8_ISA == 2) ? 7 : 0)

// One block's 32 quants as bytes in value order: unsigned for the 4- and 5-bit types; Q8_0 signed
// on AVX2 (vpsignb makes the product unsigned × signed) and biased by 128 on VNNI.
static inline __attribute__((always_inline)) __m256i KB(unpack)(const int type, const uint8_t *blk) {
    const __m256i m4 = _mm256_set1_epi8(15);
    if (type == 8) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
        return B8_ISA == 2 ? _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)) : w;
    }
    // Both halves from one broadcast load: low nibbles in the low 128 bits, high in the high.
    __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + B32_QS(type))));
    __m256i w = _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4)), m4);
    if (type == 6 || type == 7) {
        uint32_t qh; memcpy(&qh, blk + (type == 6 ? 2 : 4), 4);
#if B8_ISA == 2
        w = _mm256_mask_add_epi8(w, (__mmask32)qh, w, _mm256_set1_epi8(16));
#else
        // Byte j takes byte j/8 of qh, then its own bit of it.
        const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
        __m256i h = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), spread), bits);
        w = _mm256_or_si256(w, _mm256_and_si256(_mm256_cmpeq_epi8(h, bits), _mm256_set1_epi8(16)));
#endif
    }
    return w;
}

// Σ w·y in eight lanes (each the sum of four neighbouring products).
static inline __attribute__((always_inline)) __m256i KB(dot)(const int type, __m256i w, const int8_t *y) {
    __m256i yv = _mm256_loadu_si256((const __m256i *)y);
#if B8_ISA == 2
    (void)type;
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, yv);
#else
    const __m256i ones = _mm256_set1_epi16(1);
    // Pairs stay below 2·128·127 (Q8_0) and 2·31·127, so vpmaddubsw never saturates.
    if (type == 8) return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(yv, w)), ones);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, yv), ones);
#endif
}

// Eight vectors of lane sums to one vector of their totals, in order.
static inline __attribute__((always_inline)) __m256i KB(sum8)(const __m256i *v) {
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    __m256i c = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, c, 0x20), _mm256_permute2x128_si256(a, c, 0x31));
}

// Scales (and minimums) of `count` ≤ 8 blocks from their F16 fields, in one gather.
static inline __attribute__((always_inline)) void KB(scales)(const int type, const uint8_t *blk, int count, vf8 *dw, vf8 *m) {
    const int bs = B32_BYTES(type);
    const __m256i idx = _mm256_setr_epi32(0, bs, 2 * bs, 3 * bs, 4 * bs, 5 * bs, 6 * bs, 7 * bs);
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i g = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)blk, idx, mask, 1);
    // Low halves (d) to qword 0 of each 128-bit lane, high halves (m) to qword 1.
    const __m256i split = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                           0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    __m256i t = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, split), 0xD8);
    __m256 d = _mm256_cvtph_ps(_mm256_castsi256_si128(t));
    memcpy(dw, &d, 32);
    if (B32_MIN(type)) { __m256 mm = _mm256_cvtph_ps(_mm256_extracti128_si256(t, 1)); memcpy(m, &mm, 32); }
}

// `count` ≤ 8 blocks of one weight row against the same blocks of one activation row.
static inline __attribute__((always_inline)) void KB(group)(const int type, const uint8_t *blk, int count,
                                                             const float *dx, const int32_t *sumy, const int8_t *qs,
                                                             vf8 *acc, vf8 *accm) {
    __m256i l[8];
    vf8 dw = 0, m = 0;
    KB(scales)(type, blk, count, &dw, &m);
#pragma unroll
    for (int j = 0; j < 8; j++)
        l[j] = j < count ? KB(dot)(type, KB(unpack)(type, blk + j * B32_BYTES(type)), qs + 32 * j) : _mm256_setzero_si256();
    // A row's last group of at most four blocks (576 columns: 18 blocks) takes half the tree.
    __m256i isum;
    if (count <= 4) {
        __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(l[0], l[1]), _mm256_hadd_epi32(l[2], l[3]));
        isum = _mm256_zextsi128_si256(_mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)));
    } else {
        isum = KB(sum8)(l);
    }
    if (B32_SHIFT(type))
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)sumy), B32_SHIFT(type)));
    KB(vi8) iv; memcpy(&iv, &isum, 32);
    KB(combine)(type, acc, accm, dw, m, dx, sumy, iv);
}

// One block unpacked for the batch path: the bytes the dot reads.
static inline __attribute__((always_inline)) void KB(unpack_block)(const int type, const uint8_t *blk, uint8_t *ub) {
    __m256i w = KB(unpack)(type, blk);
    memcpy(ub, &w, 32);
}

// The batch tile: R activation rows × C weight rows over groups of 8 blocks in the transposed
// layout (vector k holds bytes 4k…4k+3 of the group's 8 blocks, block j in lane j), so the lanes'
// sums are the blocks' sums without a reduction.
static inline __attribute__((always_inline)) void KB(tile)(const int type, const uint8_t *const *wt, const float *const *dws,
                                                            const float *const *ms, const uint8_t *const *xr, int ng, int nbp,
                                                            float *out, size_t os, const int R, const int C) {
    vf8 acc[4][2], accm[4][2];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int c = 0; c < C; c++) acc[r][c] = accm[r][c] = 0;
    for (int g = 0; g < ng; g++) {
        __m256i s[4][2];
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
            for (int c = 0; c < C; c++) s[r][c] = _mm256_setzero_si256();
#pragma unroll
        for (int k = 0; k < 8; k++) {
            __m256i w[2];
#pragma unroll
            for (int c = 0; c < C; c++) w[c] = _mm256_loadu_si256((const __m256i *)(wt[c] + 256 * g + 32 * k));
#if B8_ISA == 1
            __m256i wa[2];
#pragma unroll
            for (int c = 0; c < C; c++) wa[c] = type == 8 ? _mm256_sign_epi8(w[c], w[c]) : w[c];
#endif
#pragma unroll
            for (int r = 0; r < R; r++) {
                __m256i y = _mm256_loadu_si256((const __m256i *)(xr[r] + 8 * (size_t)nbp + 256 * g + 32 * k));
#pragma unroll
                for (int c = 0; c < C; c++) {
#if B8_ISA == 2
                    s[r][c] = _mm256_dpbusd_epi32(s[r][c], w[c], y);
#else
                    __m256i p = _mm256_maddubs_epi16(wa[c], type == 8 ? _mm256_sign_epi8(y, w[c]) : y);
                    s[r][c] = _mm256_add_epi32(s[r][c], _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
#endif
                }
            }
        }
#pragma unroll
        for (int r = 0; r < R; r++) {
            const float *dx = (const float *)xr[r] + 8 * g;
            const int32_t *sumy = (const int32_t *)(xr[r] + 4 * (size_t)nbp) + 8 * g;
#pragma unroll
            for (int c = 0; c < C; c++) {
                __m256i isum = s[r][c];
                if (B32_SHIFT(type))
                    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)sumy), B32_SHIFT(type)));
                KB(vi8) iv; memcpy(&iv, &isum, 32);
                vf8 dw, m = 0;
                memcpy(&dw, dws[c] + 8 * g, 32);
                if (B32_MIN(type)) memcpy(&m, ms[c] + 8 * g, 32);
                KB(combine)(type, &acc[r][c], &accm[r][c], dw, m, dx, sumy, iv);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int c = 0; c < C; c++) out[(size_t)r * os + c] = KB(hsum8)(acc[r][c]) + KB(hsum8)(accm[r][c]);
}
#else
// Portable: each block's quants less their offset, as signed bytes (Q5_0's −16…15 fit).
static inline __attribute__((always_inline)) void KB(unpack_block)(const int type, const uint8_t *blk, uint8_t *ub) {
    int8_t *v = (int8_t *)ub;
    if (type == 8) { memcpy(v, blk + 2, 32); return; }
    const uint8_t *q = blk + B32_QS(type);
    uint32_t qh = 0;
    if (type == 6 || type == 7) memcpy(&qh, blk + (type == 6 ? 2 : 4), 4);
    const int o = type == 2 ? 8 : type == 6 ? 16 : 0;
    for (int k = 0; k < 16; k++) {
        v[k] = (int8_t)(((q[k] & 15) | (((qh >> k) & 1) << 4)) - o);
        v[k + 16] = (int8_t)(((q[k] >> 4) | (((qh >> (k + 16)) & 1) << 4)) - o);
    }
}

static inline __attribute__((always_inline)) void KB(group)(const int type, const uint8_t *blk, int count,
                                                             const float *dx, const int32_t *sumy, const int8_t *qs,
                                                             vf8 *acc, vf8 *accm) {
    float dw[8] = {0}, m[8] = {0};
    int32_t is[8] = {0};
    for (int j = 0; j < count; j++) {
        int8_t w[32];
        const uint8_t *b = blk + j * B32_BYTES(type);
        KB(unpack_block)(type, b, (uint8_t *)w);
        dw[j] = h2f(b);
        if (B32_MIN(type)) m[j] = h2f(b + 2);
        int32_t s = 0;
        for (int k = 0; k < 32; k++) s += w[k] * qs[32 * j + k];
        is[j] = s;
    }
    vf8 dwv, mv;
    KB(vi8) iv;
    memcpy(&dwv, dw, 32); memcpy(&mv, m, 32); memcpy(&iv, is, 32);
    KB(combine)(type, acc, accm, dwv, mv, dx, sumy, iv);
}

static inline __attribute__((always_inline)) void KB(tile)(const int type, const uint8_t *const *wt, const float *const *dws,
                                                            const float *const *ms, const uint8_t *const *xr, int ng, int nbp,
                                                            float *out, size_t os, const int R, const int C) {
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            vf8 acc = 0, accm = 0;
            const int8_t *wq = (const int8_t *)wt[c], *yq = (const int8_t *)(xr[r] + 8 * (size_t)nbp);
            for (int g = 0; g < ng; g++) {
                KB(vi8) iv = 0;
                for (int k = 0; k < 8; k++)
                    for (int l = 0; l < 8; l++)
                        for (int b = 0; b < 4; b++) iv[l] += wq[256 * g + 32 * k + 4 * l + b] * yq[256 * g + 32 * k + 4 * l + b];
                vf8 dw, m = 0;
                memcpy(&dw, dws[c] + 8 * g, 32);
                if (B32_MIN(type)) memcpy(&m, ms[c] + 8 * g, 32);
                KB(combine)(type, &acc, &accm, dw, m, (const float *)xr[r] + 8 * g,
                            (const int32_t *)(xr[r] + 4 * (size_t)nbp) + 8 * g, iv);
            }
            out[(size_t)r * os + c] = KB(hsum8)(acc) + KB(hsum8)(accm);
        }
}
#endif

// W_r · x for one weight row straight from its blocks; xr is one quantised activation row.
static inline __attribute__((always_inline)) float KB(row)(const int type, const uint8_t *b, int nb, int nbp, const uint8_t *xr) {
    const float *dx = (const float *)xr;
    const int32_t *sumy = (const int32_t *)(xr + 4 * (size_t)nbp);
    const int8_t *qs = (const int8_t *)(xr + 40 * (size_t)nbp);
    const int bs = B32_BYTES(type);
    vf8 acc = 0, accm = 0;
    int g = 0;
    for (; g + 8 <= nb; g += 8) KB(group)(type, b + g * bs, 8, dx + g, sumy + g, qs + 32 * g, &acc, &accm);
    if (g < nb) KB(group)(type, b + g * bs, nb - g, dx + g, sumy + g, qs + 32 * g, &acc, &accm);
    return KB(hsum8)(acc) + KB(hsum8)(accm);
}

// Weight rows unpacked at a time by the batch path (every activation row then meets them all).
#define B32_CHUNK 16

// out[i·os + r] = W_r · x_i. One activation row streams the weight rows from their blocks. Several
// unpack B32_CHUNK weight rows at a time into the transposed layout (bytes, scales, minimums),
// which tiles of 4 activation rows × 2 weight rows then read.
static inline __attribute__((always_inline)) void KB(product_rows)(const int type, const uint8_t *w, size_t row_bytes,
                                                                    int cols, int rows, const uint8_t *xq, int n,
                                                                    float *out, size_t os) {
    const int nb = cols / 32, nbp = (nb + 7) & ~7, ng = nbp / 8;
    const size_t xrow = 40 * (size_t)nbp + (size_t)cols;
    if (n == 1) {
        // Each row prefetches PREFETCH_AHEAD bytes beyond its own, as the F32 rows do.
        for (int r = 0; r < rows; r++) {
            const uint8_t *row = w + (size_t)r * row_bytes;
            prefetch_ahead(row, (int)row_bytes);
            out[r] = KB(row)(type, row, nb, nbp, xq);
        }
        return;
    }
    uint8_t *ub = malloc((size_t)B32_CHUNK * 40 * (size_t)nbp + 64);
    if (!ub) return;
    float *dwall = (float *)(ub + (size_t)B32_CHUNK * 32 * nbp), *mall = dwall + (size_t)B32_CHUNK * nbp;
    for (int r0 = 0; r0 < rows; r0 += B32_CHUNK) {
        const int t1 = rows - r0 < B32_CHUNK ? rows - r0 : B32_CHUNK;
        for (int t = 0; t < t1; t++) {
            const uint8_t *b = w + (size_t)(r0 + t) * row_bytes;
            uint8_t *wt = ub + (size_t)t * 32 * nbp;
            float *dw = dwall + (size_t)t * nbp, *m = mall + (size_t)t * nbp;
                        for (int j = 0; j < nbp; j++) {
                if (j >= nb) { dw[j] = m[j] = 0; continue; }
                const uint8_t *blk = b + (size_t)j * B32_BYTES(type);
                uint8_t v[32];
                KB(unpack_block)(type, blk, v);
                for (int k = 0; k < 8; k++) memcpy(wt + 256 * (j / 8) + 32 * k + 4 * (j % 8), v + 4 * k, 4);
                dw[j] = h2f(blk);
                m[j] = B32_MIN(type) ? h2f(blk + 2) : 0;
            }
            for (int j = nb; j < nbp; j++)
                for (int k = 0; k < 8; k++) memset(wt + 256 * (j / 8) + 32 * k + 4 * (j % 8), 0, 4);
        }
        for (int i = 0; i < n; i += 4) {
            const int R = n - i < 4 ? n - i : 4;
            const uint8_t *xr[4];
            for (int r = 0; r < 4; r++) xr[r] = xq + (size_t)(i + (r < R ? r : 0)) * xrow;
            for (int t = 0; t < t1; t += 2) {
                const int C = t1 - t < 2 ? 1 : 2;
                const uint8_t *wt[2] = {ub + (size_t)t * 32 * nbp, ub + (size_t)(t + C - 1) * 32 * nbp};
                const float *dw[2] = {dwall + (size_t)t * nbp, dwall + (size_t)(t + C - 1) * nbp};
                const float *m[2] = {mall + (size_t)t * nbp, mall + (size_t)(t + C - 1) * nbp};
                float *o = out + (size_t)i * os + r0 + t;
                if (R == 4 && C == 2) KB(tile)(type, wt, dw, m, xr, ng, nbp, o, os, 4, 2);
                else if (C == 2) for (int r = 0; r < R; r++) KB(tile)(type, wt, dw, m, xr + r, ng, nbp, o + (size_t)r * os, os, 1, 2);
                else if (R == 4) KB(tile)(type, wt, dw, m, xr, ng, nbp, o, os, 4, 1);
                else for (int r = 0; r < R; r++) KB(tile)(type, wt, dw, m, xr + r, ng, nbp, o + (size_t)r * os, os, 1, 1);
            }
        }
    }
    free(ub);
}

static void KB(product)(int type, const uint8_t *w, size_t row_bytes, int cols, int rows, const uint8_t *xq, int n,
                        float *out, size_t os) {
    switch (type) {
    case 2: KB(product_rows)(2, w, row_bytes, cols, rows, xq, n, out, os); break;
    case 3: KB(product_rows)(3, w, row_bytes, cols, rows, xq, n, out, os); break;
    case 6: KB(product_rows)(6, w, row_bytes, cols, rows, xq, n, out, os); break;
    case 7: KB(product_rows)(7, w, row_bytes, cols, rows, xq, n, out, os); break;
    case 8: KB(product_rows)(8, w, row_bytes, cols, rows, xq, n, out, os); break;
    default: break;
    }
}

#undef B32_SHIFT
