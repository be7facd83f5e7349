//===- RuntimeS8Test.cpp - 8-bit weight linear (respin_rt_qlinear_s8) -----===//
//
// Every ISA variant and thread count must reproduce, bit for bit, a naive
// recomputation of the ABI's "Low-bit linear" formula: exact int64 sums of
// (q_x - z_x) * qw per group, then the fixed-order float epilogue. The
// integer part is exact in both, so there is no tolerance.
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

enum class Fill { Random, MostNegative, MostPositive };

/// One call's operands; strides exceed the rows and the gaps are poisoned.
struct S8Problem {
  int64_t n, k, groupSize, m;
  bool xPerGroup;
  int64_t wStride, xStride;
  std::vector<int8_t> w;
  std::vector<float> wScales; // [n][G]
  std::vector<uint8_t> x;
  std::vector<float> xScales; // [m][Gx]
  std::vector<int32_t> xZeros;
  int64_t groups() const { return groupSize == 0 ? 1 : k / groupSize; }
  int64_t xGroups() const { return xPerGroup ? groups() : 1; }
  int64_t xGroupSize() const { return xPerGroup ? groupSize : 0; }
};

S8Problem makeS8Problem(int64_t n, int64_t k, int64_t groupSize, int64_t m,
                        bool xPerGroup, Fill fill, uint32_t seed) {
  S8Problem p{n, k, groupSize, m, xPerGroup, k + 5, k + 3};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> wCode(-128, 127), xCode(0, 255);
  std::uniform_real_distribution<float> scale(1e-3f, 2.0f);
  p.w.assign(n * p.wStride, (int8_t)0x55);
  p.x.assign(m * p.xStride, 0xEE);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      p.w[r * p.wStride + c] =
          fill == Fill::Random ? (int8_t)wCode(rng) : (int8_t)-128;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < k; ++c)
      p.x[r * p.xStride + c] = fill == Fill::Random         ? xCode(rng)
                               : fill == Fill::MostNegative ? 255
                                                            : 0;
  p.wScales.resize(n * p.groups());
  for (float &s : p.wScales)
    s = scale(rng);
  p.xScales.resize(m * p.xGroups());
  p.xZeros.resize(m * p.xGroups());
  for (size_t i = 0; i < p.xScales.size(); ++i) {
    p.xScales[i] = scale(rng);
    p.xZeros[i] = fill == Fill::Random         ? xCode(rng)
                  : fill == Fill::MostNegative ? 0
                                               : 255;
  }
  return p;
}

/// The formula with a naive int64 loop, independent of the runtime.
std::vector<float> naiveS8(const S8Problem &p, const std::vector<float> &yInit,
                           int64_t yStride, bool accumulate) {
  std::vector<float> y = yInit;
  int64_t g = p.groupSize == 0 ? p.k : p.groupSize;
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t n = 0; n < p.n; ++n) {
      float sum = 0.0f;
      for (int64_t j = 0; j < p.groups(); ++j) {
        int64_t xi = r * p.xGroups() + (p.xPerGroup ? j : 0);
        int64_t acc = 0;
        for (int64_t c = j * g; c < (j + 1) * g; ++c)
          acc += ((int64_t)p.x[r * p.xStride + c] - p.xZeros[xi]) *
                 (int64_t)p.w[n * p.wStride + c];
        EXPECT_LT(std::llabs(acc), (int64_t)1 << 31);
        float t = ((float)acc * p.wScales[n * p.groups() + j]) * p.xScales[xi];
        sum = sum + t;
      }
      float &out = y[r * yStride + n];
      out = accumulate ? out + sum : sum;
    }
  return y;
}

std::vector<float> runS8(const S8Problem &p, std::vector<float> y,
                         int64_t yStride, bool accumulate) {
  EXPECT_EQ(respin_rt_qlinear_s8(p.w.data(), p.wStride, p.wScales.data(), p.n,
                                 p.k, p.groupSize, p.m, p.x.data(), p.xStride,
                                 p.xScales.data(), p.xZeros.data(),
                                 p.xGroupSize(), y.data(), yStride,
                                 accumulate ? RESPIN_RT_ACCUMULATE : 0),
            RESPIN_RT_OK)
      << respin_rt_last_error();
  return y;
}

/// First differing element, or -1; compares bit patterns.
int64_t firstBitDifference(const std::vector<float> &a,
                           const std::vector<float> &b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], 4) != 0)
      return (int64_t)i;
  return -1;
}

void checkS8AllVariants(const S8Problem &p, const std::string &label) {
  IsaGuard guard;
  int64_t yStride = p.n + 3;
  std::vector<float> yInit(p.m * yStride);
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (float &v : yInit)
    v = dist(rng);
  for (bool accumulate : {false, true}) {
    std::vector<float> want = naiveS8(p, yInit, yStride, accumulate);
    for (respin_rt_isa isa : variants()) {
      ASSERT_EQ(respin_rt_force_isa(isa), RESPIN_RT_OK);
      for (int threads : {1, 2, 4}) {
        ASSERT_EQ(respin_rt_set_num_threads(threads), RESPIN_RT_OK);
        std::vector<float> got = runS8(p, yInit, yStride, accumulate);
        int64_t bad = firstBitDifference(got, want);
        ASSERT_EQ(bad, -1) << label << " isa=" << respin_rt_isa_name(isa)
                           << " threads=" << threads
                           << (accumulate ? " acc" : "") << ": got " << got[bad]
                           << " want " << want[bad] << " at row "
                           << bad / yStride << " col " << bad % yStride;
      }
    }
  }
}

