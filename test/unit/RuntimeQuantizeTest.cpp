//===- RuntimeQuantizeTest.cpp - Activation/weight quantizer tests --------===//
//
// Hand-computed cases for the rules in respin_rt.h (ties to even, clipping,
// degenerate rows, symmetric offset codes), then every ISA variant against
// the reference on random and adversarial rows: the quantizer is exact, so
// codes, scales and zero points must be identical.
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

struct Quantized {
  std::vector<uint8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> zeros;
};

Quantized quantize(const std::vector<float> &x, int64_t rows, int64_t cols,
                   int bits, bool symmetric, float clip, int64_t group = 0) {
  int64_t groups = group == 0 ? 1 : cols / group;
  Quantized out{std::vector<uint8_t>(rows * cols),
                std::vector<float>(rows * groups),
                std::vector<int32_t>(rows * groups)};
  EXPECT_EQ(respin_rt_quantize_rows(x.data(), cols, rows, cols, bits,
                                    symmetric, clip, group, out.q.data(), cols,
                                    out.scales.data(), out.zeros.data()),
            RESPIN_RT_OK)
      << respin_rt_last_error();
  return out;
}

TEST(RuntimeQuantize, SymmetricTiesRoundToEven) {
  // absmax 127 at 8 bits gives scale exactly 1, so x / s is x itself.
  std::vector<float> x = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -127.0f};
  Quantized r = quantize(x, 1, 7, 8, true, 1.0f);
  EXPECT_EQ(r.scales[0], 1.0f);
  EXPECT_EQ(r.zeros[0], 128);
  std::vector<uint8_t> want = {255, 128, 130, 130, 128, 126, 1};
  EXPECT_EQ(r.q, want);
}

TEST(RuntimeQuantize, AsymmetricHandComputed) {
  // 2 bits: hi = 2, lo = -1, s = 3 / 3 = 1, z = rne(1) = 1.
  Quantized r = quantize({-1.0f, 0.0f, 2.0f, 0.5f}, 1, 4, 2, false, 1.0f);
  EXPECT_EQ(r.scales[0], 1.0f);
  EXPECT_EQ(r.zeros[0], 1);
  EXPECT_EQ(r.q, (std::vector<uint8_t>{0, 1, 3, 1})); // 0.5 ties to 0 -> 1
  // All-positive row: the range still includes 0, so z = 0.
  Quantized p = quantize({3.0f, 1.5f, 3.0f}, 1, 3, 4, false, 1.0f);
  EXPECT_EQ(p.zeros[0], 0);
  EXPECT_EQ(p.scales[0], 3.0f / 15.0f);
  EXPECT_EQ(p.q[0], 15);
  EXPECT_EQ(p.q[1], (uint8_t)std::nearbyint(1.5f / (3.0f / 15.0f)));
}

TEST(RuntimeQuantize, ClipSaturates) {
  // Symmetric 4-bit, clip 0.5: s = 0.5 * 10 / 7; +-10 map to +-14, clamped.
  Quantized r = quantize({-10.0f, 10.0f, 0.0f}, 1, 3, 4, true, 0.5f);
  EXPECT_FLOAT_EQ(r.scales[0], 0.5f * 10.0f / 7.0f);
  EXPECT_EQ(r.q, (std::vector<uint8_t>{0, 15, 8}));
  // Asymmetric with clip: the extremes fall outside and saturate.
  Quantized a = quantize({-4.0f, 4.0f, 0.0f}, 1, 3, 4, false, 0.5f);
  EXPECT_EQ(a.q[0], 0);
  EXPECT_EQ(a.q[1], 15);
}

TEST(RuntimeQuantize, DegenerateRows) {
  Quantized z = quantize({0.0f, 0.0f, -0.0f}, 1, 3, 4, false, 1.0f);
  EXPECT_EQ(z.scales[0], 1.0f);
  EXPECT_EQ(z.zeros[0], 0);
  EXPECT_EQ(z.q, (std::vector<uint8_t>{0, 0, 0}));
  Quantized s = quantize({0.0f, 0.0f}, 1, 2, 4, true, 1.0f);
  EXPECT_EQ(s.scales[0], 1.0f);
  EXPECT_EQ(s.zeros[0], 8);
  EXPECT_EQ(s.q, (std::vector<uint8_t>{8, 8}));
  // Constant negative row: asymmetric range [c, 0].
  Quantized c = quantize({-2.0f, -2.0f, -2.0f}, 1, 3, 4, false, 1.0f);
  EXPECT_EQ(c.zeros[0], 15);
  EXPECT_EQ(c.q, (std::vector<uint8_t>{0, 0, 0}));
}

TEST(RuntimeQuantize, GroupsAreIndependent) {
  std::vector<float> x = {1, 2, 3, 4, -100, 50, 0, 0};
  Quantized r = quantize(x, 1, 8, 8, false, 1.0f, 4);
  ASSERT_EQ(r.scales.size(), 2u);
  EXPECT_EQ(r.scales[0], 4.0f / 255.0f);
  EXPECT_EQ(r.scales[1], 150.0f / 255.0f);
}

