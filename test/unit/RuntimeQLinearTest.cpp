//===- RuntimeQLinearTest.cpp - Packed weights and low-bit linear tests ---===//
//
// Weight packing round trips and validation, then respin_rt_qlinear: every
// ISA variant must reproduce, bit for bit, an independent recomputation of the
// ABI formula from the unpacked integer codes (the integer part is exact and
// the float epilogue has a fixed order, so there is no tolerance at all).
//
//===----------------------------------------------------------------------===//

#include "respin/Runtime/respin_rt.h"
#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace respin::testing;

namespace {

/// Aligned-to-64 byte buffer that hands out pointers at a chosen offset, so
/// tests can exercise misaligned inputs.
struct Buffer {
  std::vector<uint8_t> storage;
  uint8_t *base = nullptr;
  Buffer(size_t bytes, size_t misalign) : storage(bytes + 128 + misalign) {
    uintptr_t p = (uintptr_t)storage.data();
    base = (uint8_t *)((p + 63) / 64 * 64) + misalign;
  }
};

struct Problem {
  int bits;
  int64_t n, k, groupSize, m;
  int xBits;
  bool xPerGroup;
  std::vector<int8_t> q;        // [n][k]
  std::vector<float> wScales;   // [n][G]
  std::vector<uint8_t> x;       // [m][xStride]
  int64_t xStride;
  std::vector<float> xScales;   // [m][Gx]
  std::vector<int32_t> xZeros;  // [m][Gx]
  std::vector<uint8_t> packed;
  int64_t groups() const { return groupSize == 0 ? 1 : k / groupSize; }
  int64_t xGroups() const { return xPerGroup ? groups() : 1; }
};

enum class Fill { Random, Max, Min, Constant };

Problem makeProblem(int bits, int64_t n, int64_t k, int64_t groupSize,
                    int64_t m, int xBits, bool xPerGroup, Fill fill,
                    uint32_t seed) {
  Problem p{bits, n, k, groupSize, m, xBits, xPerGroup};
  std::mt19937 rng(seed);
  int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
  std::uniform_int_distribution<int> code(lo, hi);
  std::uniform_int_distribution<int> xcode(0, (1 << xBits) - 1);
  std::uniform_real_distribution<float> scale(1e-3f, 2.0f);
  p.q.resize(n * k);
  for (int8_t &v : p.q)
    v = fill == Fill::Random ? (int8_t)code(rng)
        : fill == Fill::Max  ? (int8_t)lo // largest magnitude
        : fill == Fill::Min  ? (int8_t)hi
                             : (int8_t)3;
  p.wScales.resize(n * p.groups());
  for (float &s : p.wScales)
    s = scale(rng);
  p.xStride = k + 3; // rows not contiguous
  p.x.assign(m * p.xStride, 0xEE); // poison the gaps
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < k; ++c)
      p.x[r * p.xStride + c] =
          fill == Fill::Random ? (uint8_t)xcode(rng)
          : fill == Fill::Max  ? (uint8_t)((1 << xBits) - 1)
          : fill == Fill::Min  ? 0
                               : (uint8_t)((1 << xBits) / 3);
  p.xScales.resize(m * p.xGroups());
  p.xZeros.resize(m * p.xGroups());
  for (size_t i = 0; i < p.xScales.size(); ++i) {
    p.xScales[i] = scale(rng);
    p.xZeros[i] = fill == Fill::Max ? 0 : xcode(rng);
  }
  size_t size = respin_rt_packed_weights_size(bits, n, k, groupSize);
  EXPECT_GT(size, 0u);
  p.packed.resize(size);
  EXPECT_EQ(respin_rt_pack_weights(bits, n, k, groupSize, p.q.data(), k,
                                   p.wScales.data(), p.packed.data(), size),
            RESPIN_RT_OK)
      << respin_rt_last_error();
  return p;
}

/// The ABI formula, recomputed here from the unpacked codes.
std::vector<float> expected(const Problem &p, const std::vector<float> &yInit,
                            int64_t yStride, bool accumulate) {
  std::vector<float> y = yInit;
  int64_t g = p.groupSize == 0 ? p.k : p.groupSize;
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t n = 0; n < p.n; ++n) {
      float sum = 0.0f;
      for (int64_t j = 0; j < p.groups(); ++j) {
        int64_t xj = p.xPerGroup ? j : 0;
        int64_t acc = 0;
        for (int64_t c = j * g; c < (j + 1) * g; ++c)
          acc += (int64_t)(p.x[r * p.xStride + c] - p.xZeros[r * p.xGroups() + xj]) *
                 p.q[n * p.k + c];
        EXPECT_LT(std::llabs(acc), (int64_t)1 << 31);
        float t = ((float)acc * p.wScales[n * p.groups() + j]) *
                  p.xScales[r * p.xGroups() + xj];
        sum = sum + t;
      }
      float &out = y[r * yStride + n];
      out = accumulate ? out + sum : sum;
    }
  return y;
}

