/*===- respin_rt.h - respin CPU microkernel runtime, flat C ABI ---*- C -*-===*\
|*                                                                            *|
|* The runtime that compiled respin models call: low-bit linear layers        *|
|* (packed int4/int3 weights x int8/int4 per-token activations), per-token    *|
|* activation quantization, the online Hadamard transform, the rank-r         *|
|* residual adapter, quantized-KV attention, RMSNorm, SiLU*mul, RoPE.         *|
|*                                                                            *|
|* Every entry point takes plain pointers, element counts and row strides     *|
|* (in elements, not bytes). Nothing is allocated behind the caller's back    *|
|* except the persistent thread pool and small per-call scratch.              *|
|* Errors are returned as respin_rt_status; respin_rt_last_error() gives a    *|
|* human-readable detail (thread-local) for the last failing call.            *|
|*                                                                            *|
|* Each kernel has a portable reference implementation and per-ISA variants   *|
|* (AVX2+FMA, AVX-512 VNNI) selected at run time by CPU features; tests can   *|
|* force a variant with respin_rt_force_isa().                                *|
|*                                                                            *|
|* ABI version 2 added the float KV cache (bits == 32), respin_rt_qlinear_s8  *|
|* (int8 weights), respin_rt_embedding, respin_rt_rmsnorm_gain and            *|
|* respin_rt_add.                                                             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef RESPIN_RUNTIME_RESPIN_RT_H
#define RESPIN_RUNTIME_RESPIN_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of a signature, a struct, the packed
 * weight layout or the numerical semantics below. */
#define RESPIN_RT_ABI_VERSION 2u
uint32_t respin_rt_abi_version(void);

/*===----------------------------------------------------------------------===
 * Status and errors
 *===----------------------------------------------------------------------===*/

typedef enum respin_rt_status {
  RESPIN_RT_OK = 0,
  RESPIN_RT_ERR_INVALID_ARGUMENT = 1, /* null pointer, bad size or stride */
  RESPIN_RT_ERR_UNSUPPORTED = 2,      /* valid request we cannot serve    */
  RESPIN_RT_ERR_BUFFER_TOO_SMALL = 3, /* destination smaller than needed  */
  RESPIN_RT_ERR_BAD_PACKED = 4        /* packed weights fail validation   */
} respin_rt_status;

const char *respin_rt_status_string(respin_rt_status status);
/* Detail of the last error on this thread ("" when none). */
const char *respin_rt_last_error(void);

/*===----------------------------------------------------------------------===
 * ISA variants and threads
 *===----------------------------------------------------------------------===*/

typedef enum respin_rt_isa {
  RESPIN_RT_ISA_AUTO = -1,        /* best supported variant (default) */
  RESPIN_RT_ISA_REFERENCE = 0,    /* portable C++, the oracle          */
  RESPIN_RT_ISA_AVX2 = 1,         /* AVX2 + FMA + F16C                 */
  RESPIN_RT_ISA_AVX512_VNNI = 2   /* AVX-512 F/BW/VL + VNNI            */
} respin_rt_isa;

const char *respin_rt_isa_name(respin_rt_isa isa);
/* 1 when this build has the variant and this CPU can run it. */
int respin_rt_isa_supported(respin_rt_isa isa);
/* Selects the variant used by all later calls (process-wide). AUTO restores
 * feature detection. Fails with UNSUPPORTED when the CPU lacks the ISA. */
respin_rt_status respin_rt_force_isa(respin_rt_isa isa);
respin_rt_isa respin_rt_active_isa(void);

/* Threads used by the parallel kernels (qlinear, qlinear_s8, linear_f32;
 * hadamard and the residual adapter by rows; attention by query head).
 * Default: the number of online CPUs, at most 8. Results never depend on the
 * thread count: work is split over disjoint outputs and every output is
 * computed by the same instruction sequence. */
respin_rt_status respin_rt_set_num_threads(int num_threads);
int respin_rt_get_num_threads(void);

