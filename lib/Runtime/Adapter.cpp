//===- Adapter.cpp - Rank-r residual adapter entry points -----------------===//
//
// h <- h + Q (M (Q^T h)) + add for each row: the ReSpinQuant skip-path
// transition fused with the block output's residual add, so the residual
// stream is read and written once. Q^T may be f32, bf16 or f16 (f32
// arithmetic throughout). Rows are split over the threads, each row computed
// by one thread, so results never depend on the thread count.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cinttypes>
#include <vector>

namespace respin::rt {

float bf16ToFloat(uint16_t v) {
  uint32_t bits = (uint32_t)v << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float f16ToFloat(uint16_t v) {
  uint32_t sign = (uint32_t)(v & 0x8000u) << 16;
  uint32_t exponent = (v >> 10) & 0x1Fu, mantissa = v & 0x3FFu;
  uint32_t bits;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float f = (float)mantissa * 5.9604644775390625e-8f;
    return sign ? -f : f;
  }
  if (exponent == 31)
    bits = sign | 0x7F800000u | (mantissa << 13);
  else
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

} // namespace respin::rt

using namespace respin::rt;

namespace {

uint32_t floatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

/// Round to nearest even; the caller has checked that f is finite.
uint16_t floatToBf16(float f) {
  uint32_t bits = floatBits(f);
  return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

/// Round to nearest even; |f| < 65520 (checked by the caller).
uint16_t floatToF16(float f) {
  uint32_t bits = floatBits(f);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  uint32_t absBits = bits & 0x7FFFFFFFu;
  if (absBits < 0x38800000u) {
    // Below 2^-14: a subnormal (or zero) half, in units of 2^-24. The
    // scaling by 2^24 is exact, nearbyint rounds half to even, and 1024
    // correctly encodes the smallest normal.
    return (uint16_t)(sign | (uint16_t)std::nearbyint(std::fabs(f) *
                                                      16777216.0f));
  }
  // Normal: round the 23-bit mantissa to 10 bits (ties to even); a carry
  // moves into the exponent field, then rebias 127 -> 15.
  uint32_t rounded = (absBits + 0xFFFu + ((absBits >> 13) & 1u)) >> 13;
  return (uint16_t)(sign | (uint16_t)(rounded - (112u << 10)));
}

/// One row, on the calling thread. Splitting one row over the threads was
/// measured slower: the row's work (~10-40 us) is comparable to a wake-up of
/// the pool on a loaded 2-core machine (see bench/RESULTS.md).
void adaptRow(float *h, const float *add, int64_t d, int64_t r,
              const void *qT, int format, const float *mCore, float *t,
              float *u) {
  const KernelTable &kt = activeKernels();
  kt.adapterProject(h, 0, d, d, r, qT, format, t);
  for (int64_t a = 0; a < r; ++a) {
    float s = 0.0f;
    for (int64_t b = 0; b < r; ++b)
      s = s + mCore[a * r + b] * t[b];
    u[a] = s;
  }
  kt.adapterUpdate(h, add, 0, d, d, r, qT, format, u);
}

} // namespace

extern "C" {

size_t respin_rt_float_format_size(respin_rt_float_format format) {
  switch (format) {
  case RESPIN_RT_FLOAT_F32:
    return 4;
  case RESPIN_RT_FLOAT_BF16:
  case RESPIN_RT_FLOAT_F16:
    return 2;
  }
  return 0;
}

respin_rt_status respin_rt_convert_floats(const float *src, int64_t count,
                                          respin_rt_float_format format,
                                          void *dst) {
  if (count < 0 || (count > 0 && (!src || !dst)))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "convert_floats: null pointer or negative count");
  if (respin_rt_float_format_size(format) == 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "convert_floats: unknown format %d", (int)format);
  for (int64_t i = 0; i < count; ++i) {
    float v = src[i];
    if (!std::isfinite(v))
      return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                  "convert_floats: element %" PRId64 " is not finite", i);
    switch (format) {
    case RESPIN_RT_FLOAT_F32:
      ((float *)dst)[i] = v;
      break;
    case RESPIN_RT_FLOAT_BF16: {
      uint16_t b = floatToBf16(v);
      if ((b & 0x7F80u) == 0x7F80u)
        return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                    "convert_floats: element %" PRId64 " (%g) overflows bf16",
                    i, (double)v);
      std::memcpy((uint8_t *)dst + 2 * i, &b, 2);
      break;
    }
    case RESPIN_RT_FLOAT_F16: {
      if (std::fabs(v) >= 65520.0f)
        return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                    "convert_floats: element %" PRId64 " (%g) overflows f16 "
                    "(|x| >= 65520)",
                    i, (double)v);
      uint16_t b = floatToF16(v);
      std::memcpy((uint8_t *)dst + 2 * i, &b, 2);
      break;
    }
    }
  }
  return ok();
}

respin_rt_status respin_rt_residual_adapter_q(
    float *h, int64_t h_stride, const float *add, int64_t add_stride,
    int64_t rows, int64_t d, int64_t r, const void *q_t,
    respin_rt_float_format q_format, const float *m_core) {
  if (rows < 0 || d < 1 || r < 0 || r > d)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: bad shape rows %" PRId64 " d %" PRId64
                " r %" PRId64,
                rows, d, r);
  if (!h || (r > 0 && (!q_t || !m_core)))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: null pointer");
  if (h_stride < d || (add && add_stride < d))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: stride smaller than d");
  size_t elementBytes = respin_rt_float_format_size(q_format);
  if (elementBytes == 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: unknown Q^T format %d", (int)q_format);
  if (r > 0 && (uintptr_t)q_t % elementBytes != 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: Q^T not aligned to its %zu-byte elements",
                elementBytes);
  // Rows (prefill) are split over the threads; a single row (decode) runs
  // on the caller. Each row is computed the same way either way.
  parallelFor(rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(2 * r);
    for (int64_t i = begin; i < end; ++i) {
      float *row = h + i * h_stride;
      const float *addRow = add ? add + i * add_stride : nullptr;
      if (r == 0) {
        // T^ = I: only the residual add remains.
        if (addRow)
          for (int64_t c = 0; c < d; ++c)
            row[c] = row[c] + addRow[c];
        continue;
      }
      adaptRow(row, addRow, d, r, q_t, (int)q_format, m_core, scratch.data(),
               scratch.data() + r);
    }
  });
  return ok();
}

respin_rt_status respin_rt_residual_adapter(float *h, int64_t h_stride,
                                            const float *add,
                                            int64_t add_stride, int64_t rows,
                                            int64_t d, int64_t r,
                                            const float *q_t,
                                            const float *m_core) {
  return respin_rt_residual_adapter_q(h, h_stride, add, add_stride, rows, d,
                                      r, q_t, RESPIN_RT_FLOAT_F32, m_core);
}

} // extern "C"
