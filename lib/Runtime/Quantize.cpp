//===- Quantize.cpp - Per-token activation and weight quantization --------===//
//
// The public entry points validate arguments and run the active variant's row
// quantizer over rows; weight quantization (compile time) is reference only.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "ThreadPool.h"

#include <cinttypes>

using namespace respin::rt;

namespace respin::rt {

respin_rt_status checkActQuantArgs(int64_t rows, int64_t cols, int bits,
                                   float clip, int64_t groupSize) {
  if (rows < 0 || cols < 1)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "quantize: bad shape %" PRId64 " x %" PRId64, rows, cols);
  if (bits < 2 || bits > 8)
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "quantize: activation bits must be in [2, 8], got %d", bits);
  if (!(clip > 0.0f && clip <= 1.0f))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "quantize: clip ratio must be in (0, 1], got %g", clip);
  if (groupSize < 0 || (groupSize != 0 && cols % groupSize != 0))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "quantize: group size %" PRId64 " does not divide %" PRId64,
                groupSize, cols);
  return RESPIN_RT_OK;
}

/// Quantizes rows with the active variant (no validation).
void quantizeRows(const float *x, int64_t xStride, int64_t rows, int64_t cols,
                  int bits, bool symmetric, float clip, int64_t groupSize,
                  uint8_t *q, int64_t qStride, float *scales, int32_t *zeros) {
  int64_t g = groupSize == 0 ? cols : groupSize, numGroups = cols / g;
  QuantizeRowFn fn = activeKernels().quantizeRow;
  for (int64_t r = 0; r < rows; ++r)
    fn(x + r * xStride, cols, bits, symmetric, clip, g, q + r * qStride,
       scales + r * numGroups, zeros + r * numGroups);
}

} // namespace respin::rt

extern "C" {

respin_rt_status respin_rt_quantize_rows(const float *x, int64_t x_stride,
                                         int64_t rows, int64_t cols, int bits,
                                         int symmetric, float clip,
                                         int64_t group_size, uint8_t *q,
                                         int64_t q_stride, float *scales,
                                         int32_t *zeros) {
  if (respin_rt_status s = checkActQuantArgs(rows, cols, bits, clip, group_size))
    return s;
  if (!x || !q || !scales || !zeros)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "quantize_rows: null pointer");
  if (x_stride < cols || q_stride < cols)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "quantize_rows: strides (%" PRId64 ", %" PRId64
                ") smaller than cols %" PRId64,
                x_stride, q_stride, cols);
  quantizeRows(x, x_stride, rows, cols, bits, symmetric != 0, clip,
               group_size, q, q_stride, scales, zeros);
  return ok();
}

respin_rt_status respin_rt_quantize_weights(const float *w, int64_t w_stride,
                                            int64_t n, int64_t k, int bits,
                                            int64_t group_size,
                                            const float *scales, int8_t *q,
                                            int64_t q_stride) {
  if (bits < 2 || bits > 8)
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "quantize_weights: bits must be in [2, 8], got %d", bits);
  if (n < 0 || k < 1 || group_size < 0 ||
      (group_size != 0 && k % group_size != 0))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "quantize_weights: bad shape %" PRId64 " x %" PRId64
                " / group %" PRId64,
                n, k, group_size);
  if (!w || !scales || !q || w_stride < k || q_stride < k)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "quantize_weights: null pointer or stride < k");
  int64_t g = group_size == 0 ? k : group_size, numGroups = k / g;
  float lo = (float)-(1 << (bits - 1)), hi = (float)((1 << (bits - 1)) - 1);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      float s = scales[r * numGroups + c / g];
      float v = s != 0.0f ? rne(w[r * w_stride + c] / s) : 0.0f;
      v = std::fmin(std::fmax(v, lo), hi);
      q[r * q_stride + c] = (int8_t)(int32_t)v;
    }
  return ok();
}

} // extern "C"
