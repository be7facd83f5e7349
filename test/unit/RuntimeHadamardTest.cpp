//===- RuntimeHadamardTest.cpp - Online Hadamard transform tests ----------===//
//
// The K x K factors are Hadamard matrices and are, entry for entry, the ones
// of the shared Numerics table (RespinHadamardFactors), split by the same
// rule; the fast transform equals the dense (H_K (x) H_2^p) / sqrt(n) product
// computed in double; all variants are bit-identical to the reference (same
// butterflies, same order), including the Williamson orders 156 and 172;
// unsupported sizes fail with a message that lists the supported K.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/HadamardFactors.h"
#include "respin/Runtime/respin_rt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

std::vector<int64_t> supportedK() {
  std::vector<int64_t> ks;
  std::string list = respin_rt_hadamard_sizes();
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos)
      comma = list.size();
    ks.push_back(std::stoll(list.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return ks;
}

TEST(RuntimeHadamard, FactorsAreHadamardMatrices) {
  std::vector<int64_t> ks = supportedK();
  // The sizes real LLaMA-family models need.
  for (int64_t want :
       {1, 12, 20, 28, 36, 40, 44, 52, 60, 76, 108, 140, 156, 172})
    EXPECT_NE(std::find(ks.begin(), ks.end(), want), ks.end()) << want;
  for (int64_t k : ks) {
    std::vector<int8_t> h(k * k);
    ASSERT_EQ(respin_rt_hadamard_matrix(k, h.data()), RESPIN_RT_OK);
    for (int8_t v : h)
      ASSERT_TRUE(v == 1 || v == -1) << "K=" << k;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        int64_t dot = 0;
        for (int64_t c = 0; c < k; ++c)
          dot += h[i * k + c] * h[j * k + c];
        ASSERT_EQ(dot, i == j ? k : 0) << "K=" << k << " rows " << i << "," << j;
      }
  }
}

TEST(RuntimeHadamard, SameMatricesAndSplitAsNumerics) {
  // One table: the runtime lists exactly the shared orders, in order...
  std::vector<int64_t> ks = supportedK();
  const std::vector<respin::HadamardFactorInfo> &table =
      respin::hadamardFactorTable();
  ASSERT_EQ(ks.size(), table.size());
  for (size_t i = 0; i < ks.size(); ++i)
    EXPECT_EQ(ks[i], table[i].order);
  // ...hands out the very same matrices...
  for (int64_t k : ks) {
    std::vector<int8_t> h(k * k);
    ASSERT_EQ(respin_rt_hadamard_matrix(k, h.data()), RESPIN_RT_OK);
    EXPECT_EQ(h, respin::hadamardFactor(k)) << "K=" << k;
  }
  // ...and splits every size the same way.
  for (int64_t n = 0; n <= 24 * 1024; ++n) {
    std::optional<respin::HadamardSplit> want = respin::splitHadamardSize(n);
    int64_t k = -1, p = -1;
    respin_rt_status s = respin_rt_hadamard_factor(n, &k, &p);
    ASSERT_EQ(s == RESPIN_RT_OK, want.has_value()) << n;
    if (want) {
      EXPECT_EQ(k, want->k) << n;
      EXPECT_EQ(p, int64_t(1) << want->m) << n;
    }
  }
}

TEST(RuntimeHadamard, UnsupportedSizesNameTheSupportedOnes) {
  for (int64_t n : {0, 6, 21 * 16, 3, 172 * 3, 11009}) {
    int64_t k = -1, p = -1;
    EXPECT_EQ(respin_rt_hadamard_factor(n, &k, &p), RESPIN_RT_ERR_UNSUPPORTED)
        << n;
    std::string msg = respin_rt_last_error();
    EXPECT_EQ(msg, respin::unsupportedHadamardSizeMessage(n));
    EXPECT_NE(msg.find("K in {1, 12, 20"), std::string::npos) << msg;
    EXPECT_NE(msg.find("156, 172}"), std::string::npos) << msg;
  }
  std::vector<float> x(11009);
  EXPECT_EQ(respin_rt_hadamard_rows(x.data(), 11009, 1, 11009),
            RESPIN_RT_ERR_UNSUPPORTED);
  int8_t h[4];
  EXPECT_EQ(respin_rt_hadamard_matrix(2, h), RESPIN_RT_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(respin_rt_last_error()).find("{1, 12,"),
            std::string::npos)
      << respin_rt_last_error();
}

