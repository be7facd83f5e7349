//===- RuntimeFloatTest.cpp - Float kernels: f32 linear, residual adapter -===//
//
// Float paths may reorder sums between variants, so they are checked against
// a double-precision recomputation with an error bound derived from the
// summation length (stated at each check), and the reference itself must be
// inside the same bound.
//
// The adapter's 16-bit Q^T storage (bf16, f16) is checked twice: each variant
// on 16-bit Q^T is bit-identical to the same variant on the f32 Q^T holding
// the decoded values (the widening is exact and the arithmetic the same), and
// the result stays within a bound derived from Q's rounding error of the
// double-precision result with the original f32 Q.
//
//===----------------------------------------------------------------------===//

#include "respin/Runtime/respin_rt.h"
#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace respin::testing;

namespace {

std::vector<float> randomVector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = normal(rng);
  return v;
}

// Float summation of L terms errs by at most ~L * 2^-24 * sum |terms| in any
// order (with or without FMA); we allow 2x that.
double sumBound(int64_t terms, double absSum) {
  return 2.0 * (double)terms * std::ldexp(1.0, -24) * absSum + 1e-30;
}

TEST(RuntimeLinearF32, VariantsWithinSummationBound) {
  IsaGuard guard;
  struct Shape {
    int64_t n, k, m;
  } shapes[] = {{1, 1, 1}, {37, 53, 1}, {64, 256, 3}, {33, 300, 8},
                {70, 513, 17}};
  for (const Shape &s : shapes) {
    int64_t xStride = s.k + 1, wStride = s.k + 2, yStride = s.n + 3;
    std::vector<float> w = randomVector(s.n * wStride, 1);
    std::vector<float> x = randomVector(s.m * xStride, 2);
    std::vector<float> y0 = randomVector(s.m * yStride, 3);
    for (bool accumulate : {false, true})
      for (respin_rt_isa isa : variants()) {
        ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
        for (int threads : {1, 2}) {
          respin_rt_set_num_threads(threads);
          std::vector<float> y = y0;
          ASSERT_EQ(respin_rt_linear_f32(w.data(), wStride, s.n, s.k, s.m,
                                         x.data(), xStride, y.data(), yStride,
                                         accumulate ? RESPIN_RT_ACCUMULATE : 0),
                    RESPIN_RT_OK);
          for (int64_t r = 0; r < s.m; ++r)
            for (int64_t n = 0; n < s.n; ++n) {
              double want = accumulate ? y0[r * yStride + n] : 0.0, abs = 0;
              for (int64_t k = 0; k < s.k; ++k) {
                double t = (double)x[r * xStride + k] * w[n * wStride + k];
                want += t;
                abs += std::fabs(t);
              }
              ASSERT_NEAR(y[r * yStride + n], want,
                          sumBound(s.k + 2, abs + std::fabs(want)))
                  << respin_rt_isa_name(isa) << " n=" << s.n << " k=" << s.k;
            }
          for (int64_t r = 0; r < s.m; ++r) // padding columns untouched
            for (int64_t n = s.n; n < yStride; ++n)
              ASSERT_EQ(y[r * yStride + n], y0[r * yStride + n]);
        }
      }
  }
}

