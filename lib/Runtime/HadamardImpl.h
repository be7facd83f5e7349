//===- HadamardImpl.h - Fast Hadamard transform, shared body -----*- C++ -*-===//
//
// The transform's dataflow (see respin_rt.h) written once. Each variant file
// includes this and passes its own in-register butterfly for the first
// stages and, optionally, its own H_K mixing of a block of columns; every
// stage computes exactly (u + v, u - v) per pair and every mixed output is
// +-x_0 +- x_1 ... in ascending j, so the float results are bit-identical
// whatever the vector width.
//
// Everything here has internal linkage: the variant files are compiled with
// different ISA flags, and a shared inline (COMDAT) copy could otherwise
// leak AVX-512 code into the baseline reference path.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_LIB_RUNTIME_HADAMARDIMPL_H
#define RESPIN_LIB_RUNTIME_HADAMARDIMPL_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace respin::rt {
namespace {

/// Butterfly stages h = firstH, 2 firstH, ... < len over x[0..len).
inline void fwhtStagesFrom(float *x, int64_t len, int64_t firstH) {
  for (int64_t h = firstH; h < len; h *= 2)
    for (int64_t i = 0; i < len; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        float u = x[j], v = x[j + h];
        x[j] = u + v;
        x[j + h] = u - v;
      }
}

inline float hadamardNorm(int64_t n) {
  return (float)(1.0 / std::sqrt((double)n));
}

/// out_a = sum_j H[a][j] x_j over all columns, left to right from j = 0
/// (+-x_0 is exact), into scratch[K][pow2]; then x = scratch * norm.
inline void mixAllColumnsScalar(float *x, int64_t kFactor, int64_t pow2,
                                const int8_t *hK, float *scratch, float norm) {
  for (int64_t a = 0; a < kFactor; ++a) {
    float *out = scratch + a * pow2;
    const int8_t *h = hK + a * kFactor;
    const float *x0 = x;
    if (h[0] > 0)
      for (int64_t b = 0; b < pow2; ++b)
        out[b] = x0[b];
    else
      for (int64_t b = 0; b < pow2; ++b)
        out[b] = -x0[b];
    for (int64_t j = 1; j < kFactor; ++j) {
      const float *xj = x + j * pow2;
      if (h[j] > 0)
        for (int64_t b = 0; b < pow2; ++b)
          out[b] = out[b] + xj[b];
      else
        for (int64_t b = 0; b < pow2; ++b)
          out[b] = out[b] - xj[b];
    }
  }
  int64_t n = kFactor * pow2;
  for (int64_t i = 0; i < n; ++i)
    x[i] = scratch[i] * norm;
}

/// Transform of one row. `smallStages(x, len)` must run the stages
/// h = 1 .. firstH/2 and return firstH (1 when it does nothing).
/// `mix(x, kFactor, pow2, norm)` does the H_K step and the scaling and
/// returns true, or returns false to leave it to the scalar code above.
template <typename SmallStages, typename Mix>
inline void hadamardRowImpl(float *x, int64_t kFactor, int64_t pow2,
                            const int8_t *hK, float *scratch,
                            SmallStages smallStages, Mix mix) {
  for (int64_t a = 0; a < kFactor; ++a) {
    float *row = x + a * pow2;
    int64_t firstH = smallStages(row, pow2);
    fwhtStagesFrom(row, pow2, firstH);
  }
  const float norm = hadamardNorm(kFactor * pow2);
  if (kFactor == 1) {
    for (int64_t b = 0; b < pow2; ++b)
      x[b] = x[b] * norm;
    return;
  }
  if (!mix(x, kFactor, pow2, norm))
    mixAllColumnsScalar(x, kFactor, pow2, hK, scratch, norm);
}

} // namespace
} // namespace respin::rt

#endif // RESPIN_LIB_RUNTIME_HADAMARDIMPL_H
