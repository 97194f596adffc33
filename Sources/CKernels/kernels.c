// Run-time dispatch over the kernels of kernels_impl.h, compiled three times: for AVX-512, for
// AVX2 + FMA, and portable. Swift cannot build one function for several instruction sets and pick
// one when it runs; C can, per function, so the binary runs on any x86-64 CPU.

#include "CKernels.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float vf16 __attribute__((ext_vector_type(16)));
typedef float vf8 __attribute__((ext_vector_type(8)));
typedef float vf4 __attribute__((ext_vector_type(4)));
typedef int32_t vi16 __attribute__((ext_vector_type(16)));
typedef uint32_t vu16 __attribute__((ext_vector_type(16)));
typedef uint16_t vh16 __attribute__((ext_vector_type(16)));
typedef _Float16 vhf16 __attribute__((ext_vector_type(16)));
typedef uint8_t vb16 __attribute__((ext_vector_type(16)));
typedef uint8_t vb8 __attribute__((ext_vector_type(8)));
typedef int8_t vsb16 __attribute__((ext_vector_type(16)));

// 256 activations as 8-bit integers: x ≈ d·q, with the sum of each 16 quants for the blocks'
// minimums and offsets.
typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} pk_q8_block;

// The same activations widened for batches: 16-bit quants (the VNNI and AVX2 products multiply
// 16-bit pairs), the sums of each 32 for the K-quants' minimums, and the scale.
typedef struct {
    int16_t qs[256];
    int8_t qb[256];           // the same quants as bytes (the VNNI Q4_K/Q5_K tile)
    int16_t msums[8];
    float d;
    float pad[3];
} pk_q8_wide;

// Sixteen weight rows of one 256-value block, unpacked once for every activation row of a batch:
// each quant times its sub-block's scale (and less Q6_K's offset) as 16 bits, four rows side by
// side in every 64 bytes so that one 128-bit broadcast of 8 activations meets four rows at once.
typedef struct {
    int16_t q[4][32][4][8];   // group g, values 8t…8t+7, slot s: row 4s + g
    int16_t m[4][4][8];       // group g, slot s: the row's eight minimums (Q4_K, Q5_K)
    float d[16], dmin[16];    // per row
} pk_q8_panel;

// Bytes ahead of the block being multiplied that decode products prefetch (every block type).
#define PREFETCH_AHEAD 2048

// Asks for the cache lines of the `bytes` bytes that start PREFETCH_AHEAD beyond p: a decode row's
// next blocks, while this one is multiplied.
static inline __attribute__((always_inline)) void prefetch_ahead(const uint8_t *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) __builtin_prefetch(p + PREFETCH_AHEAD + o);
}

// Dequantisation rounds like the GGUF reader (multiply, then add); only the products fuse.
#pragma clang fp contract(off)
// Helpers that pass 16-lane vectors are always inlined, so their ABI never matters.
#pragma clang diagnostic ignored "-Wpsabi"

// Binary16 bits to float, exactly, with the GGUF reader's arithmetic (`halfToFloat`): normal values
// are the bits with the exponent rebased (15 → 127), subnormals their 10-bit mantissa × 2⁻²⁴ (an
// exact product of normal floats), infinities and NaNs keep their payload. No subnormal float ever
// reaches the FPU: an Intel core takes a microcode assist of about 150 cycles for each, and nearly
// every Q6_K block scale is a binary16 subnormal (d ≈ 1e-5, below the smallest normal 6.1e-5).
// Rebasing with one multiply by 2¹¹², exact as well, multiplies such a subnormal and makes an
// 8-bit Q6_K product 6× slower there. Plain scalar C, so one definition serves every level below.
static inline __attribute__((always_inline)) float h2f(const uint8_t *p) {
    uint16_t h; memcpy(&h, p, 2);
    uint32_t bits = (uint32_t)(h & 0x7FFF) << 13, exponent = h & 0x7C00, tiny;
    float sub = (float)(h & 0x3FF) * 0x1p-24f;
    memcpy(&tiny, &sub, 4);
    uint32_t mag = exponent == 0x7C00 ? (bits | 0x7F800000u) : exponent == 0 ? tiny : bits + (112u << 23);
    mag |= (uint32_t)(h & 0x8000) << 16;
    float f; memcpy(&f, &mag, 4);
    return f;
}