TEST(RuntimeAdapter, MatchesDoubleAndVariantsAgree) {
  IsaGuard guard;
  struct Shape {
    int64_t d, r, rows;
  } shapes[] = {{64, 2, 1},   {96, 8, 3},   {256, 32, 2},  {100, 5, 2},
                {4096, 32, 1}, {1500, 7, 1}, {4133, 33, 3}, {2048, 4, 1}};
  for (const Shape &s : shapes) {
    std::vector<float> qT = randomVector(s.r * s.d, 10, 0.1f); // Q^T, r x d
    std::vector<float> mc = randomVector(s.r * s.r, 11, 0.3f);
    int64_t stride = s.d + 1;
    std::vector<float> h0 = randomVector(s.rows * stride, 12);
    std::vector<float> add = randomVector(s.rows * stride, 13);
    for (bool withAdd : {false, true})
      for (respin_rt_isa isa : variants()) {
        ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
        // The chunked sums do not depend on the thread count.
        std::vector<float> h;
        for (int threads : {1, 2}) {
          respin_rt_set_num_threads(threads);
          std::vector<float> got = h0;
          ASSERT_EQ(respin_rt_residual_adapter(got.data(), stride,
                                               withAdd ? add.data() : nullptr,
                                               stride, s.rows, s.d, s.r,
                                               qT.data(), mc.data()),
                    RESPIN_RT_OK);
          if (threads == 1)
            h = got;
          else
            ASSERT_EQ(std::memcmp(h.data(), got.data(), h.size() * 4), 0)
                << respin_rt_isa_name(isa) << " d=" << s.d;
        }
        for (int64_t row = 0; row < s.rows; ++row) {
          const float *hr = h0.data() + row * stride;
          std::vector<double> t(s.r, 0), u(s.r, 0);
          double tAbs = 0;
          for (int64_t i = 0; i < s.d; ++i)
            for (int64_t j = 0; j < s.r; ++j) {
              t[j] += (double)hr[i] * qT[j * s.d + i];
              tAbs += std::fabs((double)hr[i] * qT[j * s.d + i]);
            }
          for (int64_t a = 0; a < s.r; ++a)
            for (int64_t b = 0; b < s.r; ++b)
              u[a] += (double)mc[a * s.r + b] * t[b];
          for (int64_t i = 0; i < s.d; ++i) {
            double corr = 0, corrAbs = 0;
            for (int64_t j = 0; j < s.r; ++j) {
              corr += (double)qT[j * s.d + i] * u[j];
              corrAbs += std::fabs((double)qT[j * s.d + i] * u[j]);
            }
            double want = hr[i] + corr + (withAdd ? add[row * stride + i] : 0);
            // Errors in t (length d sums) propagate through M and Q with
            // factor <= max|M| r * max|Q| r; bound generously by that.
            double tol = sumBound(s.d + s.r, tAbs) * 2.0 * s.r +
                         sumBound(s.r + 2, corrAbs + std::fabs(want));
            ASSERT_NEAR(h[row * stride + i], want, tol)
                << respin_rt_isa_name(isa) << " d=" << s.d << " i=" << i;
          }
        }
      }
  }
}

//===----------------------------------------------------------------------===//
// 16-bit Q^T
//===----------------------------------------------------------------------===//

