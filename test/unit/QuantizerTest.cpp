//===- QuantizerTest.cpp - Quantizers against hand cases and the runtime --===//
//
// The compiler's quantizers must be the runtime's (respin_rt.h): hand-computed
// cases for rounding ties, clipping, all-zero and constant rows, rejection of
// NaN/Inf, and bit-for-bit agreement with the runtime's own entry points on
// random and adversarial data.
//
//===----------------------------------------------------------------------===//

#include "respin/Quantization/Quantizer.h"
#include "respin/Quantization/Calibration.h"
#include "respin/Runtime/respin_rt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace respin::quant;

namespace {

template <typename T> std::string errorText(llvm::Expected<T> &value) {
  return value ? std::string() : llvm::toString(value.takeError());
}

uint32_t bitsOf(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

WeightQuantSpec weightSpec(int bits, int64_t group = 0, bool sym = true) {
  WeightQuantSpec spec;
  spec.bits = bits;
  spec.groupSize = group;
  spec.symmetric = sym;
  return spec;
}

ClipSearch noClip() {
  ClipSearch search;
  search.enabled = false;
  return search;
}

/// Random values with a few outliers and exact ties (k + 0.5) * scale.
std::vector<float> adversarialValues(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (int64_t i = 0; i < count; ++i) {
    float v = normal(rng);
    if (i % 17 == 3)
      v *= 25.0f; // outlier
    if (i % 11 == 5)
      v = std::round(v * 4.0f) / 4.0f + 0.125f; // often an exact tie
    if (i % 23 == 7)
      v = 0.0f;
    values[i] = v;
  }
  return values;
}

} // namespace

//===----------------------------------------------------------------------===//
// Hand-computed cases
//===----------------------------------------------------------------------===//

TEST(WeightQuantizer, TiesRoundHalfToEven) {
  // absmax 7 at 4 bits: s = 7 / 7 = 1 exactly, so w / s is w.
  std::vector<float> w = {7.0f, 2.5f, -2.5f, 3.5f, -0.5f, 0.5f, 1.5f, -6.5f};
  auto q = quantizeRTN("w", w, 1, 8, weightSpec(4), noClip());
  ASSERT_TRUE(bool(q)) << errorText(q);
  EXPECT_EQ(q->scales, std::vector<float>{1.0f});
  EXPECT_EQ(q->codes, (std::vector<int8_t>{7, 2, -2, 4, 0, 0, 2, -6}));
  // The scalar rule GPTQ uses rounds the same ties.
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(quantizeWeightValue(w[i], GroupParams{1.0f, 0}, 4, true),
              q->codes[i]);
  // Asymmetric, 2 bits, [-1, 2]: s = 1, z = 1; 0.5 and -0.5 tie to 0, so
  // the unsigned codes are 0, 1, 1, 1, 3 (stored -2, -1, -1, -1, 1).
  std::vector<float> a = {-1.0f, 0.0f, 0.5f, -0.5f, 2.0f};
  auto asym = quantizeRTN("a", a, 1, 5, weightSpec(2, 0, false), noClip());
  ASSERT_TRUE(bool(asym)) << errorText(asym);
  EXPECT_EQ(asym->codes, (std::vector<int8_t>{-2, -1, -1, -1, 1}));
  EXPECT_EQ(asym->zeros, std::vector<int8_t>{-1});
  // The zero point ties to even too: [-0.5, 2.5] gives s = 1, z = rne(0.5).
  EXPECT_EQ(weightGroupParams(-0.5f, 2.5f, 2, false, 1.0f).zero, 0);
  EXPECT_EQ(weightGroupParams(-1.5f, 1.5f, 2, false, 1.0f).zero, 2);
}

TEST(WeightQuantizer, ClippingSaturatesAtTheIntegerRange) {
  // Clip 0.5 at 4 bits: s = 0.5 * 14 / 7 = 1; -14 -> -14 clamps to -8 and
  // 9 -> 7; the negative end keeps one more code than the positive end.
  GroupParams p = weightGroupParams(-14.0f, 9.0f, 4, true, 0.5f);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(quantizeWeightValue(-14.0f, p, 4, true), -8);
  EXPECT_EQ(quantizeWeightValue(9.0f, p, 4, true), 7);
  EXPECT_EQ(quantizeWeightValue(-8.4f, p, 4, true), -8);
  // Asymmetric, 2 bits, clip 0.5 of [-4, 8]: hi = 4, lo = -2, s = 2, z = 1;
  // 8 saturates at code 3 (value 4), -4 at code 0 (value -2).
  GroupParams a = weightGroupParams(-4.0f, 8.0f, 2, false, 0.5f);
  EXPECT_EQ(a.scale, 2.0f);
  EXPECT_EQ(a.zero, 1);
  EXPECT_EQ(quantizeWeightValue(8.0f, a, 2, false), 3 - 2);
  EXPECT_EQ(quantizeWeightValue(-4.0f, a, 2, false), 0 - 2);
  EXPECT_EQ(dequantizeValue(quantizeWeightValue(8.0f, a, 2, false),
                            storedZero(a, 2, false), a.scale),
            4.0f);
}

TEST(WeightQuantizer, AllZeroRowsGetZeroScaleOrDegenerateRange) {
  std::vector<float> w = {0, 0, 0, 0, 1, -2, 0.5f, 0};
  auto sym = quantizeRTN("w", w, 2, 4, weightSpec(3), ClipSearch());
  ASSERT_TRUE(bool(sym)) << errorText(sym);
  EXPECT_EQ(sym->scales[0], 0.0f); // the runtime writes code 0
  EXPECT_EQ(std::vector<int8_t>(sym->codes.begin(), sym->codes.begin() + 4),
            std::vector<int8_t>(4, 0));
  auto asym = quantizeRTN("w", w, 2, 4, weightSpec(3, 0, false), noClip());
  ASSERT_TRUE(bool(asym)) << errorText(asym);
  // Degenerate range: s = 1, z = 0 (unsigned), stored shifted by -4.
  EXPECT_EQ(asym->scales[0], 1.0f);
  EXPECT_EQ(asym->zeros[0], -4);
  std::vector<float> values = asym->dequantize();
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(values[i], 0.0f);
}

TEST(WeightQuantizer, ConstantRowsAreExact) {
  std::vector<float> w(8, 3.0f);
  // Symmetric: s = 3/7, every code 7, value 7 * (3/7) (one rounding).
  auto sym = quantizeRTN("w", w, 1, 8, weightSpec(4), ClipSearch());
  ASSERT_TRUE(bool(sym)) << errorText(sym);
  EXPECT_EQ(sym->codes, std::vector<int8_t>(8, 7));
  EXPECT_NEAR(sym->dequantize()[0], 3.0f, 3.0f * 1e-6f);
  // Asymmetric: range [0, 3], s = 0.2, z = 0, code 15 = 3.0.
  auto asym = quantizeRTN("w", w, 1, 8, weightSpec(4, 0, false), noClip());
  ASSERT_TRUE(bool(asym)) << errorText(asym);
  EXPECT_EQ(asym->zeros[0], -8);
  EXPECT_EQ(asym->codes, std::vector<int8_t>(8, 7)); // unsigned 15
  EXPECT_NEAR(asym->dequantize()[0], 3.0f, 3.0f * 1e-6f);
  // Negative constant rows sit at the bottom of the asymmetric range.
  std::vector<float> neg(4, -2.0f);
  auto n = quantizeRTN("w", neg, 1, 4, weightSpec(2, 0, false), noClip());
  ASSERT_TRUE(bool(n)) << errorText(n);
  EXPECT_EQ(n->codes, std::vector<int8_t>(4, -2)); // unsigned 0
  EXPECT_EQ(n->dequantize()[3], -2.0f);
}

TEST(WeightQuantizer, GroupsHaveTheirOwnScales) {
  std::vector<float> w = {7.0f, -2.5f, 3.5f, 0.49f};
  auto q = quantizeRTN("w", w, 1, 4, weightSpec(4, 2), noClip());
  ASSERT_TRUE(bool(q)) << errorText(q);
  EXPECT_EQ(q->scales, (std::vector<float>{1.0f, 0.5f}));
  EXPECT_EQ(q->codes, (std::vector<int8_t>{7, -2, 7, 1}));
}

TEST(WeightQuantizer, NaNAndInfAreRejectedNamingTheElement) {
  std::vector<float> w = {1, 2, 3, std::numeric_limits<float>::quiet_NaN()};
  auto q = quantizeRTN("layers.0.q", w, 2, 2, weightSpec(4), ClipSearch());
  ASSERT_FALSE(bool(q));
  EXPECT_EQ(errorText(q), "layers.0.q: element [1, 1] is NaN; cannot quantize");
  w[3] = 1;
  w[0] = -std::numeric_limits<float>::infinity();
  auto inf = quantizeRTN("w", w, 2, 2, weightSpec(4), ClipSearch());
  EXPECT_EQ(errorText(inf), "w: element [0, 0] is Inf; cannot quantize");
}

TEST(WeightQuantizer, BadSpecsAreRejected) {
  std::vector<float> w(12, 1.0f);
  auto group = quantizeRTN("w", w, 2, 6, weightSpec(4, 4), ClipSearch());
  EXPECT_EQ(errorText(group),
            "w: group size 4 does not divide its 6 input columns");
  auto bits = quantizeRTN("w", w, 2, 6, weightSpec(9), ClipSearch());
  EXPECT_EQ(errorText(bits), "w: weight bits must be in [2, 8], got 9");
  auto shape = quantizeRTN("w", w, 3, 6, weightSpec(4), ClipSearch());
  EXPECT_EQ(errorText(shape), "w: expected 3 x 6 values, got 12");
}

TEST(WeightQuantizer, ClipSearchShrinksOnlyWhenItHelps) {
  // Seven 1.0s and one 1.3 at 2 bits (codes -2..1): without clipping s = 1.3
  // and every 1.0 becomes 1.3 (error 7 * 0.09 = 0.63); around c = 0.8
  // (s = 1.04) the error is 7 * 0.04^2 + 0.26^2 = 0.0788, the grid minimum
  // (by hand over c = 1.00 .. 0.21 with norm 2).
  std::vector<float> w = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.3f};
  ClipSearch search;
  search.norm = 2.0;
  EXPECT_NEAR(searchClip(w, 2, true, search), 0.8f, 1e-6f);
  // Values already on the 3-bit grid: no clipping beats c = 1 (error 0).
  std::vector<float> grid = {3.0f, -2.0f, 1.0f, 0.0f, -3.0f};
  EXPECT_EQ(searchClip(grid, 3, true, search), 1.0f);
  search.enabled = false;
  EXPECT_EQ(searchClip(w, 2, true, search), 1.0f);
}