/*===----------------------------------------------------------------------===
 * Quantization semantics (shared with the compiler's quantizers)
 *
 * rne(v) is round-half-to-even of a float (IEEE roundTiesToEven, as
 * nearbyintf in the default rounding mode). All float arithmetic is IEEE
 * binary32 without contraction (no FMA) in exactly the order written.
 * Inputs must be finite; NaN/Inf give unspecified (but memory-safe) codes.
 *
 * Weights, symmetric, b in {3,4} bits, per output channel or per group of
 * g consecutive input columns (scale s_w[n][j], j = k / g):
 *     qw = clamp(rne(w / s_w), -2^(b-1), 2^(b-1) - 1)
 *   The quantizer chooses s_w (e.g. absmax / (2^(b-1)-1), or a clip search);
 *   the runtime only stores qw and s_w.
 *
 * Activations, per token (row) or per group of g columns, b in 2..8 bits,
 * clip ratio c in (0, 1]:
 *   asymmetric:  hi = c * max(0, max_i x_i);  lo = c * min(0, min_i x_i)
 *                s  = (hi - lo) / (2^b - 1)
 *                z  = rne(-lo / s)                       (0 <= z <= 2^b-1)
 *                q  = clamp(rne(x / s) + z, 0, 2^b - 1)
 *   symmetric:   s  = c * max_i |x_i| / (2^(b-1) - 1)
 *                z  = 2^(b-1)   (the code is stored offset, see below)
 *                q  = clamp(rne(x / s), -2^(b-1), 2^(b-1)-1) + z
 *   Degenerate range (s == 0, i.e. an all-zero row/group): s = 1, and z as
 *   above (asymmetric z = 0). Codes are stored as uint8 in [0, 2^b-1]; the
 *   value represented is (q - z) * s in both modes.
 *   Evaluation order of the clamp: r = rne(x / s) + z in float, then
 *   clamp r to the integer range in float, then convert (exact).
 *
 * Low-bit linear (y = x W^T), the K columns split into G groups of g:
 *   acc[m][n][j] = sum_{k in group j} (q_x[m][k] - z_x[m][j']) * qw[n][k]
 *       computed exactly in int32 (j' = j for per-group activations, 0 for
 *       per-token ones); requires K * 2^(bx) * 2^(bw-1) < 2^31.
 *   t_j = ((float)acc[m][n][j] * s_w[n][j]) * s_x[m][j']
 *   y[m][n] = ((0.0f + t_0) + t_1) + ... + t_{G-1}
 *   with RESPIN_RT_ACCUMULATE: y[m][n] = y_old[m][n] + y[m][n].
 * All variants produce bit-identical y.
 *===----------------------------------------------------------------------===*/

/* Quantizes rows x[r][0..cols) per row (group_size == 0 or == cols) or per
 * group of group_size columns (must divide cols). Writes codes q[r][c]
 * (uint8, stride q_stride), scales[r * G + j] and zeros[r * G + j] with
 * G = cols / group_size (G = 1 per row). bits in 2..8, clip in (0, 1].
 * Bit-exact across variants. */
respin_rt_status respin_rt_quantize_rows(const float *x, int64_t x_stride,
                                         int64_t rows, int64_t cols,
                                         int bits, int symmetric, float clip,
                                         int64_t group_size, uint8_t *q,
                                         int64_t q_stride, float *scales,
                                         int32_t *zeros);

/* Reference rounding/quantizing of weights with given scales (see above):
 * q[n][k] = clamp(rne(w[n][k] / scales[n * G + k / g]), ...); a zero scale
 * (all-zero channel) gives code 0. Provided so the compiler and the tests
 * share one implementation. */
respin_rt_status respin_rt_quantize_weights(const float *w, int64_t w_stride,
                                            int64_t n, int64_t k, int bits,
                                            int64_t group_size,
                                            const float *scales, int8_t *q,
                                            int64_t q_stride);