/// Independent decoders (the runtime's are not visible here).
float decodeBf16(uint16_t v) {
  uint32_t bits = (uint32_t)v << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float decodeF16(uint16_t v) {
  int exponent = (v >> 10) & 31, mantissa = v & 1023;
  double mag = exponent == 0 ? std::ldexp((double)mantissa, -24)
               : exponent == 31
                   ? (mantissa ? NAN : INFINITY)
                   : std::ldexp(1024.0 + mantissa, exponent - 25);
  return (float)((v & 0x8000) ? -mag : mag);
}

float decode(respin_rt_float_format f, uint16_t v) {
  return f == RESPIN_RT_FLOAT_BF16 ? decodeBf16(v) : decodeF16(v);
}

std::vector<uint16_t> convert16(const std::vector<float> &x,
                                respin_rt_float_format f) {
  std::vector<uint16_t> out(x.size());
  EXPECT_EQ(respin_rt_convert_floats(x.data(), (int64_t)x.size(), f,
                                     out.data()),
            RESPIN_RT_OK)
      << respin_rt_last_error();
  return out;
}

uint16_t convertOne(float x, respin_rt_float_format f) {
  uint16_t out = 0xDEAD;
  EXPECT_EQ(respin_rt_convert_floats(&x, 1, f, &out), RESPIN_RT_OK) << x;
  return out;
}

TEST(RuntimeAdapter, ConvertFloatsRoundsToNearestEven) {
  const auto bf = RESPIN_RT_FLOAT_BF16, hf = RESPIN_RT_FLOAT_F16;
  EXPECT_EQ(respin_rt_float_format_size(RESPIN_RT_FLOAT_F32), 4u);
  EXPECT_EQ(respin_rt_float_format_size(bf), 2u);
  EXPECT_EQ(respin_rt_float_format_size(hf), 2u);
  // bf16: 8 significant bits; ties go to the even neighbour.
  EXPECT_EQ(convertOne(1.0f, bf), 0x3F80);
  EXPECT_EQ(convertOne(1.0f + std::ldexp(1.0f, -8), bf), 0x3F80);     // tie
  EXPECT_EQ(convertOne(1.0f + 3 * std::ldexp(1.0f, -8), bf), 0x3F82); // tie
  EXPECT_EQ(convertOne(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20),
                       bf),
            0x3F81);
  EXPECT_EQ(convertOne(-0.0f, bf), 0x8000);
  EXPECT_EQ(convertOne(std::ldexp(1.0f, -130), bf), 0x0008); // f32 subnormal
  // f16: 11 significant bits, subnormals in units of 2^-24, max 65504.
  EXPECT_EQ(convertOne(1.0f, hf), 0x3C00);
  EXPECT_EQ(convertOne(1.0f + std::ldexp(1.0f, -11), hf), 0x3C00);     // tie
  EXPECT_EQ(convertOne(1.0f + 3 * std::ldexp(1.0f, -11), hf), 0x3C02); // tie
  EXPECT_EQ(convertOne(-2.0f, hf), 0xC000);
  EXPECT_EQ(convertOne(std::ldexp(1.0f, -24), hf), 0x0001);
  EXPECT_EQ(convertOne(std::ldexp(1.0f, -25), hf), 0x0000);       // tie -> 0
  EXPECT_EQ(convertOne(1.5f * std::ldexp(1.0f, -24), hf), 0x0002); // tie -> 2
  EXPECT_EQ(convertOne(std::ldexp(1023.5f, -24), hf), 0x0400);     // -> normal
  EXPECT_EQ(convertOne(std::ldexp(1.0f, -14), hf), 0x0400);
  EXPECT_EQ(convertOne(65504.0f, hf), 0x7BFF);
  EXPECT_EQ(convertOne(65519.0f, hf), 0x7BFF);
  EXPECT_EQ(convertOne(-0.0f, hf), 0x8000);
  uint16_t out[2];
  for (float bad : {65520.0f, -1e6f, INFINITY, NAN}) {
    float in[2] = {0.5f, bad};
    EXPECT_EQ(respin_rt_convert_floats(in, 2, hf, out),
              RESPIN_RT_ERR_INVALID_ARGUMENT)
        << bad;
  }
  for (float bad : {INFINITY, -NAN, 3.4028235e38f}) { // FLT_MAX rounds to inf
    EXPECT_EQ(respin_rt_convert_floats(&bad, 1, bf, out),
              RESPIN_RT_ERR_INVALID_ARGUMENT)
        << bad;
  }
  float one = 1.0f;
  EXPECT_EQ(respin_rt_convert_floats(&one, 1, (respin_rt_float_format)7, out),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  // Every finite code round-trips through decode + convert.
  for (respin_rt_float_format f : {bf, hf})
    for (uint32_t code = 0; code < 65536; ++code) {
      float v = decode(f, (uint16_t)code);
      if (!std::isfinite(v))
        continue;
      ASSERT_EQ(convertOne(v, f), code) << (int)f << " " << v;
    }
  // Random values land on one of the two neighbouring codes, the nearer.
  std::vector<float> x = randomVector(4096, 21, 0.05f);
  for (respin_rt_float_format f : {bf, hf}) {
    std::vector<uint16_t> q = convert16(x, f);
    for (size_t i = 0; i < x.size(); ++i) {
      double err = std::fabs((double)decode(f, q[i]) - x[i]);
      double down = std::fabs((double)decode(f, (uint16_t)(q[i] - 1)) - x[i]);
      double up = std::fabs((double)decode(f, (uint16_t)(q[i] + 1)) - x[i]);
      ASSERT_LE(err, down) << x[i];
      ASSERT_LE(err, up) << x[i];
    }
  }
}

TEST(RuntimeAdapter, SixteenBitQIsExactlyTheF32PathOnDecodedValues) {
  IsaGuard guard;
  struct Shape {
    int64_t d, r, rows;
  } shapes[] = {{64, 2, 1},    {100, 5, 2},  {1500, 7, 1}, {4096, 32, 1},
                {4133, 33, 3}, {1031, 1, 2}, {17, 3, 1}};
  for (const Shape &s : shapes)
    for (respin_rt_float_format f :
         {RESPIN_RT_FLOAT_BF16, RESPIN_RT_FLOAT_F16}) {
      // Q^T at an odd element offset: 2-byte aligned, not vector aligned.
      std::vector<float> qF = randomVector(s.r * s.d, 30, 0.1f);
      std::vector<uint16_t> store(s.r * s.d + 1);
      std::vector<uint16_t> q16 = convert16(qF, f);
      std::copy(q16.begin(), q16.end(), store.begin() + 1);
      std::vector<float> decoded(s.r * s.d);
      for (size_t i = 0; i < decoded.size(); ++i)
        decoded[i] = decode(f, q16[i]);
      std::vector<float> mc = randomVector(s.r * s.r, 31, 0.3f);
      int64_t stride = s.d + 3;
      std::vector<float> h0 = randomVector(s.rows * stride + 1, 32);
      std::vector<float> add = randomVector(s.rows * stride + 1, 33);
      for (respin_rt_isa isa : variants()) {
        ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
        for (int threads : {1, 2}) {
          respin_rt_set_num_threads(threads);
          std::vector<float> want = h0, got = h0;
          // h at an odd float offset too.
          ASSERT_EQ(respin_rt_residual_adapter(want.data() + 1, stride,
                                               add.data() + 1, stride, s.rows,
                                               s.d, s.r, decoded.data(),
                                               mc.data()),
                    RESPIN_RT_OK);
          ASSERT_EQ(respin_rt_residual_adapter_q(
                        got.data() + 1, stride, add.data() + 1, stride,
                        s.rows, s.d, s.r, store.data() + 1, f, mc.data()),
                    RESPIN_RT_OK)
              << respin_rt_last_error();
          ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * 4), 0)
              << respin_rt_isa_name(isa) << " format " << (int)f
              << " d=" << s.d << " r=" << s.r << " threads " << threads;
        }
      }
    }
}

