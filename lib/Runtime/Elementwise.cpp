//===- Elementwise.cpp - RMSNorm, SiLU*mul, RoPE, add, embedding ----------===//
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

namespace {

/// 1 / sqrt(mean(x^2) + eps) of one row. Sum of squares in double: d can be
/// 8192+ and the mean feeds every element of the row.
float inverseRms(const float *x, int64_t d, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < d; ++i)
    ss += (double)x[i] * x[i];
  return (float)(1.0 / std::sqrt(ss / (double)d + (double)eps));
}

/// Shared by both entry points so gain == NULL is rmsnorm bit for bit.
respin_rt_status rmsnormRows(const char *name, const float *x, int64_t x_stride,
                             float *y, int64_t y_stride, int64_t rows,
                             int64_t d, float eps, const float *gain) {
  if (!x || !y || rows < 0 || d < 1 || x_stride < d || y_stride < d ||
      !(eps >= 0.0f))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "%s: bad arguments (rows %" PRId64 ", d %" PRId64 ")", name,
                rows, d);
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * x_stride;
    float *yr = y + r * y_stride;
    float inv = inverseRms(xr, d, eps); // before the row may be overwritten
    if (gain)
      for (int64_t i = 0; i < d; ++i)
        yr[i] = (xr[i] * inv) * gain[i];
    else
      for (int64_t i = 0; i < d; ++i)
        yr[i] = xr[i] * inv;
  }
  return ok();
}

} // namespace

extern "C" {

respin_rt_status respin_rt_rmsnorm(const float *x, int64_t x_stride, float *y,
                                   int64_t y_stride, int64_t rows, int64_t d,
                                   float eps) {
  return rmsnormRows("rmsnorm", x, x_stride, y, y_stride, rows, d, eps,
                     nullptr);
}

respin_rt_status respin_rt_rmsnorm_gain(const float *x, int64_t x_stride,
                                        float *y, int64_t y_stride,
                                        int64_t rows, int64_t d, float eps,
                                        const float *gain) {
  return rmsnormRows("rmsnorm_gain", x, x_stride, y, y_stride, rows, d, eps,
                     gain);
}

respin_rt_status respin_rt_add(const float *a, int64_t a_stride, const float *b,
                               int64_t b_stride, float *out, int64_t out_stride,
                               int64_t rows, int64_t d) {
  if (!a || !b || !out || rows < 0 || d < 1 || a_stride < d || b_stride < d ||
      out_stride < d)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "add: bad arguments (rows %" PRId64 ", d %" PRId64 ")", rows,
                d);
  // Element i of a row is read before it is written, so out may alias a or b.
  for (int64_t r = 0; r < rows; ++r) {
    const float *ar = a + r * a_stride, *br = b + r * b_stride;
    float *o = out + r * out_stride;
    for (int64_t i = 0; i < d; ++i)
      o[i] = ar[i] + br[i];
  }
  return ok();
}

respin_rt_status respin_rt_embedding(const float *table, int64_t vocab,
                                     int64_t dim, const int32_t *tokens,
                                     int64_t n, float *out,
                                     int64_t out_stride) {
  if (!table || !tokens || !out || vocab < 1 || dim < 1 || n < 0 ||
      out_stride < dim)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "embedding: bad arguments (vocab %" PRId64 ", dim %" PRId64
                ", n %" PRId64 ", out_stride %" PRId64 ")",
                vocab, dim, n, out_stride);
  // All ids first: a bad one leaves out untouched.
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                  "embedding: token id %d at position %" PRId64
                  " is outside [0, %" PRId64 ")",
                  tokens[i], i, vocab);
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * out_stride, table + (int64_t)tokens[i] * dim,
                (size_t)dim * sizeof(float));
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
