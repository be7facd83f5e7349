//===- RuntimeFloatTest.cpp - Float kernels: f32 linear, residual adapter -===//
//
// Float paths may reorder sums between variants, so they are checked against
// a double-precision recomputation with an error bound derived from the
// summation length (stated at each check), and the reference itself must be
// inside the same bound.
//
//===----------------------------------------------------------------------===//

#include "respin/Runtime/respin_rt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

std::vector<respin_rt_isa> variants() {
  std::vector<respin_rt_isa> out;
  for (respin_rt_isa isa : {RESPIN_RT_ISA_REFERENCE, RESPIN_RT_ISA_AVX2,
                            RESPIN_RT_ISA_AVX512_VNNI})
    if (respin_rt_isa_supported(isa))
      out.push_back(isa);
  return out;
}

struct IsaGuard {
  ~IsaGuard() {
    respin_rt_force_isa(RESPIN_RT_ISA_AUTO);
    respin_rt_set_num_threads(2);
  }
};

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
  } shapes[] = {{64, 2, 1}, {96, 8, 3}, {256, 32, 2}, {100, 5, 2},
                {4096, 32, 1}};
  for (const Shape &s : shapes) {
    std::vector<float> qT = randomVector(s.r * s.d, 10, 0.1f); // Q^T, r x d
    std::vector<float> mc = randomVector(s.r * s.r, 11, 0.3f);
    int64_t stride = s.d + 1;
    std::vector<float> h0 = randomVector(s.rows * stride, 12);
    std::vector<float> add = randomVector(s.rows * stride, 13);
    for (bool withAdd : {false, true})
      for (respin_rt_isa isa : variants()) {
        ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
        std::vector<float> h = h0;
        ASSERT_EQ(respin_rt_residual_adapter(h.data(), stride,
                                             withAdd ? add.data() : nullptr,
                                             stride, s.rows, s.d, s.r,
                                             qT.data(), mc.data()),
                  RESPIN_RT_OK);
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
