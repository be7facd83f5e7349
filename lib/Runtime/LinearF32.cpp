//===- LinearF32.cpp - Float linear entry point ----------------------------===//
//
// The f32 GEMV/GEMM that the low-bit path is measured against, also used for
// layers that stay in float (lm_head). Splits output columns over threads.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "ThreadPool.h"

#include <cinttypes>

using namespace respin::rt;

extern "C" respin_rt_status
respin_rt_linear_f32(const float *w, int64_t w_stride, int64_t n, int64_t k,
                     int64_t m, const float *x, int64_t x_stride, float *y,
                     int64_t y_stride, uint32_t flags) {
  if (n < 1 || k < 1 || m < 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "linear_f32: bad shape n %" PRId64 " k %" PRId64 " m %" PRId64,
                n, k, m);
  if (!w || !x || !y)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "linear_f32: null pointer");
  if (w_stride < k || x_stride < k || y_stride < n)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "linear_f32: a stride is smaller than its row");
  if (flags & ~RESPIN_RT_ACCUMULATE)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "linear_f32: unknown flags");
  LinearF32Args args{w, w_stride, n, k, m, x, x_stride, y, y_stride,
                     (flags & RESPIN_RT_ACCUMULATE) != 0};
  LinearF32KernelFn kernel = activeKernels().linearF32;
  // Split in whole 32-column panels so the prefill kernel's blocks line up.
  int64_t panels = (n + 31) / 32;
  int64_t minPanels = std::max<int64_t>(1, 2048 / std::max<int64_t>(1, m * k / 32));
  parallelFor(panels, minPanels, [&](int64_t begin, int64_t end) {
    kernel(args, begin * 32, std::min(n, end * 32));
  });
  return ok();
}