TEST(RuntimeQuantize, RejectsBadArguments) {
  std::vector<float> x(8, 1.0f);
  std::vector<uint8_t> q(8);
  float s;
  int32_t z;
  EXPECT_EQ(respin_rt_quantize_rows(x.data(), 8, 1, 8, 9, 0, 1.0f, 0, q.data(),
                                    8, &s, &z),
            RESPIN_RT_ERR_UNSUPPORTED);
  EXPECT_EQ(respin_rt_quantize_rows(x.data(), 8, 1, 8, 4, 0, 0.0f, 0, q.data(),
                                    8, &s, &z),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_quantize_rows(x.data(), 8, 1, 8, 4, 0, 1.0f, 3, q.data(),
                                    8, &s, &z),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_quantize_rows(x.data(), 7, 1, 8, 4, 0, 1.0f, 0, q.data(),
                                    8, &s, &z),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
}

TEST(RuntimeQuantize, WeightsRoundHalfEvenAndClamp) {
  std::vector<float> w = {0.5f, 1.5f, 2.5f, -2.5f, 100.0f, -100.0f, 0.0f, 7.0f};
  std::vector<float> scale = {1.0f};
  std::vector<int8_t> q(8);
  ASSERT_EQ(respin_rt_quantize_weights(w.data(), 8, 1, 8, 4, 0, scale.data(),
                                       q.data(), 8),
            RESPIN_RT_OK);
  EXPECT_EQ(q, (std::vector<int8_t>{0, 2, 2, -2, 7, -8, 0, 7}));
}

//===----------------------------------------------------------------------===//
// Variants equal the reference exactly
//===----------------------------------------------------------------------===//

std::vector<float> adversarialRow(int kind, int64_t cols, std::mt19937 &rng) {
  std::vector<float> x(cols);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < cols; ++i) {
    switch (kind) {
    case 0: x[i] = normal(rng); break;
    case 1: x[i] = 0.25f; break;                             // all equal
    case 2: x[i] = i % 97 == 5 ? 1e30f : normal(rng); break;  // huge outlier
    case 3: x[i] = normal(rng) * 1e-38f; break;               // subnormals
    case 4: x[i] = (float)(i % 16) - 7.5f; break;             // many ties
    default: x[i] = -3e38f + (float)i; break;                 // near -FLT_MAX
    }
  }
  return x;
}

TEST(RuntimeQuantize, VariantsMatchReferenceExactly) {
  std::mt19937 rng(42);
  for (int64_t cols : {1, 7, 16, 33, 128, 1000, 4099})
    for (int kind = 0; kind < 6; ++kind)
      for (int bits : {2, 4, 8})
        for (bool symmetric : {false, true})
          for (float clip : {1.0f, 0.9f}) {
            std::vector<float> x = adversarialRow(kind, cols, rng);
            int64_t group = cols % 8 == 0 && cols > 8 ? 8 : 0;
            respin_rt_force_isa(RESPIN_RT_ISA_REFERENCE);
            Quantized want = quantize(x, 1, cols, bits, symmetric, clip, group);
            for (respin_rt_isa isa : variants()) {
              ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
              // Misaligned input: copy one float past an aligned start.
              std::vector<float> shifted(cols + 1);
              std::memcpy(shifted.data() + 1, x.data(), cols * 4);
              Quantized got{std::vector<uint8_t>(cols + 1),
                            std::vector<float>(want.scales.size()),
                            std::vector<int32_t>(want.zeros.size())};
              ASSERT_EQ(respin_rt_quantize_rows(
                            shifted.data() + 1, cols, 1, cols, bits, symmetric,
                            clip, group, got.q.data() + 1, cols,
                            got.scales.data(), got.zeros.data()),
                        RESPIN_RT_OK);
              std::string what = std::string(respin_rt_isa_name(isa)) +
                                 " cols=" + std::to_string(cols) +
                                 " kind=" + std::to_string(kind) +
                                 " bits=" + std::to_string(bits);
              ASSERT_EQ(std::vector<uint8_t>(got.q.begin() + 1, got.q.end()),
                        want.q)
                  << what;
              ASSERT_EQ(got.scales, want.scales) << what;
              ASSERT_EQ(got.zeros, want.zeros) << what;
            }
          }
  respin_rt_force_isa(RESPIN_RT_ISA_AUTO);
}

TEST(RuntimeQuantize, DequantizationErrorBounded) {
  // Independent sanity check of the reference: |x - (q - z) s| <= s / 2 for
  // values inside the (unclipped) range.
  std::mt19937 rng(9);
  std::vector<float> x = adversarialRow(0, 512, rng);
  for (bool symmetric : {false, true}) {
    Quantized r = quantize(x, 1, 512, 8, symmetric, 1.0f);
    for (int i = 0; i < 512; ++i) {
      float deq = (float)((int)r.q[i] - r.zeros[0]) * r.scales[0];
      EXPECT_LE(std::fabs(deq - x[i]), 0.5f * r.scales[0] * 1.0001f) << i;
    }
  }
}

} // namespace