/*===----------------------------------------------------------------------===
 * Packed weights
 *
 * A packed weight blob is self-describing: a 64-byte header (magic "RSPW",
 * layout version, bits, N, K, group size) then, at 64-byte aligned offsets,
 * the codes, the scales [G][N_pad] (float) and the column sums
 * sum_k qw[n][k] per group [G][N_pad] (int32, for the zero-point term).
 * N is padded to a multiple of 16 and each group's K to a multiple of 8
 * (int4) or 16 (int3) with zero codes.
 *
 * Code layout: tiles of 16 output channels. In a tile, each group's K
 * columns are stored as chunks; code u = qw + 2^(b-1) (unsigned).
 *   int4: chunk = 8 columns x 16 channels = 64 bytes. Byte 4*c + t of the
 *         chunk holds u[c][k0+t] in its low nibble and u[c][k0+4+t] in its
 *         high nibble (c = channel in tile, t = 0..3). One 512-bit load plus
 *         two masks yields the VNNI operand for k0..k0+3 and k0+4..k0+7.
 *   int3: chunk = 16 columns x 16 channels = 96 bytes: 64 bytes of low
 *         2-bit pairs (byte 4*c + t: bits 2i..2i+1 hold the low two bits of
 *         u[c][k0+4i+t], i = 0..3), then four 64-bit little-endian
 *         bit-planes P_i whose bit 4*c + t is bit 2 of u[c][k0+4i+t].
 * The blob must be 4-byte aligned (64-byte alignment is fastest).
 *===----------------------------------------------------------------------===*/

typedef struct respin_rt_weights_info {
  int32_t bits;
  int32_t layout_version;
  int64_t n, k, group_size, num_groups;
  int64_t n_padded, k_group_padded; /* K of one group after padding */
  size_t total_size;
} respin_rt_weights_info;

/* bits 3 or 4; 1 <= k <= 2^19 (keeps every int32 sum exact);
 * group_size: 0 (per output channel) or a multiple of 8 dividing k. */
size_t respin_rt_packed_weights_size(int bits, int64_t n, int64_t k,
                                     int64_t group_size);
/* q[n][k] int8 in [-2^(b-1), 2^(b-1)-1]; scales[n * G + j]. */
respin_rt_status respin_rt_pack_weights(int bits, int64_t n, int64_t k,
                                        int64_t group_size, const int8_t *q,
                                        int64_t q_stride, const float *scales,
                                        void *dst, size_t dst_size);
respin_rt_status respin_rt_packed_weights_info(const void *packed,
                                               size_t size,
                                               respin_rt_weights_info *info);
/* Inverse of pack: q[n][k] and scales[n * G + j]; either may be NULL. */
respin_rt_status respin_rt_unpack_weights(const void *packed, size_t size,
                                          int8_t *q, int64_t q_stride,
                                          float *scales);

/*===----------------------------------------------------------------------===
 * Low-bit linear: y[m][n] for m < M (M = 1 is the decode GEMV path, larger M
 * the prefill GEMM path). x_codes[m][k] as written by respin_rt_quantize_rows
 * with x_scales/x_zeros [M][Gx]; x_group_size is 0 (per token) or equal to
 * the weights' group size (per group, e.g. per head for o_proj).
 *===----------------------------------------------------------------------===*/

#define RESPIN_RT_ACCUMULATE 1u /* y += result (fused residual add) */

respin_rt_status respin_rt_qlinear(const void *packed, size_t packed_size,
                                   int64_t m, const uint8_t *x_codes,
                                   int64_t x_stride, const float *x_scales,
                                   const int32_t *x_zeros,
                                   int64_t x_group_size, float *y,
                                   int64_t y_stride, uint32_t flags);

/* 8-bit weights (W8 models): the "Low-bit linear" formula above with bw = 8,
 * the weights given directly as row-major int8 codes qw[n][k] (any value in
 * [-128, 127], row stride w_stride >= k; no packing, the kernels read qw in
 * place) and scales w_scales[n * G + j]. group_size is 0 (per output
 * channel, G = 1) or divides k (G = k / group_size). x_group_size is 0 or k
 * (per-token activations) or equals the weights' group size (per-group
 * activations). Activation zero points must lie in [0, 255] and
 * k * 255 * 128 < 2^31 (k <= 65793), which keeps every int32 sum exact.
 * All variants and thread counts give bit-identical y. The packed path
 * (respin_rt_qlinear) stays 3/4-bit only. */