// The eight 6-bit scales (sw) and minimums (mw) of a Q4_K/Q5_K block, one per byte, read four at
// a time from the block's twelve bytes after d and dmin: bytes 0–3 hold scales 0–3 and the top
// bits of scales 4–7, bytes 4–7 the same for the minimums, bytes 8–11 the low nibbles of scales
// and minimums 4–7. Plain scalar C, so one definition serves every level below.
static inline __attribute__((always_inline)) void kquant_scales(const uint8_t *b, uint32_t sw[2], uint32_t mw[2]) {
    uint32_t a, c, e;
    memcpy(&a, b + 4, 4); memcpy(&c, b + 8, 4); memcpy(&e, b + 12, 4);
    sw[0] = a & 0x3F3F3F3Fu; sw[1] = (e & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u);
    mw[0] = c & 0x3F3F3F3Fu; mw[1] = ((e >> 4) & 0x0F0F0F0Fu) | ((c >> 2) & 0x30303030u);
}

// Portable: 8-lane vectors, a 4×2 tile (16 registers on SSE2).
#define KN(name) name##_portable
#define VF vf8
#define VL 8
#define TR 4
#define TW 2
#define FUSED 0
#define F16C 0
#include "kernels_impl.h"
#undef KN
#undef VF
#undef VL
#undef TR
#undef TW
#undef FUSED
#undef F16C

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi,bmi2"))), apply_to = function)
#define KN(name) name##_avx2
#define VF vf8
#define VL 8
#define TR 4
#define TW 3
#define FUSED 1
#define F16C 1
#include "kernels_impl.h"
#undef KN
#undef VF
#undef VL
#undef TR
#undef TW
#undef FUSED
#undef F16C
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi,bmi2"))), apply_to = function)
#define KN(name) name##_avx512
#define VF vf16
#define VL 16
#define TR 4
#define TW 4
#define FUSED 1
#define F16C 1
#include "kernels_impl.h"
#undef KN
#undef VF
#undef VL
#undef TR
#undef TW
#undef FUSED
#undef F16C
#pragma clang attribute pop

// 8-bit activations against K-quant blocks (kernels_q8.h): plain C, AVX2, AVX-512 VNNI.
#define KQ(name) name##_q8portable
#define Q8_ISA 0
#include "kernels_q8.h"
#undef KQ
#undef Q8_ISA

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define KQ(name) name##_q8avx2
#define Q8_ISA 1
#include "kernels_q8.h"
#undef KQ
#undef Q8_ISA
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#define KQ(name) name##_q8vnni
#define Q8_ISA 2
#include "kernels_q8.h"
#undef KQ
#undef Q8_ISA
#pragma clang attribute pop

// 8-bit activations against 32-value blocks (kernels_q8_32.h): plain C, AVX2, AVX-512 VNNI.
#define KB(name) name##_b32portable
#define B8_ISA 0
#include "kernels_q8_32.h"
#undef KB
#undef B8_ISA

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define KB(name) name##_b32avx2
#define B8_ISA 1
#include "kernels_q8_32.h"
#undef KB
#undef B8_ISA
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#define KB(name) name##_b32vnni
#define B8_ISA 2
#include "kernels_q8_32.h"
#undef KB
#undef B8_ISA
#pragma clang attribute pop
#endif

#include <cpuid.h>

// AVX-512 VNNI (vpdpbusd), which the AVX-512 level does not require.
static int detect_vnni(void) {
    unsigned a, b, c, d;
    if (pk_best_level() < PK_AVX512 || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (c >> 11) & 1;
}

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

// What the CPU and the operating system both support (the OS must save the wide registers).
static int detect_level(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return PK_PORTABLE;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave) return PK_PORTABLE;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 6) != 6) return PK_PORTABLE;                      // SSE and AVX state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return PK_PORTABLE;
    int avx2 = (b >> 5) & 1, bmi1 = (b >> 3) & 1, bmi2 = (b >> 8) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    if (!(avx2 && fma && f16c && bmi1 && bmi2)) return PK_PORTABLE;
    if (avx512f && avx512dq && avx512bw && avx512vl && (xcr0 & 0xE6) == 0xE6) return PK_AVX512;
    return PK_AVX2;
}
#else
static int detect_level(void) { return PK_PORTABLE; }
static int detect_vnni(void) { return 0; }
#endif

