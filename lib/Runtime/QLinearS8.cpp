//===- QLinearS8.cpp - 8-bit weight linear entry point
//---------------------===//
//
// respin_rt_qlinear_s8 serves W8 models: the weights arrive as plain int8
// rows, so there is no packed blob to validate and the kernels read them in
// place. The entry point checks the call (including the bounds that keep the
// int32 sums exact), copies the activation codes into 64-byte rows with each
// group padded to whole 4-byte quads (the VNNI operand width), and splits N
// over the thread pool in 32-column panels.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cinttypes>

namespace respin::rt {
namespace {

thread_local AlignedScratch s8ActivationScratch;

/// k * 255 * 128 < 2^31: |q_x - z_x| <= 255 and |qw| <= 128.
constexpr int64_t kMaxS8K = ((int64_t(1) << 31) - 1) / (255 * 128);

respin_rt_status checkShape(int64_t n, int64_t k, int64_t groupSize, int64_t m,
                            int64_t xGroupSize) {
  if (n < 1 || k < 1 || m < 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "qlinear_s8: bad shape n %" PRId64 " k %" PRId64 " m %" PRId64,
                n, k, m);
  if (k > kMaxS8K)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "qlinear_s8: k %" PRId64 " too large: k * 255 * 128 must "
                "stay below 2^31 (k <= %" PRId64 ") for exact int32 sums",
                k, kMaxS8K);
  if (groupSize < 0 || (groupSize != 0 && k % groupSize != 0))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "qlinear_s8: group size %" PRId64
                " must be 0 (per channel) or divide k %" PRId64,
                groupSize, k);
  int64_t g = groupSize == 0 ? k : groupSize;
  if (xGroupSize != 0 && xGroupSize != k && xGroupSize != g)
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "qlinear_s8: activation group size %" PRId64
                " must be 0, k (%" PRId64 ") or the weight group size %" PRId64,
                xGroupSize, k, g);
  return RESPIN_RT_OK;
}

/// Zero points outside [0, 255] would break the k bound above.
respin_rt_status checkZeros(const int32_t *zeros, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (zeros[i] < 0 || zeros[i] > 255)
      return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                  "qlinear_s8: x_zeros[%" PRId64 "] = %d outside [0, 255]", i,
                  zeros[i]);
  return RESPIN_RT_OK;
}

/// Copies rows of codes so that group j starts at j * groupKPadded, with
/// zeros in the padding and the row tail.
void padActivations(const uint8_t *x, int64_t xStride, QLinearS8Args &a,
                    uint8_t *dst) {
  for (int64_t r = 0; r < a.m; ++r) {
    uint8_t *row = dst + r * a.xStride;
    const uint8_t *src = x + r * xStride;
    std::memset(row, 0, a.xStride);
    if (a.groupKPadded == a.groupSize) {
      std::memcpy(row, src, a.k);
      continue;
    }
    for (int64_t j = 0; j < a.numGroups; ++j)
      std::memcpy(row + j * a.groupKPadded, src + j * a.groupSize, a.groupSize);
  }
}

} // namespace
} // namespace respin::rt

using namespace respin::rt;

extern "C" respin_rt_status respin_rt_qlinear_s8(
    const int8_t *w, int64_t w_stride, const float *w_scales, int64_t n,
    int64_t k, int64_t group_size, int64_t m, const uint8_t *x_codes,
    int64_t x_stride, const float *x_scales, const int32_t *x_zeros,
    int64_t x_group_size, float *y, int64_t y_stride, uint32_t flags) {
  if (respin_rt_status s = checkShape(n, k, group_size, m, x_group_size))
    return s;
  if (flags & ~RESPIN_RT_ACCUMULATE)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "qlinear_s8: unknown flags %#x",
                flags);
  if (m == 0)
    return ok();
  if (!w || !w_scales || !x_codes || !x_scales || !x_zeros || !y)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "qlinear_s8: null pointer");
  if (w_stride < k || x_stride < k || y_stride < n)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "qlinear_s8: w_stride %" PRId64 " or x_stride %" PRId64
                " < k %" PRId64 ", or y_stride %" PRId64 " < n %" PRId64,
                w_stride, x_stride, k, y_stride, n);

  QLinearS8Args a;
  a.w = w;
  a.wStride = w_stride;
  a.n = n;
  a.k = k;
  a.groupSize = group_size == 0 ? k : group_size;
  a.numGroups = k / a.groupSize;
  a.wScales = w_scales;
  a.m = m;
  a.groupKPadded = (a.groupSize + 3) / 4 * 4;
  a.xStride = (a.numGroups * a.groupKPadded + 63) / 64 * 64;
  a.xScales = x_scales;
  a.xZeros = x_zeros;
  a.xPerGroup = x_group_size != 0 && x_group_size != k;
  a.y = y;
  a.yStride = y_stride;
  a.accumulate = (flags & RESPIN_RT_ACCUMULATE) != 0;
  if (respin_rt_status s =
          checkZeros(x_zeros, m * (a.xPerGroup ? a.numGroups : 1)))
    return s;

  size_t xBytes = (size_t)(m * a.xStride);
  uint8_t *xPadded = (uint8_t *)s8ActivationScratch.get(xBytes);
  if (!xPadded)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "qlinear_s8: cannot allocate %zu bytes of scratch", xBytes);
  padActivations(x_codes, x_stride, a, xPadded);
  a.x = xPadded;

  QLinearS8KernelFn kernel = activeKernels().qlinearS8;
  // Whole 32-column panels (the prefill kernel's unit); enough per thread
  // that waking a worker pays off.
  int64_t panels = (n + 31) / 32;
  int64_t minPanels =
      std::max<int64_t>(1, 2048 / std::max<int64_t>(1, m * k / 32));
  parallelFor(panels, minPanels, [&](int64_t begin, int64_t end) {
    kernel(a, begin * 32, std::min(n, end * 32));
  });
  return ok();
}