respin_rt_status respin_rt_qlinear_s8(
    const int8_t *w, int64_t w_stride, const float *w_scales, int64_t n,
    int64_t k, int64_t group_size, int64_t m, const uint8_t *x_codes,
    int64_t x_stride, const float *x_scales, const int32_t *x_zeros,
    int64_t x_group_size, float *y, int64_t y_stride, uint32_t flags);

/* Float baseline / float layers (lm_head): y[m][n] = sum_k x[m][k] w[n][k],
 * W row-major [N][K]. Float, so variants differ by summation order: the
 * result is within K * 2^-23 * sum_k |x w| of the exact value. */
respin_rt_status respin_rt_linear_f32(const float *w, int64_t w_stride,
                                      int64_t n, int64_t k, int64_t m,
                                      const float *x, int64_t x_stride,
                                      float *y, int64_t y_stride,
                                      uint32_t flags);

/*===----------------------------------------------------------------------===
 * Online Hadamard transform, in place, float.
 *
 * n = K * 2^p with K in the supported set (respin_rt_hadamard_sizes()).
 * Index i = a * 2^p + b (a < K major). y = (H_K (x) H_{2^p}) x / sqrt(n),
 * computed as: unnormalized Sylvester fast Walsh-Hadamard transform of each
 * length-2^p slice (stage h = 1, 2, 4, ...: (u, v) -> (u + v, u - v)), then
 * each column b mixed by H_K (out_a = sum_{j=0..K-1} H_K[a][j] * x_j, summed
 * left to right from j = 0), then every element multiplied by
 * (float)(1 / sqrt((double)n)). All variants are bit-identical.
 *
 * H_K (entries +-1, row-major) is the factor of the project's single table
 * (respin/Numerics/HadamardFactors.h, library RespinHadamardFactors, which
 * the runtime links): Sylvester for K = 1; Paley I for 12, 20, 28 (GF(27)),
 * 44, 60, 108, 140; Paley II for 36, 52 (GF(25)), 76; doubling of H_20 for
 * 40; Williamson for 156 and 172 (so 11008 = 172 * 64 works). The compiler
 * folds the inverse transforms offline with these very matrices.
 * When several K fit n, the largest is used.
 *===----------------------------------------------------------------------===*/

/* Comma-separated supported K, e.g. "1,12,20,...". */
const char *respin_rt_hadamard_sizes(void);
/* Factor n = K * 2^p; UNSUPPORTED (with a message naming the supported K)
 * when no supported K fits. */
respin_rt_status respin_rt_hadamard_factor(int64_t n, int64_t *k_factor,
                                           int64_t *pow2);
/* Writes the K x K +-1 matrix used for factor K (for offline folding). */
respin_rt_status respin_rt_hadamard_matrix(int64_t k_factor, int8_t *out);
/* Transforms rows x[r][0..n) in place. */
respin_rt_status respin_rt_hadamard_rows(float *x, int64_t x_stride,
                                         int64_t rows, int64_t n);
/* Hadamard in place, then respin_rt_quantize_rows on the result. */
respin_rt_status respin_rt_hadamard_quantize_rows(
    float *x, int64_t x_stride, int64_t rows, int64_t n, int bits,
    int symmetric, float clip, int64_t group_size, uint8_t *q,
    int64_t q_stride, float *scales, int32_t *zeros);

/*===----------------------------------------------------------------------===
 * Rank-r residual adapter fused with the residual add (ReSpinQuant):
 *   h[m] <- h[m] + Q (M (Q^T h[m])) + add[m]          (add may be NULL)
 * Q (D x r, orthonormal columns) is passed TRANSPOSED: q_t is r x D
 * row-major, q_t[j * D + i] = Q[i][j], so both passes stream contiguous rows
 * and need no per-element horizontal sums. M is r x r row-major, f32.
 *
 * Q^T may be stored as f32, bf16 or f16 (respin_rt_residual_adapter_q):
 * decode is streaming-bound, so 16-bit storage halves the adapter's DRAM
 * traffic. Stored values are widened exactly to f32 and everything else is
 * computed in f32, so a 16-bit Q^T behaves exactly like the f32 Q^T holding
 * the decoded values; the only extra error is Q's rounding to 16 bits
 * (relative 2^-8 for bf16, 2^-11 for f16 normals), bounded in
 * RuntimeFloatTest.cpp. respin_rt_convert_floats produces the 16-bit values
 * (round to nearest even). M stays f32 (r x r: 4 KiB at r = 32).
 *
 * Order: t = Q^T h (t_j = sum_i h_i Q[i][j], i ascending), u = M t
 * (u_a = sum_b M[a][b] t_b, b ascending), h_i' = (h_i + sum_j Q[i][j] u_j)
 * + add_i (j ascending). Float: variants reorder the sums and use FMA, so
 * they agree within the bound stated in RuntimeFloatTest.cpp. Rows are split
 * over the threads; each row is computed by one thread.
 *===----------------------------------------------------------------------===*/