TEST(RuntimeAdapter, SixteenBitQWithinItsRoundingBound) {
  IsaGuard guard;
  // Q^T with orthonormal-scale entries (~ 1/sqrt(D)), a few large and a few
  // in f16's subnormal range, as the compiler's adapters have.
  const int64_t d = 4096, r = 32;
  std::vector<float> q = randomVector(r * d, 40, 1.0f / 64);
  for (int64_t i = 0; i < r * d; i += 97)
    q[i] *= (i / 97) % 2 ? 40.0f : 1e-3f;
  std::vector<float> mc = randomVector(r * r, 41, 0.3f);
  std::vector<float> h0 = randomVector(d, 42), add = randomVector(d, 43);
  // Exact correction with the f32 Q, in double.
  std::vector<double> t(r, 0), u(r, 0);
  for (int64_t j = 0; j < r; ++j)
    for (int64_t i = 0; i < d; ++i)
      t[j] += (double)h0[i] * q[j * d + i];
  for (int64_t a = 0; a < r; ++a)
    for (int64_t b = 0; b < r; ++b)
      u[a] += (double)mc[a * r + b] * t[b];
  struct Format {
    respin_rt_float_format f;
    double eps, eta; // |Q16 - Q| <= eps |Q| + eta (relative, subnormal)
  } formats[] = {{RESPIN_RT_FLOAT_BF16, std::ldexp(1.0, -8), 0.0},
                 {RESPIN_RT_FLOAT_F16, std::ldexp(1.0, -11),
                  std::ldexp(1.0, -25)}};
  for (const Format &fm : formats) {
    std::vector<uint16_t> q16 = convert16(q, fm.f);
    // Rigorous propagation of E = Q16 - Q (|E| <= eAbs elementwise):
    //   |t16 - t|_b <= dt_b = sum_k eAbs_kb |h_k|
    //   |u16 - u|_j <= du_j = sum_b |M_jb| dt_b
    //   |c16 - c|_i <= sum_j eAbs_ij (|u_j| + du_j) + sum_j |Q_ij| du_j
    auto eAbs = [&](int64_t idx) {
      return fm.eps * std::fabs((double)q[idx]) + fm.eta;
    };
    std::vector<double> dt(r, 0), du(r, 0);
    for (int64_t b = 0; b < r; ++b)
      for (int64_t k = 0; k < d; ++k)
        dt[b] += eAbs(b * d + k) * std::fabs((double)h0[k]);
    for (int64_t j = 0; j < r; ++j)
      for (int64_t b = 0; b < r; ++b)
        du[j] += std::fabs((double)mc[j * r + b]) * dt[b];
    // f32 arithmetic on the stored values (|Q16| <= |Q| + eAbs), any order,
    // with or without FMA: a length-n sum errs by <= g(n) * sum |terms|.
    auto g = [](int64_t n) { return 2.0 * (double)n * std::ldexp(1.0, -24); };
    std::vector<double> at(r, 0), au(r, 0);
    for (int64_t b = 0; b < r; ++b) {
      double abs = 0;
      for (int64_t k = 0; k < d; ++k)
        abs += (std::fabs((double)q[b * d + k]) + eAbs(b * d + k)) *
               std::fabs((double)h0[k]);
      at[b] = g(d) * abs;
    }
    for (int64_t j = 0; j < r; ++j) {
      double prop = 0, abs = 0;
      for (int64_t b = 0; b < r; ++b) {
        double m = std::fabs((double)mc[j * r + b]);
        prop += m * at[b];
        abs += m * (std::fabs(t[b]) + dt[b] + at[b]);
      }
      au[j] = prop + g(r) * abs;
    }
    double maxErr = 0, maxTol = 0;
    for (respin_rt_isa isa : variants()) {
      ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
      std::vector<float> h = h0;
      ASSERT_EQ(respin_rt_residual_adapter_q(h.data(), d, add.data(), d, 1,
                                             d, r, q16.data(), fm.f,
                                             mc.data()),
                RESPIN_RT_OK);
      for (int64_t i = 0; i < d; ++i) {
        double corr = 0, storage = 0, prop = 0, abs = 0;
        for (int64_t j = 0; j < r; ++j) {
          double qa = std::fabs((double)q[j * d + i]), e = eAbs(j * d + i);
          corr += (double)q[j * d + i] * u[j];
          storage += e * (std::fabs(u[j]) + du[j]) + qa * du[j];
          prop += (qa + e) * au[j];
          abs += (qa + e) * (std::fabs(u[j]) + du[j] + au[j]);
        }
        double want = (double)h0[i] + corr + add[i];
        double arith =
            prop + g(r + 2) * (abs + std::fabs(h0[i]) + std::fabs(add[i]));
        double err = std::fabs((double)h[i] - want);
        ASSERT_LE(err, storage + arith)
            << respin_rt_isa_name(isa) << " format " << (int)fm.f << " i=" << i
            << " storage bound " << storage << " arithmetic bound " << arith;
        maxErr = std::max(maxErr, err);
        maxTol = std::max(maxTol, storage + arith);
      }
    }
    // The bound is worst case (every rounding error aligned); random errors
    // cancel like sqrt(d), so the observed maximum sits 1-3 orders below it.
    // Guard against a bound so loose it would accept anything.
    EXPECT_GT(maxErr, 1e-3 * maxTol) << (int)fm.f;
    std::printf("[          ] %s Q^T: max |error| %.3g, max bound %.3g\n",
                fm.f == RESPIN_RT_FLOAT_BF16 ? "bf16" : "f16", maxErr, maxTol);
  }
}