//===----------------------------------------------------------------------===//
// Bit-for-bit agreement with the runtime
//===----------------------------------------------------------------------===//

TEST(WeightQuantizer, SymmetricCodesMatchRuntimeWeightQuantizer) {
  for (int bits = 2; bits <= 8; ++bits)
    for (int64_t group : {int64_t(0), int64_t(8)}) {
      const int64_t n = 13, k = 32;
      std::vector<float> w = adversarialValues(n * k, 100 + bits);
      auto q = quantizeRTN("w", w, n, k, weightSpec(bits, group), ClipSearch());
      ASSERT_TRUE(bool(q)) << errorText(q);
      std::vector<int8_t> runtime(n * k);
      ASSERT_EQ(respin_rt_quantize_weights(w.data(), k, n, k, bits, group,
                                           q->scales.data(), runtime.data(), k),
                RESPIN_RT_OK);
      EXPECT_EQ(q->codes, runtime) << "bits " << bits << " group " << group;
      // The scalar rule (used by GPTQ) agrees value by value.
      int64_t g = group == 0 ? k : group;
      for (int64_t i = 0; i < n * k; ++i) {
        GroupParams p{q->scales[(i / k) * (k / g) + (i % k) / g], 0};
        ASSERT_EQ(quantizeWeightValue(w[i], p, bits, true), runtime[i]);
      }
    }
}