int pk_best_level(void) {
    static int level = -1;
    if (level < 0) {
        int best = detect_level();
        // PERISCOPE_KERNELS=portable|avx2 caps the level (to compare paths on one machine).
        const char *cap = getenv("PERISCOPE_KERNELS");
        if (cap && strcmp(cap, "portable") == 0) best = PK_PORTABLE;
        else if (cap && strcmp(cap, "avx2") == 0 && best > PK_AVX2) best = PK_AVX2;
        level = best;
    }
    return level;
}

int pk_supports(int type) {
    switch (type) {
    case 0: case 1: case 2: case 3: case 6: case 7: case 8: case 12: case 13: case 14: case 30: return 1;
    default: return 0;
    }
}

int pk_block_values(int type) {
    switch (type) {
    case 0: case 1: case 30: return 1;
    case 12: case 13: case 14: return 256;
    default: return 32;
    }
}

int pk_block_bytes(int type) {
    switch (type) {
    case 0: return 4;
    case 1: case 30: return 2;
    case 2: return 18;
    case 3: return 20;
    case 6: return 22;
    case 7: return 24;
    case 8: return 34;
    case 12: return 144;
    case 13: return 176;
    case 14: return 210;
    default: return 0;
    }
}

// A level the CPU cannot run falls back to the best it can.
static int usable(int level) { int best = pk_best_level(); return level > best ? best : level; }

void pk_dequantize_rows(int level, int type, const void *w, size_t row_bytes, int cols, int rows, float *out) {
#define ARGS (type, (const uint8_t *)w, row_bytes, cols, rows, out)
    switch (usable(level)) {
#if defined(__x86_64__)
    case PK_AVX512: dequantize_rows_avx512 ARGS; break;
    case PK_AVX2: dequantize_rows_avx2 ARGS; break;
#endif
    default: dequantize_rows_portable ARGS; break;
    }
#undef ARGS
}

void pk_product(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                const float *x, int n, float *out, size_t out_stride, float *scratch, int chunk_rows) {
#define ARGS (type, (const uint8_t *)w, row_bytes, cols, rows, x, n, out, out_stride, scratch, chunk_rows)
    switch (usable(level)) {
#if defined(__x86_64__)
    case PK_AVX512: product_avx512 ARGS; break;
    case PK_AVX2: product_avx2 ARGS; break;
#endif
    default: product_portable ARGS; break;
    }
#undef ARGS
}

void pk_block_sums(int level, const float *x, int cols, float *xs) {
    switch (usable(level)) {
#if defined(__x86_64__)
    case PK_AVX512: block_sums_avx512(x, cols, xs); break;
    case PK_AVX2: block_sums_avx2(x, cols, xs); break;
#endif
    default: block_sums_portable(x, cols, xs); break;
    }
}

void pk_product_row(int level, int type, const void *w, size_t row_bytes, int cols, int rows, const float *x,
                    const float *xs, float *out, size_t out_stride) {
#define ARGS (type, (const uint8_t *)w, row_bytes, cols, rows, x, xs, out, out_stride)
    switch (usable(level)) {
#if defined(__x86_64__)
    case PK_AVX512: product_row_avx512 ARGS; break;
    case PK_AVX2: product_row_avx2 ARGS; break;
#endif
    default: product_row_portable ARGS; break;
    }
#undef ARGS
}

void pk_gemm_f32(int level, const float *x, int n, const float *w, int rows, int cols, float *out, size_t out_stride) {
#define ARGS (x, n, w, rows, cols, out, out_stride)
    switch (usable(level)) {
#if defined(__x86_64__)
    case PK_AVX512: gemm_avx512 ARGS; break;
    case PK_AVX2: gemm_avx2 ARGS; break;
#endif
    default: gemm_portable ARGS; break;
    }
#undef ARGS
}

void pk_attention_scores(int level, float *row, const float *q, const float *keys, size_t stride, int count,
                         int head_dim, float scale) {
#define ARGS (row, q, keys, stride, count, head_dim, scale)
    switch (usable(level)) {
#if defined(__x86_64__)
    case PK_AVX512: attention_scores_avx512 ARGS; break;
    case PK_AVX2: attention_scores_avx2 ARGS; break;
#endif
    default: attention_scores_portable ARGS; break;
    }
#undef ARGS
}

