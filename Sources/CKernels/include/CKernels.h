#ifndef PERISCOPE_CKERNELS_H
#define PERISCOPE_CKERNELS_H

#include <stddef.h>

// Weight-matrix products read straight from GGUF blocks, compiled once per instruction set and
// chosen at run time from what the CPU reports. Types are GGML type ids (0 F32, 1 F16, 2 Q4_0,
// 3 Q4_1, 6 Q5_0, 7 Q5_1, 8 Q8_0, 12 Q4_K, 13 Q5_K, 14 Q6_K, 30 BF16).

/// Instruction sets the kernels are built for; higher is wider.
enum {
    PK_PORTABLE = 0,   // plain C vectors (SSE2 on x86-64, NEON on arm64)
    PK_AVX2 = 1,       // AVX2 + FMA
    PK_AVX512 = 2,     // AVX-512 F/BW/VL/DQ
};

/// The widest level this CPU runs.
int pk_best_level(void);

/// Whether the kernels read blocks of GGML type `type` directly.
int pk_supports(int type);

/// Values in one block of `type` (1 for plain types), and its bytes.
int pk_block_values(int type);
int pk_block_bytes(int type);

/// out[r·cols + k] = value k of row r, for `rows` rows `row_bytes` apart starting at `w`
/// (cols a multiple of the type's block). The arithmetic is the GGUF dequantiser's (multiply, then
/// add, each rounded), so every level gives the same bits.
void pk_dequantize_rows(int level, int type, const void *w, size_t row_bytes, int cols, int rows, float *out);

/// out[i·out_stride + r] = Σ_k x[i·cols + k] · W[r][k] for r < rows, i < n, where W's rows are
/// `row_bytes` apart from `w` in `type`'s blocks. Rows are dequantised `chunk_rows` at a time into
/// `scratch` (chunk_rows·cols floats; F32 rows are read in place), then multiplied by every x row.
/// One x row (decode) is multiplied by the blocks in registers instead: no dequantised copy, the
/// scratch holds Σx per 32 values.
void pk_product(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                const float *x, int n, float *out, size_t out_stride, float *scratch, int chunk_rows);

/// xs[j] = Σ x over values 32j..<32j+32 (cols/32 sums, each in order): what `pk_product_row` needs
/// of its activation row, computed once for every call on that row.
void pk_block_sums(int level, const float *x, int cols, float *xs);

/// pk_product for one activation row (n = 1) with `xs` from pk_block_sums(x): the same bits, without
/// the sums per call, so a decode product split into many tasks sums x once.
void pk_product_row(int level, int type, const void *w, size_t row_bytes, int cols, int rows, const float *x,
                    const float *xs, float *out, size_t out_stride);

/// out[i·out_stride + r] = Σ_k x[i·cols + k] · w[r·cols + k]: the F32 register-tile kernel.
void pk_gemm_f32(int level, const float *x, int n, const float *w, int rows, int cols, float *out, size_t out_stride);

/// row[j] = scale · q·k_j for keys j < count (key j at keys + j·stride): one query head's scores.
void pk_attention_scores(int level, float *row, const float *q, const float *keys, size_t stride, int count,
                         int head_dim, float scale);

/// z[c] = Σ_j p[j] · v_j[c] for values j < count (value j at values + j·stride): one head's output.
void pk_attention_values(int level, float *z, const float *p, const float *values, size_t stride, int count,
                         int head_dim);

/// Bytes of one activation row of `cols` values (a multiple of 256) quantised to 8 bits.
size_t pk_q8_row_bytes(int cols);

/// Whether `pk_product_q8` multiplies blocks of `type` (Q4_K, Q5_K, Q6_K).
int pk_q8_supports(int type);

/// Quantises n rows of `cols` floats (a multiple of 256) to 8 bits per value, a scale per 256
/// (round to nearest, largest magnitude to ±127), into `out` (n·pk_q8_row_bytes(cols) bytes).
/// Every level writes the same bytes.
void pk_quantize_q8(int level, const float *x, int cols, int n, void *out);

/// out[i·out_stride + r] = Σ_k W[r][k] · xq_i[k] with integer sums inside each block: llama.cpp's
/// arithmetic, about 1e-3 relative error against the F32 product. Every level returns the same bits.
void pk_product_q8(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                   const void *xq, int n, float *out, size_t out_stride);

/// Bytes of one activation row of `cols` values (a multiple of 256) in the batch layout.
size_t pk_q8_batch_row_bytes(int cols);

/// `pk_quantize_q8`'s quantisation of n rows, laid out for `pk_product_q8_batch`
/// (n·pk_q8_batch_row_bytes(cols) bytes).
void pk_quantize_q8_batch(int level, const float *x, int cols, int n, void *out);

/// `pk_product_q8` for batches (Q4_K, Q5_K, Q6_K): sixteen weight rows are unpacked once per block and
/// every activation row passes over them. Row by row the same bits as `pk_product_q8`, at every
/// level.
void pk_product_q8_batch(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                         const void *xq, int n, float *out, size_t out_stride);

/// Whether `pk_product_q8_32` multiplies blocks of `type` (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
int pk_q8_32_supports(int type);

/// Bytes of one activation row of `cols` values (a multiple of 32) quantised to 8 bits per 32.
size_t pk_q8_32_row_bytes(int cols);

/// Quantises n rows of `cols` floats (a multiple of 32) to 8 bits per value with a scale per 32
/// (round to nearest, largest magnitude to ±127) and each block's quant sum, into `out`
/// (n·pk_q8_32_row_bytes(cols) bytes).
void pk_quantize_q8_32(const float *x, int cols, int n, void *out);

/// out[i·out_stride + r] = Σ_k W[r][k] · xq_i[k] for 32-value block weights and activations from
/// `pk_quantize_q8_32`, with exact integer sums inside each block. Every level returns the same bits.
void pk_product_q8_32(int level, int type, const void *w, size_t row_bytes, int cols, int rows,
                      const void *xq, int n, float *out, size_t out_stride);

#endif