TEST(RuntimeHadamard, FactorChoice) {
  struct Case {
    int64_t n, k, p;
  } cases[] = {{1, 1, 1},       {128, 1, 128},  {4096, 1, 4096},
               {14336, 28, 512}, {12, 12, 1},   {24, 12, 2},
               {5120, 40, 128}, {13824, 108, 128}, {3072, 12, 256},
               {20, 20, 1},     {11008, 172, 64}, {172, 172, 1},
               {156 * 2, 156, 2}, {9984, 156, 64}};
  for (const Case &c : cases) {
    int64_t k, p;
    ASSERT_EQ(respin_rt_hadamard_factor(c.n, &k, &p), RESPIN_RT_OK) << c.n;
    EXPECT_EQ(k, c.k) << c.n;
    EXPECT_EQ(p, c.p) << c.n;
  }
}

/// Dense reference in double: y = (H_K (x) H_2^p) x / sqrt(n), i = a*2^p + b.
std::vector<double> dense(const std::vector<float> &x, int64_t n) {
  int64_t k, p;
  EXPECT_EQ(respin_rt_hadamard_factor(n, &k, &p), RESPIN_RT_OK);
  std::vector<int8_t> hk(k * k);
  respin_rt_hadamard_matrix(k, hk.data());
  std::vector<double> y(n, 0.0);
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < p; ++b) {
      double s = 0;
      for (int64_t c = 0; c < k; ++c)
        for (int64_t d = 0; d < p; ++d) {
          int sylvester = __builtin_popcountll(b & d) % 2 ? -1 : 1;
          s += hk[a * k + c] * sylvester * (double)x[c * p + d];
        }
      y[a * p + b] = s / std::sqrt((double)n);
    }
  return y;
}

TEST(RuntimeHadamard, MatchesDenseProduct) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n : {1, 2, 16, 128, 12, 24, 40 * 4, 28 * 8, 52, 76 * 2, 140,
                    156 * 2, 172, 172 * 8}) {
    std::vector<float> x(n);
    for (float &v : x)
      v = normal(rng);
    std::vector<double> want = dense(x, n);
    std::vector<float> y = x;
    ASSERT_EQ(respin_rt_hadamard_rows(y.data(), n, 1, n), RESPIN_RT_OK);
    double norm = 0;
    for (float v : x)
      norm += (double)v * v;
    // Each output is a +-1 sum of n inputs through log2(n) + K float adds,
    // rounded at each: error <= (log2 n + K + 1) * 2^-24 * sum |x| / sqrt(n),
    // and sum |x| <= sqrt(n) * ||x||.
    double tol = (std::log2((double)n) + 172 + 1) * std::ldexp(1.0, -24) *
                 std::sqrt(norm);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(y[i], want[i], tol) << "n=" << n << " i=" << i;
  }
}

TEST(RuntimeHadamard, VariantsBitIdenticalAndThreadsToo) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Covers the scalar H_K mixing (2^p below the vector width) and the
  // vector one with one and with several column blocks.
  for (int64_t n : {1, 4, 8, 32, 12, 48, 128, 4096, 14336, 13824, 5120, 156,
                    156 * 8, 172 * 2, 12 * 16, 20 * 32, 172 * 16, 11008}) {
    int64_t rows = 3, stride = n + 1; // odd stride: misaligned later rows
    std::vector<float> x(rows * stride);
    for (float &v : x)
      v = normal(rng) * (rng() % 7 == 0 ? 1e6f : 1.0f);
    // Signed zeros (the first product must keep -0) and an all-zero row.
    for (int64_t i = 0; i < n; i += 3)
      x[i] = (i / 3) % 2 ? 0.0f : -0.0f;
    std::fill(x.begin() + stride, x.begin() + stride + n, -0.0f);
    respin_rt_force_isa(RESPIN_RT_ISA_REFERENCE);
    std::vector<float> want = x;
    ASSERT_EQ(respin_rt_hadamard_rows(want.data(), stride, rows, n),
              RESPIN_RT_OK);
    for (respin_rt_isa isa : {RESPIN_RT_ISA_AVX2, RESPIN_RT_ISA_AVX512_VNNI}) {
      if (!respin_rt_isa_supported(isa))
        continue;
      respin_rt_force_isa(isa);
      for (int threads : {1, 2}) {
        respin_rt_set_num_threads(threads);
        std::vector<float> got = x;
        ASSERT_EQ(respin_rt_hadamard_rows(got.data(), stride, rows, n),
                  RESPIN_RT_OK);
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
            << respin_rt_isa_name(isa) << " n=" << n;
      }
    }
  }
  respin_rt_force_isa(RESPIN_RT_ISA_AUTO);
  respin_rt_set_num_threads(2);
}