TEST(WeightQuantizer, AsymmetricCodesMatchRuntimeActivationQuantizer) {
  // Asymmetric weights use the runtime's asymmetric rule: with clip 1 (no
  // search) codes, scales and zeros must equal respin_rt_quantize_rows'
  // (unsigned codes, shifted by -2^(b-1) in storage).
  for (int bits = 2; bits <= 8; ++bits)
    for (int64_t group : {int64_t(0), int64_t(16)}) {
      const int64_t n = 9, k = 48;
      std::vector<float> w = adversarialValues(n * k, 200 + bits);
      auto q = quantizeRTN("w", w, n, k,
                           weightSpec(bits, group == 0 ? 0 : group, false),
                           noClip());
      ASSERT_TRUE(bool(q)) << errorText(q);
      int64_t groups = group == 0 ? 1 : k / group;
      std::vector<uint8_t> codes(n * k);
      std::vector<float> scales(n * groups);
      std::vector<int32_t> zeros(n * groups);
      ASSERT_EQ(respin_rt_quantize_rows(w.data(), k, n, k, bits, 0, 1.0f, group,
                                        codes.data(), k, scales.data(),
                                        zeros.data()),
                RESPIN_RT_OK);
      int32_t offset = 1 << (bits - 1);
      for (int64_t i = 0; i < n * k; ++i)
        ASSERT_EQ(int32_t(q->codes[i]) + offset, int32_t(codes[i]))
            << "bits " << bits << " element " << i;
      for (int64_t j = 0; j < n * groups; ++j) {
        ASSERT_EQ(bitsOf(q->scales[j]), bitsOf(scales[j]));
        ASSERT_EQ(int32_t(q->zeros[j]) + offset, zeros[j]);
      }
    }
}