/// Runs qlinear on the active variant with y misaligned by one float.
std::vector<float> run(const Problem &p, std::vector<float> yInit,
                       int64_t yStride, bool accumulate, size_t xMisalign) {
  Buffer xBuf(p.x.size(), xMisalign);
  std::memcpy(xBuf.base, p.x.data(), p.x.size());
  Buffer yBuf(yInit.size() * 4 + 4, 4);
  float *y = (float *)yBuf.base;
  std::memcpy(y, yInit.data(), yInit.size() * 4);
  EXPECT_EQ(respin_rt_qlinear(p.packed.data(), p.packed.size(), p.m,
                              xBuf.base, p.xStride, p.xScales.data(),
                              p.xZeros.data(),
                              p.xPerGroup ? p.groupSize : 0, y, yStride,
                              accumulate ? RESPIN_RT_ACCUMULATE : 0),
            RESPIN_RT_OK)
      << respin_rt_last_error();
  std::memcpy(yInit.data(), y, yInit.size() * 4);
  return yInit;
}

void expectBitIdentical(const std::vector<float> &a,
                        const std::vector<float> &b, const std::string &what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t ua, ub;
    std::memcpy(&ua, &a[i], 4);
    std::memcpy(&ub, &b[i], 4);
    ASSERT_EQ(ua, ub) << what << " differs at " << i << ": " << a[i] << " vs "
                      << b[i];
  }
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

TEST(RuntimePack, RoundTripAndInfo) {
  for (int bits : {3, 4})
    for (auto [n, k, g] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 0},
                           {17, 40, 0}, {33, 96, 8}, {16, 48, 24}, {5, 37, 0}}) {
      Problem p = makeProblem(bits, n, k, g, 1, 8, false, Fill::Random, 7);
      respin_rt_weights_info info;
      ASSERT_EQ(respin_rt_packed_weights_info(p.packed.data(), p.packed.size(),
                                              &info),
                RESPIN_RT_OK);
      EXPECT_EQ(info.bits, bits);
      EXPECT_EQ(info.n, n);
      EXPECT_EQ(info.k, k);
      EXPECT_EQ(info.num_groups, p.groups());
      EXPECT_EQ(info.n_padded % 16, 0);
      EXPECT_EQ(info.total_size, p.packed.size());
      std::vector<int8_t> q(n * (k + 1), 99);
      std::vector<float> s(p.wScales.size());
      ASSERT_EQ(respin_rt_unpack_weights(p.packed.data(), p.packed.size(),
                                         q.data(), k + 1, s.data()),
                RESPIN_RT_OK);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c)
          ASSERT_EQ(q[r * (k + 1) + c], p.q[r * k + c])
              << "bits " << bits << " at " << r << "," << c;
      EXPECT_EQ(s, p.wScales);
    }
}

TEST(RuntimePack, DocumentedInt4LayoutByte) {
  // Channel 1, columns 2 and 6 share byte 4*1 + 2 of the first chunk.
  int64_t n = 2, k = 8;
  std::vector<int8_t> q(n * k, 0);
  q[1 * k + 2] = -8; // u = 0
  q[1 * k + 6] = 7;  // u = 15
  std::vector<float> s(n, 1.0f);
  std::vector<uint8_t> buf(respin_rt_packed_weights_size(4, n, k, 0));
  ASSERT_EQ(respin_rt_pack_weights(4, n, k, 0, q.data(), k, s.data(),
                                   buf.data(), buf.size()),
            RESPIN_RT_OK);
  EXPECT_EQ(buf[64 + 4 * 1 + 2], 0xF0);
  EXPECT_EQ(buf[64 + 4 * 0 + 0], 0x88); // zero codes are u = 8 in both nibbles
}

