//===- Elementwise.cpp - RMSNorm, SiLU*mul, RoPE ---------------------------===//
//
// Float element-wise kernels around the quantized linears. They are a small
// share of decode time and stay portable (the compiler vectorizes the simple
// loops); each has one definition so every caller computes the same floats.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cinttypes>
#include <cmath>

using namespace respin::rt;

extern "C" {

respin_rt_status respin_rt_rmsnorm(const float *x, int64_t x_stride, float *y,
                                   int64_t y_stride, int64_t rows, int64_t d,
                                   float eps) {
  if (!x || !y || rows < 0 || d < 1 || x_stride < d || y_stride < d ||
      !(eps >= 0.0f))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "rmsnorm: bad arguments (rows %" PRId64 ", d %" PRId64 ")",
                rows, d);
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * x_stride;
    float *yr = y + r * y_stride;
    // Sum of squares in double: d can be 8192+ and the mean feeds every
    // element of the row.
    double ss = 0.0;
    for (int64_t i = 0; i < d; ++i)
      ss += (double)xr[i] * xr[i];
    float inv = (float)(1.0 / std::sqrt(ss / (double)d + (double)eps));
    for (int64_t i = 0; i < d; ++i)
      yr[i] = xr[i] * inv;
  }
  return ok();
}

respin_rt_status respin_rt_silu_mul(const float *gate, int64_t gate_stride,
                                    const float *up, int64_t up_stride,
                                    float *out, int64_t out_stride,
                                    int64_t rows, int64_t d) {
  if (!gate || !up || !out || rows < 0 || d < 1 || gate_stride < d ||
      up_stride < d || out_stride < d)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "silu_mul: bad arguments");
  for (int64_t r = 0; r < rows; ++r) {
    const float *g = gate + r * gate_stride, *u = up + r * up_stride;
    float *o = out + r * out_stride;
    for (int64_t i = 0; i < d; ++i)
      o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
  return ok();
}

respin_rt_status respin_rt_rope(float *x, int64_t x_stride, int64_t tokens,
                                int64_t n_heads, int64_t head_dim,
                                int64_t pos0, float theta,
                                respin_rt_rope_layout layout) {
  if (!x || tokens < 0 || n_heads < 1 || head_dim < 2 || head_dim % 2 ||
      x_stride < n_heads * head_dim || pos0 < 0 || !(theta > 0.0f))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "rope: bad arguments (head_dim %" PRId64 " must be even)",
                head_dim);
  if (layout != RESPIN_RT_ROPE_INTERLEAVED && layout != RESPIN_RT_ROPE_HALF_SPLIT)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "rope: unknown layout %d",
                (int)layout);
  int64_t half = head_dim / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    double pos = (double)(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      // Angles in double: positions reach 1e5+ and float angles lose digits.
      double freq = std::pow((double)theta, -2.0 * (double)i / (double)head_dim);
      double angle = pos * freq;
      float c = (float)std::cos(angle), s = (float)std::sin(angle);
      for (int64_t h = 0; h < n_heads; ++h) {
        float *head = x + t * x_stride + h * head_dim;
        int64_t a = layout == RESPIN_RT_ROPE_INTERLEAVED ? 2 * i : i;
        int64_t b = layout == RESPIN_RT_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
        float x0 = head[a], x1 = head[b];
        head[a] = x0 * c - x1 * s;
        head[b] = x0 * s + x1 * c;
      }
    }
  }
  return ok();
}

} // extern "C"