TEST(ActivationQuantizer, FakeQuantIsTheRuntimeCodesDequantized) {
  const int64_t rows = 7, cols = 24;
  std::vector<float> x = adversarialValues(rows * cols, 7);
  // Row 2 all zero, row 4 constant: the degenerate and one-sided ranges.
  std::fill(x.begin() + 2 * cols, x.begin() + 3 * cols, 0.0f);
  std::fill(x.begin() + 4 * cols, x.begin() + 5 * cols, -1.25f);
  for (int bits : {2, 3, 4, 8})
    for (bool sym : {false, true})
      for (float clip : {1.0f, 0.9f})
        for (int64_t group : {int64_t(0), int64_t(8)}) {
          ActQuantSpec spec{bits, sym, clip, group};
          std::vector<float> out(rows * cols);
          fakeQuantRows(x.data(), rows, cols, spec, out.data());
          int64_t groups = group == 0 ? 1 : cols / group;
          std::vector<uint8_t> q(rows * cols);
          std::vector<float> s(rows * groups);
          std::vector<int32_t> z(rows * groups);
          ASSERT_EQ(respin_rt_quantize_rows(x.data(), cols, rows, cols, bits,
                                            sym, clip, group, q.data(), cols,
                                            s.data(), z.data()),
                    RESPIN_RT_OK);
          int64_t g = cols / groups;
          for (int64_t i = 0; i < rows * cols; ++i) {
            int64_t j = (i / cols) * groups + (i % cols) / g;
            float expected = float(int32_t(q[i]) - z[j]) * s[j];
            ASSERT_EQ(bitsOf(out[i]), bitsOf(expected))
                << "bits " << bits << " sym " << sym << " element " << i;
          }
          // All-zero rows stay exactly zero.
          for (int64_t c = 0; c < cols; ++c)
            ASSERT_EQ(out[2 * cols + c], 0.0f);
        }
}

TEST(ActivationQuantizer, HandComputedAsymmetricRow) {
  // [-1, 0, 0.5, 2] at 2 bits: hi = 2, lo = -1, s = 1, z = 1; codes
  // rne(x) + 1 = 0, 1, 1 (0.5 ties to 0), 3; values -1, 0, 0, 2.
  std::vector<float> x = {-1.0f, 0.0f, 0.5f, 2.0f}, out(4);
  fakeQuantRows(x.data(), 1, 4, ActQuantSpec{2, false, 1.0f, 0}, out.data());
  EXPECT_EQ(out, (std::vector<float>{-1.0f, 0.0f, 0.0f, 2.0f}));
  // Symmetric 3 bits, clip 0.5: s = 0.5 * 2 / 3; 2 -> rne(6) = 6 clamps to 3.
  fakeQuantRows(x.data(), 1, 4, ActQuantSpec{3, true, 0.5f, 0}, out.data());
  float s = 0.5f * 2.0f / 3.0f;
  EXPECT_EQ(out[3], 3.0f * s);
  EXPECT_EQ(out[0], -3.0f * s); // -1 / s = -3
}

TEST(ActivationQuantizer, NonFiniteGroupsBecomeNaN) {
  std::vector<float> x = {1.0f, std::numeric_limits<float>::infinity(), 2.0f,
                          3.0f};
  std::vector<float> out(4);
  fakeQuantRows(x.data(), 1, 4, ActQuantSpec{8, false, 1.0f, 2}, out.data());
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]));
  EXPECT_FALSE(std::isnan(out[2]) || std::isnan(out[3]));
}