TEST(RuntimePack, RejectsBadInput) {
  std::vector<int8_t> q(16 * 8, 0);
  std::vector<float> s(16, 1.0f);
  std::vector<uint8_t> buf(respin_rt_packed_weights_size(4, 16, 8, 0));
  q[5] = 8; // out of int4 range
  EXPECT_EQ(respin_rt_pack_weights(4, 16, 8, 0, q.data(), 8, s.data(),
                                   buf.data(), buf.size()),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(respin_rt_last_error()).find("outside [-8, 7]"),
            std::string::npos);
  q[5] = 4; // out of int3 range, fine for int4
  std::vector<uint8_t> buf3(respin_rt_packed_weights_size(3, 16, 8, 0));
  EXPECT_EQ(respin_rt_pack_weights(3, 16, 8, 0, q.data(), 8, s.data(),
                                   buf3.data(), buf3.size()),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  q[5] = 0;
  EXPECT_EQ(respin_rt_pack_weights(4, 16, 8, 0, q.data(), 8, s.data(),
                                   buf.data(), buf.size() - 1),
            RESPIN_RT_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(respin_rt_pack_weights(5, 16, 8, 0, q.data(), 8, s.data(),
                                   buf.data(), buf.size()),
            RESPIN_RT_ERR_UNSUPPORTED);
  EXPECT_EQ(respin_rt_pack_weights(4, 16, 8, 3, q.data(), 8, s.data(),
                                   buf.data(), buf.size()),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_packed_weights_size(4, 16, 12, 8), 0u); // 8 !| 12
  s[3] = INFINITY;
  EXPECT_EQ(respin_rt_pack_weights(4, 16, 8, 0, q.data(), 8, s.data(),
                                   buf.data(), buf.size()),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  s[3] = 1.0f;
  ASSERT_EQ(respin_rt_pack_weights(4, 16, 8, 0, q.data(), 8, s.data(),
                                   buf.data(), buf.size()),
            RESPIN_RT_OK);

  respin_rt_weights_info info;
  EXPECT_EQ(respin_rt_packed_weights_info(buf.data(), buf.size() - 64, &info),
            RESPIN_RT_ERR_BAD_PACKED);
  EXPECT_NE(std::string(respin_rt_last_error()).find("truncated"),
            std::string::npos);
  std::vector<uint8_t> bad = buf;
  bad[0] ^= 1;
  EXPECT_EQ(respin_rt_packed_weights_info(bad.data(), bad.size(), &info),
            RESPIN_RT_ERR_BAD_PACKED);
  bad = buf;
  bad[4] = 9; // layout version
  EXPECT_EQ(respin_rt_packed_weights_info(bad.data(), bad.size(), &info),
            RESPIN_RT_ERR_BAD_PACKED);
  bad = buf;
  bad[16] = 0xFF; // n becomes inconsistent with the offsets
  EXPECT_EQ(respin_rt_packed_weights_info(bad.data(), bad.size(), &info),
            RESPIN_RT_ERR_BAD_PACKED);
}

//===----------------------------------------------------------------------===//
// qlinear: every variant equals the ABI formula, bit for bit
//===----------------------------------------------------------------------===//

struct Shape {
  int64_t n, k, groupSize, m;
};

void checkAllVariants(const Problem &p, const std::string &label) {
  IsaGuard guard;
  int64_t yStride = p.n + 5;
  std::vector<float> yInit(p.m * yStride);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (float &v : yInit)
    v = dist(rng);
  for (bool accumulate : {false, true}) {
    std::vector<float> want = expected(p, yInit, yStride, accumulate);
    for (respin_rt_isa isa : variants()) {
      ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
      for (int threads : {1, 2}) {
        respin_rt_set_num_threads(threads);
        std::vector<float> got =
            run(p, yInit, yStride, accumulate, /*xMisalign=*/isa + 1);
        expectBitIdentical(got, want,
                           label + " isa=" + respin_rt_isa_name(isa) +
                               " threads=" + std::to_string(threads) +
                               (accumulate ? " acc" : ""));
      }
    }
  }
}

class QLinearShapes
    : public ::testing::TestWithParam<std::tuple<int, Shape>> {};

TEST_P(QLinearShapes, VariantsMatchFormulaBitExact) {
  auto [bits, s] = GetParam();
  for (int xBits : {4, 8})
    for (bool perGroup : {false, true}) {
      if (perGroup && s.groupSize == 0)
        continue;
      Problem p = makeProblem(bits, s.n, s.k, s.groupSize, s.m, xBits,
                              perGroup, Fill::Random, 1234 + s.n + s.k);
      checkAllVariants(p, "w" + std::to_string(bits) + "a" +
                              std::to_string(xBits) +
                              (perGroup ? " per-group-x" : ""));
    }
}

INSTANTIATE_TEST_SUITE_P(
    Runtime, QLinearShapes,
    ::testing::Combine(
        ::testing::Values(3, 4),
        ::testing::Values(Shape{1, 1, 0, 1},      // smallest
                          Shape{17, 40, 0, 1},    // N and K tails, GEMV
                          Shape{64, 128, 0, 1},   // four full tiles
                          Shape{70, 136, 8, 3},   // tiny groups (int3 pads)
                          Shape{33, 96, 24, 9},   // GEMM with row tail
                          Shape{48, 256, 128, 16},
                          Shape{31, 77, 0, 17})), // odd everything
    [](const auto &info) {
      Shape s = std::get<1>(info.param);
      return "w" + std::to_string(std::get<0>(info.param)) + "_n" +
             std::to_string(s.n) + "_k" + std::to_string(s.k) + "_g" +
             std::to_string(s.groupSize) + "_m" + std::to_string(s.m);
    });

TEST(RuntimeQLinear, ExtremeCodesStayExact) {
  // Largest magnitudes at a large K: |sum| = 255 * 8 * 8192 ~ 1.7e7, and the
  // kernels' unsigned-code sum reaches 255 * 15 * 8192 ~ 3.1e7.
  for (int bits : {3, 4})
    for (Fill fill : {Fill::Max, Fill::Min, Fill::Constant}) {
      Problem p = makeProblem(bits, 32, 8192, 0, 2, 8, false, fill, 5);
      checkAllVariants(p, "extreme bits=" + std::to_string(bits));
    }
}

TEST(RuntimeQLinear, RejectsBadCalls) {
  Problem p = makeProblem(4, 16, 32, 8, 1, 8, false, Fill::Random, 3);
  std::vector<float> y(16);
  EXPECT_EQ(respin_rt_qlinear(p.packed.data(), p.packed.size(), 1, nullptr, 32,
                              p.xScales.data(), p.xZeros.data(), 0, y.data(),
                              16, 0),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_qlinear(p.packed.data(), p.packed.size(), 1, p.x.data(),
                              31, p.xScales.data(), p.xZeros.data(), 0,
                              y.data(), 16, 0),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_qlinear(p.packed.data(), p.packed.size(), 1, p.x.data(),
                              35, p.xScales.data(), p.xZeros.data(), 16,
                              y.data(), 16, 0),
            RESPIN_RT_ERR_UNSUPPORTED);
  EXPECT_EQ(respin_rt_qlinear(p.packed.data(), 10, 1, p.x.data(), 35,
                              p.xScales.data(), p.xZeros.data(), 0, y.data(),
                              16, 0),
            RESPIN_RT_ERR_BAD_PACKED);
  EXPECT_EQ(respin_rt_qlinear(p.packed.data(), p.packed.size(), 1, p.x.data(),
                              35, p.xScales.data(), p.xZeros.data(), 0,
                              y.data(), 16, 4u),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
}

TEST(RuntimeDispatch, ForceAndNames) {
  IsaGuard guard;
  EXPECT_EQ(respin_rt_abi_version(), RESPIN_RT_ABI_VERSION);
  EXPECT_EQ(RESPIN_RT_ABI_VERSION, 2u); // float KV cache, qlinear_s8, ...
  EXPECT_TRUE(respin_rt_isa_supported(RESPIN_RT_ISA_REFERENCE));
  EXPECT_EQ(respin_rt_force_isa(RESPIN_RT_ISA_REFERENCE), RESPIN_RT_OK);
  EXPECT_EQ(respin_rt_active_isa(), RESPIN_RT_ISA_REFERENCE);
  EXPECT_EQ(respin_rt_force_isa((respin_rt_isa)7), RESPIN_RT_ERR_UNSUPPORTED);
  EXPECT_EQ(respin_rt_force_isa(RESPIN_RT_ISA_AUTO), RESPIN_RT_OK);
  EXPECT_STREQ(respin_rt_isa_name(RESPIN_RT_ISA_AVX512_VNNI), "avx512-vnni");
  EXPECT_EQ(respin_rt_set_num_threads(0), RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_set_num_threads(3), RESPIN_RT_OK);
  EXPECT_EQ(respin_rt_get_num_threads(), 3);
  std::printf("detected ISA: %s\n", respin_rt_isa_name(respin_rt_active_isa()));
}

} // namespace