TEST(RuntimeAdapter, RejectsBadFormatsAndMisalignedQ) {
  std::vector<float> h(64, 1.0f), m(4, 0.5f);
  std::vector<uint16_t> q(2 * 64 + 1, 0x3C00);
  EXPECT_EQ(respin_rt_residual_adapter_q(h.data(), 64, nullptr, 0, 1, 64, 2,
                                         (const uint8_t *)q.data() + 1,
                                         RESPIN_RT_FLOAT_F16, m.data()),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_residual_adapter_q(h.data(), 64, nullptr, 0, 1, 64, 2,
                                         q.data(), (respin_rt_float_format)3,
                                         m.data()),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_residual_adapter_q(h.data(), 64, nullptr, 0, 1, 64, 2,
                                         q.data(), RESPIN_RT_FLOAT_F16,
                                         m.data()),
            RESPIN_RT_OK);
}

TEST(RuntimeAdapter, RankZeroIsResidualAdd) {
  std::vector<float> h = {1, 2, 3}, add = {0.5f, -2, 4};
  ASSERT_EQ(respin_rt_residual_adapter(h.data(), 3, add.data(), 3, 1, 3, 0,
                                       nullptr, nullptr),
            RESPIN_RT_OK);
  EXPECT_EQ(h, (std::vector<float>{1.5f, 0, 7}));
  EXPECT_EQ(respin_rt_residual_adapter(h.data(), 3, nullptr, 0, 1, 3, 4,
                                       h.data(), h.data()),
            RESPIN_RT_ERR_INVALID_ARGUMENT); // r > d
}

} // namespace
