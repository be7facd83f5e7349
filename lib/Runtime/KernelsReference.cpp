//===- KernelsReference.cpp - Portable reference kernels ------------------===//
//
// The oracle every ISA variant is tested against. Written for clarity: the
// linear kernels decode each weight (from the packed layout, or the int8
// rows) and sum (x - z) * w directly, without the unsigned-code identities
// the fast kernels use.
//
//===----------------------------------------------------------------------===//

#include "HadamardImpl.h"
#include "Internal.h"

#include <limits>
#include <vector>

namespace respin::rt {
namespace {

void qlinearRef(const QLinearArgs &a, int64_t tileBegin, int64_t tileEnd) {
  const PackedView &w = *a.w;
  int64_t xGroups = a.xPerGroup ? w.numGroups : 1;
  std::vector<int8_t> row(w.k);
  int64_t nEnd = std::min(w.n, tileEnd * kTileN);
  for (int64_t n = tileBegin * kTileN; n < nEnd; ++n) {
    for (int64_t k = 0; k < w.k; ++k)
      row[k] = (int8_t)decodeWeight(w, n, k);
    for (int64_t m = 0; m < a.m; ++m) {
      const uint8_t *x = a.x + m * a.xStride;
      float y = 0.0f;
      for (int64_t j = 0; j < w.numGroups; ++j) {
        int64_t xj = a.xPerGroup ? j : 0;
        int32_t z = a.xZeros[m * xGroups + xj];
        int32_t acc = 0;
        for (int64_t kk = 0; kk < w.groupSize; ++kk)
          acc += ((int32_t)x[j * w.groupKPadded + kk] - z) *
                 (int32_t)row[j * w.groupSize + kk];
        float t = ((float)acc * w.scales[j * w.nPadded + n]) *
                  a.xScales[m * xGroups + xj];
        y = y + t;
      }
      float *out = a.y + m * a.yStride + n;
      *out = a.accumulate ? *out + y : y;
    }
  }
}

void linearF32Ref(const LinearF32Args &a, int64_t nBegin, int64_t nEnd) {
  for (int64_t m = 0; m < a.m; ++m)
    for (int64_t n = nBegin; n < nEnd; ++n) {
      const float *x = a.x + m * a.xStride, *w = a.w + n * a.wStride;
      float acc = 0.0f;
      for (int64_t k = 0; k < a.k; ++k)
        acc += x[k] * w[k];
      float *out = a.y + m * a.yStride + n;
      *out = a.accumulate ? *out + acc : acc;
    }
}

void quantizeRowRef(const float *x, int64_t cols, int bits, bool symmetric,
                    float clip, int64_t groupSize, uint8_t *q, float *scales,
                    int32_t *zeros) {
  float maxCode = (float)((1 << bits) - 1);
  for (int64_t j = 0; j * groupSize < cols; ++j) {
    const float *xg = x + j * groupSize;
    float minV = std::numeric_limits<float>::infinity(), maxV = -minV;
    for (int64_t i = 0; i < groupSize; ++i) {
      minV = std::fmin(minV, xg[i]);
      maxV = std::fmax(maxV, xg[i]);
    }
    ActQuantParams p = actQuantParams(minV, maxV, bits, symmetric, clip);
    scales[j] = p.scale;
    zeros[j] = p.zero;
    for (int64_t i = 0; i < groupSize; ++i)
      q[j * groupSize + i] = quantizeActValue(xg[i], p.scale, p.zero, maxCode);
  }
}

void hadamardRowRef(float *x, int64_t kFactor, int64_t pow2, const int8_t *hK,
                    const float *, float *scratch) {
  hadamardRowImpl(
      x, kFactor, pow2, hK, scratch,
      [](float *, int64_t) -> int64_t { return 1; },
      [](float *, int64_t, int64_t, float) { return false; });
}

/// Element idx of Q^T in its format, widened exactly.
float loadQ(const void *qT, int64_t idx, int format) {
  switch (format) {
  case RESPIN_RT_FLOAT_BF16:
    return bf16ToFloat(((const uint16_t *)qT)[idx]);
  case RESPIN_RT_FLOAT_F16:
    return f16ToFloat(((const uint16_t *)qT)[idx]);
  default:
    return ((const float *)qT)[idx];
  }
}

void adapterProjectRef(const float *h, int64_t i0, int64_t i1, int64_t d,
                       int64_t r, const void *qT, int format, float *t) {
  for (int64_t j = 0; j < r; ++j) {
    float s = 0.0f;
    for (int64_t i = i0; i < i1; ++i)
      s = s + h[i] * loadQ(qT, j * d + i, format);
    t[j] = s;
  }
}

void adapterUpdateRef(float *h, const float *add, int64_t i0, int64_t i1,
                      int64_t d, int64_t r, const void *qT, int format,
                      const float *u) {
  for (int64_t i = i0; i < i1; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < r; ++j)
      s = s + loadQ(qT, j * d + i, format) * u[j];
    float v = h[i] + s;
    h[i] = add ? v + add[i] : v;
  }
}

} // namespace

void qlinearS8Reference(const QLinearS8Args &a, int64_t nBegin, int64_t nEnd) {
  int64_t xGroups = a.xPerGroup ? a.numGroups : 1;
  for (int64_t n = nBegin; n < nEnd; ++n) {
    const int8_t *w = a.w + n * a.wStride;
    for (int64_t m = 0; m < a.m; ++m) {
      const uint8_t *x = a.x + m * a.xStride;
      float y = 0.0f;
      for (int64_t j = 0; j < a.numGroups; ++j) {
        int64_t xj = a.xPerGroup ? j : 0;
        int32_t z = a.xZeros[m * xGroups + xj];
        int32_t acc = 0;
        for (int64_t kk = 0; kk < a.groupSize; ++kk)
          acc += ((int32_t)x[j * a.groupKPadded + kk] - z) *
                 (int32_t)w[j * a.groupSize + kk];
        float t = ((float)acc * a.wScales[n * a.numGroups + j]) *
                  a.xScales[m * xGroups + xj];
        y = y + t;
      }
      float *out = a.y + m * a.yStride + n;
      *out = a.accumulate ? *out + y : y;
    }
  }
}

const KernelTable &referenceKernels() {
  static const KernelTable table = {
      qlinearRef,        linearF32Ref,     quantizeRowRef,    hadamardRowRef,
      adapterProjectRef, adapterUpdateRef, qlinearS8Reference};
  return table;
}

} // namespace respin::rt