typedef enum respin_rt_float_format {
  RESPIN_RT_FLOAT_F32 = 0,
  RESPIN_RT_FLOAT_BF16 = 1, /* 16-bit brain float: top half of an f32 */
  RESPIN_RT_FLOAT_F16 = 2   /* IEEE binary16                          */
} respin_rt_float_format;

/* Bytes per element of a format (0 for an unknown one). */
size_t respin_rt_float_format_size(respin_rt_float_format format);

/* dst[i] = src[i] rounded to `format` (round to nearest, ties to even;
 * f16 subnormals kept). INVALID_ARGUMENT when a value is not finite or
 * rounds beyond the format's range (|x| >= 65520 for f16); dst is then
 * unspecified. For packing Q^T offline. */
respin_rt_status respin_rt_convert_floats(const float *src, int64_t count,
                                          respin_rt_float_format format,
                                          void *dst);

/* Q^T as f32 (same as respin_rt_residual_adapter_q with F32). */
respin_rt_status respin_rt_residual_adapter(float *h, int64_t h_stride,
                                            const float *add,
                                            int64_t add_stride, int64_t rows,
                                            int64_t d, int64_t r,
                                            const float *q_t,
                                            const float *m_core);

/* q_t: r x D elements of q_format (2-byte aligned for 16-bit formats). */
respin_rt_status respin_rt_residual_adapter_q(
    float *h, int64_t h_stride, const float *add, int64_t add_stride,
    int64_t rows, int64_t d, int64_t r, const void *q_t,
    respin_rt_float_format q_format, const float *m_core);

/*===----------------------------------------------------------------------===
 * Element-wise and normalization (float).
 *===----------------------------------------------------------------------===*/

/* y[m][i] = x[m][i] / sqrt(mean_i(x^2) + eps), no gain (folded away).
 * The sum of squares is accumulated in double, inv = (float)(1 / sqrt(
 * sum / d + eps)) in double, then y = x * inv in float. y may alias x (same
 * pointer and stride). */
respin_rt_status respin_rt_rmsnorm(const float *x, int64_t x_stride,
                                   float *y, int64_t y_stride, int64_t rows,
                                   int64_t d, float eps);
/* RMSNorm with a gain: y[m][i] = (x[m][i] * inv) * gain[i] in float, inv
 * computed in double exactly as in respin_rt_rmsnorm; gain NULL gives
 * respin_rt_rmsnorm's result bit for bit. */
respin_rt_status respin_rt_rmsnorm_gain(const float *x, int64_t x_stride,
                                        float *y, int64_t y_stride,
                                        int64_t rows, int64_t d, float eps,
                                        const float *gain);
/* Residual add: out[m][i] = a[m][i] + b[m][i] (one float addition). out may
 * alias a or b (same pointer and stride). */
respin_rt_status respin_rt_add(const float *a, int64_t a_stride, const float *b,
                               int64_t b_stride, float *out, int64_t out_stride,
                               int64_t rows, int64_t d);
/* Embedding lookup: out[i][0..dim) = table[tokens[i]][0..dim) (exact copy;
 * table row-major [vocab][dim]). Every id is checked before anything is
 * written: one outside [0, vocab) is INVALID_ARGUMENT, the message naming
 * the id and its position i. */
respin_rt_status respin_rt_embedding(const float *table, int64_t vocab,
                                     int64_t dim, const int32_t *tokens,
                                     int64_t n, float *out, int64_t out_stride);