TEST(RuntimeHadamard, FusedQuantizeEqualsTwoSteps) {
  // Fused per row (and split over threads) == transform all, then quantize
  // all; per row and per group, sym and asym, every variant.
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Case {
    int64_t n, rows, group;
    int bits, symmetric;
  } cases[] = {{28 * 16, 2, 0, 4, 0}, {172 * 64, 3, 0, 8, 1},
               {4096, 5, 128, 4, 1},  {40 * 8, 4, 32, 8, 0}};
  for (const Case &c : cases) {
    int64_t stride = c.n + 5, qStride = c.n + 3;
    int64_t groups = c.group ? c.n / c.group : 1;
    std::vector<float> x(c.rows * stride);
    for (float &v : x)
      v = normal(rng);
    for (respin_rt_isa isa : {RESPIN_RT_ISA_REFERENCE, RESPIN_RT_ISA_AVX2,
                              RESPIN_RT_ISA_AVX512_VNNI}) {
      if (!respin_rt_isa_supported(isa))
        continue;
      respin_rt_force_isa(isa);
      for (int threads : {1, 2}) {
        respin_rt_set_num_threads(threads);
        std::vector<float> a = x, b = x;
        std::vector<uint8_t> qa(c.rows * qStride, 0), qb = qa;
        std::vector<float> sa(c.rows * groups), sb(c.rows * groups);
        std::vector<int32_t> za(c.rows * groups), zb(c.rows * groups);
        ASSERT_EQ(respin_rt_hadamard_quantize_rows(
                      a.data(), stride, c.rows, c.n, c.bits, c.symmetric,
                      0.9f, c.group, qa.data(), qStride, sa.data(), za.data()),
                  RESPIN_RT_OK);
        ASSERT_EQ(respin_rt_hadamard_rows(b.data(), stride, c.rows, c.n),
                  RESPIN_RT_OK);
        ASSERT_EQ(respin_rt_quantize_rows(b.data(), stride, c.rows, c.n,
                                          c.bits, c.symmetric, 0.9f, c.group,
                                          qb.data(), qStride, sb.data(),
                                          zb.data()),
                  RESPIN_RT_OK);
        EXPECT_EQ(qa, qb) << respin_rt_isa_name(isa) << " n=" << c.n;
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
        EXPECT_EQ(sa, sb);
        EXPECT_EQ(za, zb);
      }
    }
  }
  respin_rt_force_isa(RESPIN_RT_ISA_AUTO);
  respin_rt_set_num_threads(2);
}

TEST(RuntimeHadamard, IsOrthogonal) {
  // Applying H then H^T (folded offline) restores x; check via norms and via
  // <Hx, Hy> = <x, y> on a size with a non-symmetric H_K.
  std::mt19937 rng(6);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int64_t n = 44 * 8;
  std::vector<float> x(n), y(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = normal(rng);
    y[i] = normal(rng);
  }
  double dot = 0, dotH = 0;
  for (int64_t i = 0; i < n; ++i)
    dot += (double)x[i] * y[i];
  respin_rt_hadamard_rows(x.data(), n, 1, n);
  respin_rt_hadamard_rows(y.data(), n, 1, n);
  for (int64_t i = 0; i < n; ++i)
    dotH += (double)x[i] * y[i];
  EXPECT_NEAR(dot, dotH, 1e-4 * n);
}

} // namespace