/// The executor's fake-quantized linear (dequantized activations times
/// dequantized weights, summed in float) is the runtime's integer low-bit
/// linear up to float summation order: the same codes, the same scales.
TEST(ActivationQuantizer, FakeQuantLinearMatchesRuntimeQLinear) {
  const int64_t m = 5, n = 16, k = 64;
  std::vector<float> w = adversarialValues(n * k, 11);
  std::vector<float> x = adversarialValues(m * k, 12);
  for (int wbits : {3, 4})
    for (bool sym : {false, true}) {
      auto q = quantizeRTN("w", w, n, k, weightSpec(wbits), ClipSearch());
      ASSERT_TRUE(bool(q)) << errorText(q);
      // Runtime: quantize activations to 8 bits, pack, integer linear.
      std::vector<uint8_t> xq(m * k);
      std::vector<float> xs(m);
      std::vector<int32_t> xz(m);
      ASSERT_EQ(respin_rt_quantize_rows(x.data(), k, m, k, 8, sym, 1.0f, 0,
                                        xq.data(), k, xs.data(), xz.data()),
                RESPIN_RT_OK);
      std::vector<uint8_t> packed(
          respin_rt_packed_weights_size(wbits, n, k, 0));
      ASSERT_EQ(respin_rt_pack_weights(wbits, n, k, 0, q->codes.data(), k,
                                       q->scales.data(), packed.data(),
                                       packed.size()),
                RESPIN_RT_OK);
      std::vector<float> y(m * n);
      ASSERT_EQ(respin_rt_qlinear(packed.data(), packed.size(), m, xq.data(), k,
                                  xs.data(), xz.data(), 0, y.data(), n, 0),
                RESPIN_RT_OK)
          << respin_rt_last_error();
      // Executor: fake quant, dequantized weights, float dot products.
      std::vector<float> xf(m * k);
      fakeQuantRows(x.data(), m, k, ActQuantSpec{8, sym, 1.0f, 0}, xf.data());
      std::vector<float> wf = q->dequantize();
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < n; ++c) {
          double exact = 0.0, magnitude = 0.0;
          float sum = 0.0f;
          for (int64_t i = 0; i < k; ++i) {
            sum += xf[r * k + i] * wf[c * k + i];
            exact += double(xf[r * k + i]) * double(wf[c * k + i]);
            magnitude += std::fabs(double(xf[r * k + i]) * wf[c * k + i]);
          }
          // Both are within k * 2^-23 * sum|x w| (plus the scales' two
          // roundings) of the exact sum of the same integer products.
          double bound = (k + 4) * std::ldexp(1.0, -23) * magnitude;
          EXPECT_NEAR(y[r * n + c], exact, bound);
          EXPECT_NEAR(sum, exact, bound);
        }
    }
}

//===----------------------------------------------------------------------===//
// Calibration windows
//===----------------------------------------------------------------------===//

TEST(Calibration, SeededWindowsAreReproducibleAndInRange) {
  std::vector<int32_t> tokens(1000);
  for (int i = 0; i < 1000; ++i)
    tokens[i] = i;
  auto a = sampleCalibrationWindows(tokens, 6, 100, 3);
  auto b = sampleCalibrationWindows(tokens, 6, 100, 3);
  auto c = sampleCalibrationWindows(tokens, 6, 100, 4);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  for (const std::vector<int32_t> &window : *a) {
    ASSERT_EQ(window.size(), 100u);
    for (size_t i = 1; i < window.size(); ++i)
      EXPECT_EQ(window[i], window[0] + int32_t(i)); // consecutive tokens
    EXPECT_LE(window.back(), 999);
  }
  // A window as long as the text: the only offset is 0.
  auto whole = sampleCalibrationWindows(tokens, 2, 1000, 9);
  ASSERT_TRUE(bool(whole));
  EXPECT_EQ((*whole)[1], tokens);
}

TEST(Calibration, ShortTextsAndBadSizesAreRejected) {
  std::vector<int32_t> tokens(10, 1);
  auto shortText = sampleCalibrationWindows(tokens, 4, 11, 0);
  EXPECT_EQ(errorText(shortText),
            "the calibration text has 10 tokens, fewer than one window of 11");
  auto none = sampleCalibrationWindows(tokens, 0, 4, 0);
  EXPECT_NE(errorText(none).find("at least one window"), std::string::npos);
}