std::string describe(const S8Problem &p) {
  return "n" + std::to_string(p.n) + " k" + std::to_string(p.k) + " g" +
         std::to_string(p.groupSize) + " m" + std::to_string(p.m) +
         (p.xPerGroup ? " per-group-x" : " per-token-x");
}

TEST(RuntimeQLinearS8, PerChannelAndGroupedBitExact) {
  // n = 70: a partial 4-row block and a partial 32-column panel. Groups of
  // 12 and 6 are not whole VNNI quads; k = 77 has a byte tail per row.
  struct Config {
    int64_t k, groupSize;
  };
  for (Config c : {Config{192, 0}, Config{192, 64}, Config{192, 12},
                   Config{192, 6}, Config{77, 0}})
    for (int64_t m : {1, 3, 17, 64})
      for (bool xPerGroup : {false, true}) {
        if (xPerGroup && c.groupSize == 0)
          continue;
        S8Problem p = makeS8Problem(70, c.k, c.groupSize, m, xPerGroup,
                                    Fill::Random, 100 + (uint32_t)(m + c.k));
        checkS8AllVariants(p, describe(p));
      }
}

TEST(RuntimeQLinearS8, ThreadSplitShapesBitExact) {
  // Big enough that the entry point splits N over the threads (it keeps
  // small calls on one thread), for decode and prefill.
  struct Config {
    int64_t n, k, groupSize, m;
    bool xPerGroup;
  };
  for (Config c :
       {Config{96, 65536, 0, 1, false}, Config{70, 32768, 4096, 3, true},
        Config{130, 4096, 256, 17, true}, Config{100, 1024, 0, 64, false},
        Config{100, 1024, 128, 64, false}}) {
    S8Problem p = makeS8Problem(c.n, c.k, c.groupSize, c.m, c.xPerGroup,
                                Fill::Random, 7 + (uint32_t)c.k);
    checkS8AllVariants(p, describe(p));
  }
}

TEST(RuntimeQLinearS8, ExtremeCodesAtLargestKStayExact) {
  // k = 65793 is the largest with k * 255 * 128 < 2^31: |acc| reaches
  // 255 * 128 * 65793 = 2147450880 with either sign, and the VNNI kernels'
  // sum x * qw and z * sum qw reach it on their own.
  for (Fill fill : {Fill::MostNegative, Fill::MostPositive})
    for (int64_t m : {1, 16}) {
      S8Problem p = makeS8Problem(33, 65793, 0, m, false, fill, 3);
      checkS8AllVariants(p, "extreme " + describe(p));
    }
}

/// Status and message of a call on a valid problem with one thing changed.
struct Call {
  S8Problem p = makeS8Problem(16, 64, 16, 2, false, Fill::Random, 9);
  std::vector<float> y = std::vector<float>(2 * 16);
  bool nullW = false, nullX = false;
  int64_t n = 16, k = 64, groupSize = 16, wStride = p.wStride,
          xStride = p.xStride, yStride = 16, xGroupSize = 0;
  uint32_t flags = 0;
  respin_rt_status run() {
    return respin_rt_qlinear_s8(
        nullW ? nullptr : p.w.data(), wStride, p.wScales.data(), n, k,
        groupSize, p.m, nullX ? nullptr : p.x.data(), xStride, p.xScales.data(),
        p.xZeros.data(), xGroupSize, y.data(), yStride, flags);
  }
};

void expectError(Call &c, respin_rt_status status, const std::string &text) {
  EXPECT_EQ(c.run(), status);
  EXPECT_NE(std::string(respin_rt_last_error()).find(text), std::string::npos)
      << "message: " << respin_rt_last_error();
}

TEST(RuntimeQLinearS8, RejectsBadCalls) {
  Call good;
  EXPECT_EQ(good.run(), RESPIN_RT_OK) << respin_rt_last_error();
  Call c;
  c.nullW = true;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "null pointer");
  c = Call();
  c.nullX = true;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "null pointer");
  c = Call();
  c.wStride = 63;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "w_stride 63");
  c = Call();
  c.xStride = 63;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "x_stride 63");
  c = Call();
  c.yStride = 15;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "y_stride 15");
  c = Call();
  c.groupSize = 24; // does not divide 64
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT,
              "must be 0 (per channel) or "
              "divide k 64");
  c = Call();
  c.xGroupSize = 32; // neither 0, k nor the weight group size
  expectError(c, RESPIN_RT_ERR_UNSUPPORTED, "activation group size 32");
  c = Call();
  c.flags = 2;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "unknown flags");
  c = Call();
  c.p.xZeros[1] = 256;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "x_zeros[1] = 256");
  c = Call();
  c.k = 65794; // one past the exactness bound (checked before any access)
  c.groupSize = 0;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "below 2^31 (k <= 65793)");
  c = Call();
  c.n = 0;
  expectError(c, RESPIN_RT_ERR_INVALID_ARGUMENT, "bad shape");
}

TEST(RuntimeQLinearS8, ZeroRowsIsANoOp) {
  std::vector<float> y = {1.0f};
  EXPECT_EQ(respin_rt_qlinear_s8(nullptr, 4, nullptr, 1, 4, 0, 0, nullptr, 4,
                                 nullptr, nullptr, 0, y.data(), 1, 0),
            RESPIN_RT_OK);
  EXPECT_EQ(y[0], 1.0f);
}

} // namespace
