//===- Internal.h - Shared internals of the respin runtime -------*- C++ -*-===//
//
// Not installed. Declares the error helpers, the scalar quantization rules
// every variant must reproduce, the packed-weight view and the per-ISA kernel
// tables that Dispatch.cpp selects from.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_LIB_RUNTIME_INTERNAL_H
#define RESPIN_LIB_RUNTIME_INTERNAL_H

#include "respin/Runtime/respin_rt.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace respin::rt {

/// Scratch that only grows, 64-byte aligned; get() returns null when the
/// allocation fails. Meant to be thread_local (kernels reuse it per call).
struct AlignedScratch {
  void *data = nullptr;
  size_t capacity = 0;
  ~AlignedScratch() { std::free(data); }
  void *get(size_t bytes) {
    if (bytes > capacity) {
      std::free(data);
      capacity = (bytes + 4095) / 4096 * 4096;
      data = std::aligned_alloc(64, capacity);
      if (!data)
        capacity = 0;
    }
    return data;
  }
};

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

/// Records a printf-style message as the thread's last error and returns
/// `status`, so call sites read `return fail(ERR, "...", ...)`.
respin_rt_status fail(respin_rt_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/// Clears the last error and returns RESPIN_RT_OK.
respin_rt_status ok();

//===----------------------------------------------------------------------===//
// Scalar quantization rules (see respin_rt.h). Variants must match these.
//===----------------------------------------------------------------------===//

/// Round half to even; the runtime assumes the default FP environment.
inline float rne(float v) { return std::nearbyint(v); }

/// Scale and zero point of one activation row/group from its min and max.
struct ActQuantParams {
  float scale;
  int32_t zero;
};

inline ActQuantParams actQuantParams(float minV, float maxV, int bits,
                                     bool symmetric, float clip) {
  ActQuantParams p;
  if (symmetric) {
    float absMax = std::fmax(std::fabs(minV), std::fabs(maxV));
    p.scale = clip * absMax / (float)((1 << (bits - 1)) - 1);
    p.zero = 1 << (bits - 1);
    if (!(p.scale > 0.0f))
      p.scale = 1.0f;
    return p;
  }
  float hi = clip * std::fmax(0.0f, maxV);
  float lo = clip * std::fmin(0.0f, minV);
  p.scale = (hi - lo) / (float)((1 << bits) - 1);
  if (!(p.scale > 0.0f)) {
    p.scale = 1.0f;
    p.zero = 0;
    return p;
  }
  p.zero = (int32_t)rne(-lo / p.scale);
  return p;
}

/// One activation code: clamp(rne(x / s) + z, 0, 2^b - 1).
inline uint8_t quantizeActValue(float x, float scale, int32_t zero,
                                float maxCode) {
  float r = rne(x / scale) + (float)zero;
  r = std::fmin(std::fmax(r, 0.0f), maxCode);
  return (uint8_t)(int32_t)r;
}

//===----------------------------------------------------------------------===//
// Packed weights
//===----------------------------------------------------------------------===//

constexpr uint32_t kPackedMagic = 0x57505352u; // "RSPW" little-endian
constexpr uint32_t kPackedLayoutVersion = 1;
constexpr int64_t kTileN = 16;       // output channels per tile
constexpr int64_t kHeaderBytes = 64;
constexpr int64_t kMaxK = int64_t(1) << 19; // keeps the int32 sums exact

/// The on-disk header, 64 bytes.
struct PackedHeader {
  uint32_t magic;
  uint32_t layoutVersion;
  int32_t bits;
  int32_t reserved0;
  int64_t n, k, groupSize; // groupSize == k for per-channel
  uint64_t codesOffset, scalesOffset, colSumsOffset;
};
static_assert(sizeof(PackedHeader) == kHeaderBytes, "header is 64 bytes");

/// Columns per chunk of the code layout.
inline int64_t chunkK(int bits) { return bits == 4 ? 8 : 16; }
/// Bytes per chunk of one tile.
inline int64_t chunkBytes(int bits) { return bits == 4 ? 64 : 96; }
/// Unsigned offset added to the signed code (2^(b-1)).
inline int32_t codeOffset(int bits) { return 1 << (bits - 1); }

/// A validated, decoded view of a packed blob.
struct PackedView {
  int bits;
  int64_t n, k, groupSize, numGroups;
  int64_t nPadded, numTiles;
  int64_t groupKPadded;   // K of one group after padding to chunkK
  int64_t chunksPerGroup; // groupKPadded / chunkK
  int64_t tileBytes;      // bytes of one tile over all groups
  const uint8_t *codes;
  const float *scales;    // [numGroups][nPadded]
  const int32_t *colSums; // [numGroups][nPadded], sum of signed codes
};

/// Validates `packed` and fills `view`.
respin_rt_status makePackedView(const void *packed, size_t size,
                                PackedView &view);

/// Signed code of weight (n, k) read from the layout (reference decoder).
int32_t decodeWeight(const PackedView &w, int64_t n, int64_t k);

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

/// Prepared activations for qlinear: codes copied into per-group padded
/// rows (zero padding), with per-row-group integer terms precomputed.
struct QLinearArgs {
  const PackedView *w;
  int64_t m;
  const uint8_t *x;      // [m][numGroups * groupKPadded], zero-padded
  int64_t xStride;       // bytes, multiple of 64
  const int32_t *xSums;  // [m][numGroups]: sum of codes in the group
  const int32_t *xZeros; // [m][xGroups]
  const float *xScales;  // [m][xGroups]
  bool xPerGroup;        // x scale/zero index j (else 0)
  float *y;
  int64_t yStride;
  bool accumulate;
};

/// Computes y for all rows and tiles [tileBegin, tileEnd).
using QLinearKernelFn = void (*)(const QLinearArgs &args, int64_t tileBegin,
                                 int64_t tileEnd);

/// Prepared call of respin_rt_qlinear_s8: the int8 weights are read in
/// place; the activation codes are copied into rows where group j starts at
/// j * groupKPadded (groupSize rounded up to 4, zero padded), so a kernel may
/// read 4-byte quads, and pad bytes meet zero weights or are never read.
struct QLinearS8Args {
  const int8_t *w;
  int64_t wStride, n, k;
  int64_t groupSize, numGroups; // groupSize == k for per-channel
  const float *wScales;         // [n][numGroups]
  int64_t m;
  const uint8_t *x;      // [m][numGroups * groupKPadded], 64-byte rows
  int64_t xStride;       // bytes
  int64_t groupKPadded;  // groupSize rounded up to a multiple of 4
  const float *xScales;  // [m][xGroups]
  const int32_t *xZeros; // [m][xGroups], each in [0, 255]
  bool xPerGroup;        // x scale/zero index j (else 0)
  float *y;
  int64_t yStride;
  bool accumulate;
};

/// Computes y[m][n] for all rows and n in [nBegin, nEnd).
using QLinearS8KernelFn = void (*)(const QLinearS8Args &args, int64_t nBegin,
                                   int64_t nEnd);

/// The portable int8 linear (also the AVX2 table's entry: without VNNI the
/// u8 x s8 products would need a widening path that is not worth it).
void qlinearS8Reference(const QLinearS8Args &args, int64_t nBegin,
                        int64_t nEnd);

/// y[m][n] for n in [nBegin, nEnd) (float linear).
struct LinearF32Args {
  const float *w;
  int64_t wStride, n, k, m;
  const float *x;
  int64_t xStride;
  float *y;
  int64_t yStride;
  bool accumulate;
};
using LinearF32KernelFn = void (*)(const LinearF32Args &args, int64_t nBegin,
                                   int64_t nEnd);

/// Quantizes one row of `cols` floats in groups (see respin_rt_quantize_rows).
using QuantizeRowFn = void (*)(const float *x, int64_t cols, int bits,
                               bool symmetric, float clip, int64_t groupSize,
                               uint8_t *q, float *scales, int32_t *zeros);

/// In-place Hadamard of one row, with the K x K factor given as +-1 bytes
/// (hK[a * K + j]) and as +-1.0f transposed (signsT[j * K + a] = hK[a][j]);
/// scratch holds K * pow2 floats.
using HadamardRowFn = void (*)(float *x, int64_t kFactor, int64_t pow2,
                               const int8_t *hK, const float *signsT,
                               float *scratch);

/// Rank-r adapter, Q given as Q^T (r x d) of a respin_rt_float_format.
/// Project: t[j] = sum_{i in [i0, i1)} h[i] Q^T[j][i] for all j < r (one
/// chunk's partial sums).
using AdapterProjectFn = void (*)(const float *h, int64_t i0, int64_t i1,
                                  int64_t d, int64_t r, const void *qT,
                                  int format, float *t);
/// Update: h[i] = (h[i] + sum_j Q^T[j][i] u[j]) + add[i], i in [i0, i1)
/// (add may be null).
using AdapterUpdateFn = void (*)(float *h, const float *add, int64_t i0,
                                 int64_t i1, int64_t d, int64_t r,
                                 const void *qT, int format, const float *u);

/// Exact widening of the 16-bit formats (out of line, baseline ISA).
float bf16ToFloat(uint16_t v);
float f16ToFloat(uint16_t v);

struct KernelTable {
  QLinearKernelFn qlinear;
  LinearF32KernelFn linearF32;
  QuantizeRowFn quantizeRow;
  HadamardRowFn hadamardRow;
  AdapterProjectFn adapterProject;
  AdapterUpdateFn adapterUpdate;
  QLinearS8KernelFn qlinearS8;
};

const KernelTable &referenceKernels();
#ifdef RESPIN_RT_HAVE_AVX2
const KernelTable &avx2Kernels();
#endif
#ifdef RESPIN_RT_HAVE_AVX512
const KernelTable &avx512Kernels();
#endif

/// The table of the active variant.
const KernelTable &activeKernels();

} // namespace respin::rt

#endif // RESPIN_LIB_RUNTIME_INTERNAL_H
