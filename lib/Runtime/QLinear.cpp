//===- QLinear.cpp - Low-bit linear entry point ----------------------------===//
//
// Validates the call, copies the activation codes into zero-padded, 64-byte
// aligned rows laid out group by group (so kernels never read past a row and
// never need tail code along K), precomputes each row-group's code sum, then
// splits the output tiles over the thread pool.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "ThreadPool.h"

#include <cinttypes>
#include <cstdlib>
#include <vector>

namespace respin::rt {
namespace {

thread_local AlignedScratch activationScratch;

} // namespace
} // namespace respin::rt

using namespace respin::rt;

extern "C" respin_rt_status
respin_rt_qlinear(const void *packed, size_t packed_size, int64_t m,
                  const uint8_t *x_codes, int64_t x_stride,
                  const float *x_scales, const int32_t *x_zeros,
                  int64_t x_group_size, float *y, int64_t y_stride,
                  uint32_t flags) {
  PackedView w;
  if (respin_rt_status s = makePackedView(packed, packed_size, w))
    return s;
  if (m < 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "qlinear: m = %" PRId64, m);
  if (m == 0)
    return ok();
  if (!x_codes || !x_scales || !x_zeros || !y)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "qlinear: null pointer");
  if (x_stride < w.k || y_stride < w.n)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "qlinear: x_stride %" PRId64 " < k %" PRId64
                " or y_stride %" PRId64 " < n %" PRId64,
                x_stride, w.k, y_stride, w.n);
  if (flags & ~RESPIN_RT_ACCUMULATE)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "qlinear: unknown flags %#x",
                flags);
  bool perGroup = x_group_size != 0 && x_group_size != w.k;
  if (perGroup && x_group_size != w.groupSize)
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "qlinear: activation group size %" PRId64
                " must be 0, k, or the weight group size %" PRId64,
                x_group_size, w.groupSize);

  // Row layout: group j's codes at j * groupKPadded, zero padded.
  int64_t rowBytes = (w.numGroups * w.groupKPadded + 63) / 64 * 64;
  size_t xBytes = (size_t)(m * rowBytes);
  size_t sumBytes = (size_t)(m * w.numGroups) * sizeof(int32_t);
  uint8_t *xPadded = (uint8_t *)activationScratch.get(xBytes + sumBytes);
  if (!xPadded)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "qlinear: cannot allocate %zu bytes of scratch",
                xBytes + sumBytes);
  int32_t *xSums = (int32_t *)(xPadded + xBytes);
  for (int64_t r = 0; r < m; ++r) {
    uint8_t *dst = xPadded + r * rowBytes;
    const uint8_t *src = x_codes + r * x_stride;
    std::memset(dst, 0, rowBytes);
    for (int64_t j = 0; j < w.numGroups; ++j) {
      std::memcpy(dst + j * w.groupKPadded, src + j * w.groupSize,
                  w.groupSize);
      int32_t sum = 0;
      for (int64_t kk = 0; kk < w.groupSize; ++kk)
        sum += src[j * w.groupSize + kk];
      xSums[r * w.numGroups + j] = sum;
    }
  }

  QLinearArgs args;
  args.w = &w;
  args.m = m;
  args.x = xPadded;
  args.xStride = rowBytes;
  args.xSums = xSums;
  args.xZeros = x_zeros;
  args.xScales = x_scales;
  args.xPerGroup = perGroup;
  args.y = y;
  args.yStride = y_stride;
  args.accumulate = (flags & RESPIN_RT_ACCUMULATE) != 0;
  QLinearKernelFn kernel = activeKernels().qlinear;
  // Enough tiles per thread that waking a worker pays off.
  int64_t minTiles = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, m * w.k / 64));
  parallelFor(w.numTiles, minTiles, [&](int64_t begin, int64_t end) {
    kernel(args, begin, end);
  });
  return ok();
}
