//===- Hadamard.cpp - Online Hadamard transform entry points --------------===//
//
// Factors n = K * 2^p, validates, and runs the active variant's row
// transform over rows (split over threads for prefill batches), optionally
// quantizing each row right after its transform.
//
//===----------------------------------------------------------------------===//

#include "HadamardMatrix.h"
#include "Internal.h"
#include "ThreadPool.h"

#include <cinttypes>
#include <vector>

namespace respin::rt {
respin_rt_status checkActQuantArgs(int64_t rows, int64_t cols, int bits,
                                   float clip, int64_t groupSize);
void quantizeRows(const float *x, int64_t xStride, int64_t rows, int64_t cols,
                  int bits, bool symmetric, float clip, int64_t groupSize,
                  uint8_t *q, int64_t qStride, float *scales, int32_t *zeros);
} // namespace respin::rt

using namespace respin::rt;

namespace {

respin_rt_status factorOrFail(int64_t n, int64_t &k, int64_t &pow2) {
  if (!hadamardFactor(n, k, pow2))
    return fail(RESPIN_RT_ERR_UNSUPPORTED, "%s", unsupportedSizeMessage(n));
  return RESPIN_RT_OK;
}

/// Quantization fused after the transform (respin_rt_quantize_rows args).
struct RowQuant {
  int bits;
  bool symmetric;
  float clip;
  int64_t groupSize;
  uint8_t *q;
  int64_t qStride;
  float *scales;
  int32_t *zeros;
};

/// Transforms rows in place, split over the threads; with `quant`, each row
/// is quantized right after its transform, while it is still in cache.
void transformRows(float *x, int64_t stride, int64_t rows, int64_t n,
                   int64_t k, int64_t pow2, const RowQuant *quant = nullptr) {
  HadamardRowFn fn = activeKernels().hadamardRow;
  const int8_t *hK = hadamardMatrix(k);
  const float *signsT = hadamardSignsTransposed(k);
  int64_t groups = quant && quant->groupSize != 0 ? n / quant->groupSize : 1;
  parallelFor(rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(k > 1 ? n : 1);
    for (int64_t r = begin; r < end; ++r) {
      fn(x + r * stride, k, pow2, hK, signsT, scratch.data());
      if (quant)
        quantizeRows(x + r * stride, stride, 1, n, quant->bits,
                     quant->symmetric, quant->clip, quant->groupSize,
                     quant->q + r * quant->qStride, quant->qStride,
                     quant->scales + r * groups, quant->zeros + r * groups);
    }
  });
}

} // namespace

extern "C" {

const char *respin_rt_hadamard_sizes(void) { return hadamardSizes(); }

respin_rt_status respin_rt_hadamard_factor(int64_t n, int64_t *k_factor,
                                           int64_t *pow2) {
  int64_t k, p;
  if (respin_rt_status s = factorOrFail(n, k, p))
    return s;
  if (k_factor)
    *k_factor = k;
  if (pow2)
    *pow2 = p;
  return ok();
}

respin_rt_status respin_rt_hadamard_matrix(int64_t k_factor, int8_t *out) {
  const int8_t *h = hadamardMatrix(k_factor);
  if (!h)
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "no Hadamard factor of order %" PRId64
                ": supported orders are K in %s",
                k_factor, supportedFactorList());
  if (!out)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "hadamard_matrix: null out");
  std::memcpy(out, h, (size_t)(k_factor * k_factor));
  return ok();
}

respin_rt_status respin_rt_hadamard_rows(float *x, int64_t x_stride,
                                         int64_t rows, int64_t n) {
  int64_t k, pow2;
  if (respin_rt_status s = factorOrFail(n, k, pow2))
    return s;
  if (rows < 0 || (rows > 0 && !x) || x_stride < n)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "hadamard_rows: null x, negative rows or stride < n");
  transformRows(x, x_stride, rows, n, k, pow2);
  return ok();
}

respin_rt_status respin_rt_hadamard_quantize_rows(
    float *x, int64_t x_stride, int64_t rows, int64_t n, int bits,
    int symmetric, float clip, int64_t group_size, uint8_t *q,
    int64_t q_stride, float *scales, int32_t *zeros) {
  int64_t k, pow2;
  if (respin_rt_status s = factorOrFail(n, k, pow2))
    return s;
  if (respin_rt_status s = checkActQuantArgs(rows, n, bits, clip, group_size))
    return s;
  if (!x || !q || !scales || !zeros || x_stride < n || q_stride < n)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "hadamard_quantize_rows: null pointer or stride < n");
  RowQuant quant{bits, symmetric != 0, clip, group_size,
                 q,    q_stride,       scales, zeros};
  transformRows(x, x_stride, rows, n, k, pow2, &quant);
  return ok();
}

} // extern "C"