void pk_attention_values(int level, float *z, const float *p, const float *values, size_t stride, int count,
                         int head_dim) {
#define ARGS (z, p, values, stride, count, head_dim)
    switch (usable(level)) {
#if defined(__x86_64__)
    case PK_AVX512: attention_values_avx512 ARGS; break;
    case PK_AVX2: attention_values_avx2 ARGS; break;
#endif
    default: attention_values_portable ARGS; break;
    }
#undef ARGS
}

// MARK: - 8-bit activations

size_t pk_q8_row_bytes(int cols) { return (size_t)(cols / 256) * sizeof(pk_q8_block); }

int pk_q8_supports(int type) { return type == 12 || type == 13 || type == 14; }

// One block of 256 activations to 8 bits: the largest magnitude becomes ±127, every value rounds
// to nearest (even on ties).
static void quantize_block_portable(const float *v, pk_q8_block *y) {
    float amax = 0;
    for (int k = 0; k < 256; k++) { float a = v[k] < 0 ? -v[k] : v[k]; amax = a > amax ? a : amax; }
    memset(y, 0, sizeof *y);
    if (!(amax > 0)) return;
    float iscale = 127.0f / amax;
    for (int k = 0; k < 256; k++) {
        float q = __builtin_rintf(iscale * v[k]);
        y->qs[k] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
    for (int g = 0; g < 16; g++) {
        int s = 0;
        for (int k = 0; k < 16; k++) s += y->qs[16 * g + k];
        y->bsums[g] = (int16_t)s;
    }
    y->d = amax / 127.0f;
}

#if defined(__x86_64__)
#include <immintrin.h>
// The same arithmetic sixteen values at a time (the portable block calls rintf per value): the
// caller quantises each decode product's row before the cores share it, so this time is serial.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
static void quantize_block_avx512(const float *v, pk_q8_block *y) {
    __m512 mx = _mm512_setzero_ps();
    for (int k = 0; k < 256; k += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(v + k)));
    float amax = _mm512_reduce_max_ps(mx);
    memset(y, 0, sizeof *y);
    if (!(amax > 0)) return;
    const __m512 is = _mm512_set1_ps(127.0f / amax), hi = _mm512_set1_ps(127), lo = _mm512_set1_ps(-127);
    for (int g = 0; g < 16; g++) {
        __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(is, _mm512_loadu_ps(v + 16 * g)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512i qi = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(q, lo), hi));
        _mm_storeu_si128((__m128i *)(y->qs + 16 * g), _mm512_cvtepi32_epi8(qi));
        y->bsums[g] = (int16_t)_mm512_reduce_add_epi32(qi);
    }
    y->d = amax / 127.0f;
}
#endif

void pk_quantize_q8(int level, const float *x, int cols, int n, void *out) {
    pk_q8_block *y = (pk_q8_block *)out;
    int use = usable(level);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cols / 256; j++, y++) {
            const float *v = x + (size_t)i * cols + 256 * j;
#if defined(__x86_64__)
            if (use == PK_AVX512) { quantize_block_avx512(v, y); continue; }
#endif
            quantize_block_portable(v, y);
        }
}

void pk_product_q8(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                   const void *xq, int n, float *out, size_t out_stride) {
    static int vnni = -1;
    if (vnni < 0) vnni = detect_vnni();
#define ARGS (type, (const uint8_t *)w, row_bytes, cols, rows, (const pk_q8_block *)xq, n, out, out_stride)
    int use = usable(level);
#if defined(__x86_64__)
    if (use == PK_AVX512 && vnni) { product_q8vnni ARGS; return; }
    if (use >= PK_AVX2) { product_q8avx2 ARGS; return; }
#endif
    (void)use;
    product_q8portable ARGS;
#undef ARGS
}

size_t pk_q8_batch_row_bytes(int cols) { return (size_t)(cols / 256) * sizeof(pk_q8_wide); }