/* out = silu(gate) * up = gate / (1 + exp(-gate)) * up. */
respin_rt_status respin_rt_silu_mul(const float *gate, int64_t gate_stride,
                                    const float *up, int64_t up_stride,
                                    float *out, int64_t out_stride,
                                    int64_t rows, int64_t d);

typedef enum respin_rt_rope_layout {
  RESPIN_RT_ROPE_INTERLEAVED = 0, /* pairs (2i, 2i+1): GGUF, llama2.c */
  RESPIN_RT_ROPE_HALF_SPLIT = 1   /* pairs (i, i + d/2): Hugging Face  */
} respin_rt_rope_layout;

/* Rotates each head of x[t] (n_heads * head_dim floats, heads contiguous) by
 * position pos0 + t: pair i turns by angle pos * theta^(-2i/head_dim). */
respin_rt_status respin_rt_rope(float *x, int64_t x_stride, int64_t tokens,
                                int64_t n_heads, int64_t head_dim,
                                int64_t pos0, float theta,
                                respin_rt_rope_layout layout);

/*===----------------------------------------------------------------------===
 * Quantized KV cache and attention.
 *
 * The cache holds, per KV head h and position p, head_dim codes of K and V
 * quantized asymmetrically per token per head (the activation rule above,
 * clip c) with bits 4 (two codes per byte, element 2i in the low nibble) or
 * 8. Storage (caller-allocated, sizes from respin_rt_kv_cache_code_bytes):
 *   codes [n_kv_heads][max_seq][head_dim * bits / 8] bytes for K and V,
 *   scales/zeros [n_kv_heads][max_seq] (float / int32) for K and V.
 *
 * Float cache, bits == 32 (unquantized K/V, e.g. for 8-bit or float models
 * and as the accuracy reference): k_codes/v_codes point to
 * float[n_kv_heads][max_seq][head_dim] (cast to uint8_t *; must be 4-byte
 * aligned, checked: INVALID_ARGUMENT otherwise); code_bytes gives its size
 * in bytes. scales and zeros are ignored and may be NULL; kv_append still
 * validates clip but does not use it and copies the floats exactly;
 * attention reads them directly: score_j = scale * sum_i q_i k_ji,
 * out = sum_j p_j v_j (same loop order as the quantized cache).
 *===----------------------------------------------------------------------===*/

typedef struct respin_rt_kv_cache {
  int32_t bits; /* 4 or 8 (codes), 32 (float) */
  int32_t n_kv_heads;
  int32_t head_dim;   /* even */
  int32_t max_seq;
  uint8_t *k_codes, *v_codes;
  float *k_scales, *v_scales;
  int32_t *k_zeros, *v_zeros;
} respin_rt_kv_cache;

/* Bytes of one codes array (K or V); bits 4, 8 or 32 (0 when invalid). */
size_t respin_rt_kv_cache_code_bytes(int bits, int64_t n_kv_heads,
                                     int64_t head_dim, int64_t max_seq);

/* Quantizes and stores K/V of `tokens` positions starting at pos0;
 * k[t], v[t] hold n_kv_heads * head_dim floats. */
respin_rt_status respin_rt_kv_append(const respin_rt_kv_cache *cache,
                                     int64_t pos0, int64_t tokens,
                                     const float *k, int64_t k_stride,
                                     const float *v, int64_t v_stride,
                                     float clip);

/* Causal attention of `tokens` queries at positions pos0 .. pos0+tokens-1
 * (the cache must already hold positions 0 .. pos0+tokens-1). q[t] holds
 * n_heads * head_dim floats; query head h reads KV head
 * h / (n_heads / n_kv_heads) (grouped-query). out[t] like q[t].
 * score_j = scale * sum_i q_i * deq(k_j)_i, softmax in float (max
 * subtracted), out = sum_j p_j deq(v_j). Float: variants agree within
 * 1e-5 relative to max |v| (see the tests). */
respin_rt_status respin_rt_attention(const respin_rt_kv_cache *cache,
                                     int64_t pos0, int64_t tokens,
                                     const float *q, int64_t q_stride,
                                     int64_t n_heads, float scale,
                                     float *out, int64_t out_stride);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RESPIN_RUNTIME_RESPIN_RT_H */