void pk_quantize_q8_batch(int level, const float *x, int cols, int n, void *out) {
    pk_q8_wide *y = (pk_q8_wide *)out;
    pk_q8_block b;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cols / 256; j++, y++) {
            pk_quantize_q8(level, x + (size_t)i * cols + 256 * j, 256, 1, &b);
            for (int k = 0; k < 256; k++) y->qs[k] = b.qs[k];
            memcpy(y->qb, b.qs, 256);
            for (int s = 0; s < 8; s++) y->msums[s] = (int16_t)(b.bsums[2 * s] + b.bsums[2 * s + 1]);
            y->d = b.d;
            y->pad[0] = y->pad[1] = y->pad[2] = 0;
        }
}

void pk_product_q8_batch(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                         const void *xq, int n, float *out, size_t out_stride) {
    static int vnni = -1;
    if (vnni < 0) vnni = detect_vnni();
#define ARGS (type, (const uint8_t *)w, row_bytes, cols, rows, (const pk_q8_wide *)xq, n, out, out_stride)
    int use = usable(level);
#if defined(__x86_64__)
    if (use == PK_AVX512 && vnni) { product_batch_q8vnni ARGS; return; }
    if (use >= PK_AVX2) { product_batch_q8avx2 ARGS; return; }
#endif
    (void)use;
    product_batch_q8portable ARGS;
#undef ARGS
}

// MARK: - 8-bit activations, 32-value blocks

int pk_q8_32_supports(int type) { return type == 2 || type == 3 || type == 6 || type == 7 || type == 8; }

// A row's layout (kernels_q8_32.h): d[nbp], sum[nbp], the quants transposed for the batch tiles
// (per 8 blocks, bytes 4k…4k+3 of each block side by side), then qs[cols]; padding zero.
size_t pk_q8_32_row_bytes(int cols) {
    size_t nbp = (size_t)((cols / 32 + 7) & ~7);
    return 40 * nbp + (size_t)(cols / 32) * 32;
}

void pk_quantize_q8_32(const float *x, int cols, int n, void *out) {
    const int nb = cols / 32, nbp = (nb + 7) & ~7;
    for (int i = 0; i < n; i++) {
        uint8_t *row = (uint8_t *)out + (size_t)i * pk_q8_32_row_bytes(cols);
        float *d = (float *)row;
        int32_t *sums = (int32_t *)(row + 4 * (size_t)nbp);
        int8_t *qt = (int8_t *)(row + 8 * (size_t)nbp), *qs = qt + 32 * (size_t)nbp;
        memset(row, 0, 8 * (size_t)nbp);
        memset(qt, 0, 32 * (size_t)nbp);
        for (int j = 0; j < nb; j++) {
            const float *v = x + (size_t)i * cols + 32 * j;
            float amax = 0;
            for (int k = 0; k < 32; k++) { float a = v[k] < 0 ? -v[k] : v[k]; amax = a > amax ? a : amax; }
            int s = 0;
            if (amax > 0) {
                float iscale = 127.0f / amax;
                // Round to nearest even through 1.5·2²³ (rintf's result for |v| ≤ 127, and it
                // vectorises where rintf is a library call).
                for (int k = 0; k < 32; k++) {
                    float q = (iscale * v[k] + 0x1.8p23f) - 0x1.8p23f;
                    qs[32 * j + k] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
                }
                for (int k = 0; k < 32; k++) s += qs[32 * j + k];
                d[j] = amax / 127.0f;
            } else {
                memset(qs + 32 * j, 0, 32);
            }
            sums[j] = s;
            for (int k = 0; k < 8; k++) memcpy(qt + 256 * (j / 8) + 32 * k + 4 * (j % 8), qs + 32 * j + 4 * k, 4);
        }
    }
}

void pk_product_q8_32(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                      const void *xq, int n, float *out, size_t out_stride) {
    static int vnni = -1;
    if (vnni < 0) vnni = detect_vnni();
#define ARGS (type, (const uint8_t *)w, row_bytes, cols, rows, (const uint8_t *)xq, n, out, out_stride)
    int use = usable(level);
#if defined(__x86_64__)
    if (use == PK_AVX512 && vnni) { product_b32vnni ARGS; return; }
    if (use >= PK_AVX2) { product_b32avx2 ARGS; return; }
#endif
    (void)use;
    product_b32portable ARGS;
#undef ARGS
}
