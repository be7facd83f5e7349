//===- RuntimeAttentionTest.cpp - KV cache, attention, RoPE, norms --------===//
//
// The quantized KV cache stores what the documented rule says (checked by
// dequantizing from the documented layout), attention matches a double
// computation over the dequantized cache, prefill rows equal decode steps,
// grouped-query heads read the right KV head, and the element-wise kernels
// match their formulas.
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

/// Restores the default thread count after a test.
std::vector<float> randomVector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = normal(rng);
  return v;
}

/// Owns the storage of a cache.
struct Cache {
  respin_rt_kv_cache c{};
  std::vector<uint8_t> kCodes, vCodes;
  std::vector<float> kScales, vScales;
  std::vector<int32_t> kZeros, vZeros;
  Cache(int bits, int kvHeads, int headDim, int maxSeq) {
    size_t bytes = respin_rt_kv_cache_code_bytes(bits, kvHeads, headDim, maxSeq);
    EXPECT_GT(bytes, 0u);
    kCodes.resize(bytes);
    vCodes.resize(bytes);
    kScales.resize(kvHeads * maxSeq);
    vScales.resize(kvHeads * maxSeq);
    kZeros.resize(kvHeads * maxSeq);
    vZeros.resize(kvHeads * maxSeq);
    c = {bits, kvHeads, headDim, maxSeq, kCodes.data(), vCodes.data(),
         kScales.data(), vScales.data(), kZeros.data(), vZeros.data()};
  }
  /// Dequantized element i of K or V at (head, pos), from the documented
  /// layout: element 2i in the low nibble for 4 bits.
  float deq(bool isK, int head, int pos, int i) const {
    const std::vector<uint8_t> &codes = isK ? kCodes : vCodes;
    size_t slot = (size_t)head * c.max_seq + pos;
    size_t rowBytes = (size_t)c.head_dim * c.bits / 8;
    int code = c.bits == 8 ? codes[slot * rowBytes + i]
                           : (codes[slot * rowBytes + i / 2] >> (4 * (i % 2))) & 15;
    int zero = isK ? kZeros[slot] : vZeros[slot];
    float scale = isK ? kScales[slot] : vScales[slot];
    return (float)(code - zero) * scale;
  }
};

TEST(RuntimeKVCache, StoresDocumentedQuantization) {
  for (int bits : {4, 8}) {
    int kv = 2, d = 16, seq = 8, tokens = 5;
    Cache cache(bits, kv, d, seq);
    std::vector<float> k = randomVector(tokens * kv * d, 1);
    std::vector<float> v = randomVector(tokens * kv * d, 2);
    ASSERT_EQ(respin_rt_kv_append(&cache.c, 0, tokens, k.data(), kv * d,
                                  v.data(), kv * d, 1.0f),
              RESPIN_RT_OK);
    for (int t = 0; t < tokens; ++t)
      for (int h = 0; h < kv; ++h) {
        // Same rule as respin_rt_quantize_rows on that head vector.
        std::vector<uint8_t> q(d);
        float s;
        int32_t z;
        ASSERT_EQ(respin_rt_quantize_rows(k.data() + (t * kv + h) * d, d, 1, d,
                                          bits, 0, 1.0f, 0, q.data(), d, &s, &z),
                  RESPIN_RT_OK);
        EXPECT_EQ(cache.kScales[h * seq + t], s);
        EXPECT_EQ(cache.kZeros[h * seq + t], z);
        for (int i = 0; i < d; ++i) {
          EXPECT_EQ(cache.deq(true, h, t, i), (float)((int)q[i] - z) * s);
          // Round to nearest: within half a step of the input.
          EXPECT_LE(std::fabs(cache.deq(false, h, t, i) -
                              v[(t * kv + h) * d + i]),
                    0.5f * cache.vScales[h * seq + t] * 1.0001f);
        }
      }
  }
}

/// Double-precision causal GQA attention; at(isKey, kvHead, position, i)
/// gives the cached value the runtime should see.
template <typename At>
std::vector<double> referenceAttention(const respin_rt_kv_cache &c,
                                       const std::vector<float> &q, int pos0,
                                       int tokens, int heads, double scale,
                                       At at) {
  int d = c.head_dim, group = heads / c.n_kv_heads;
  std::vector<double> out(tokens * heads * d, 0.0);
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h) {
      int kvh = h / group, last = pos0 + t;
      std::vector<double> s(last + 1);
      double mx = -1e300;
      for (int j = 0; j <= last; ++j) {
        double dot = 0;
        for (int i = 0; i < d; ++i)
          dot += (double)q[(t * heads + h) * d + i] * at(true, kvh, j, i);
        s[j] = scale * dot;
        mx = std::max(mx, s[j]);
      }
      double total = 0;
      for (double &x : s)
        total += (x = std::exp(x - mx));
      for (int j = 0; j <= last; ++j)
        for (int i = 0; i < d; ++i)
          out[(t * heads + h) * d + i] += s[j] / total * at(false, kvh, j, i);
    }
  return out;
}

/// Over the dequantized cache.
std::vector<double> attentionReference(const Cache &cache,
                                       const std::vector<float> &q, int pos0,
                                       int tokens, int heads, float scale) {
  return referenceAttention(
      cache.c, q, pos0, tokens, heads, scale,
      [&](bool key, int h, int j, int i) { return cache.deq(key, h, j, i); });
}

TEST(RuntimeAttention, PrefillMatchesDoubleAndDecodeMatchesPrefill) {
  for (int bits : {4, 8}) {
    int kv = 2, heads = 6, d = 32, seq = 40, tokens = 33;
    Cache cache(bits, kv, d, seq);
    std::vector<float> k = randomVector(tokens * kv * d, 3);
    std::vector<float> v = randomVector(tokens * kv * d, 4);
    std::vector<float> q = randomVector(tokens * heads * d, 5);
    ASSERT_EQ(respin_rt_kv_append(&cache.c, 0, tokens, k.data(), kv * d,
                                  v.data(), kv * d, 0.95f),
              RESPIN_RT_OK);
    float scale = 1.0f / std::sqrt((float)d);
    std::vector<float> out(tokens * heads * d);
    ASSERT_EQ(respin_rt_attention(&cache.c, 0, tokens, q.data(), heads * d,
                                  heads, scale, out.data(), heads * d),
              RESPIN_RT_OK);
    std::vector<double> want =
        attentionReference(cache, q, 0, tokens, heads, scale);
    double maxV = 0;
    for (int h = 0; h < kv; ++h)
      for (int j = 0; j < tokens; ++j)
        for (int i = 0; i < d; ++i)
          maxV = std::max(maxV, (double)std::fabs(cache.deq(false, h, j, i)));
    // Float scores over d = 32 terms and a softmax over <= 33 positions: the
    // relative error is a few hundred ulps at most; 1e-5 of max |v| bounds it.
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_NEAR(out[i], want[i], 1e-5 * maxV) << "bits " << bits << " i " << i;

    // Decode the last position alone: same code path, same floats.
    std::vector<float> step(heads * d);
    ASSERT_EQ(respin_rt_attention(&cache.c, tokens - 1, 1,
                                  q.data() + (tokens - 1) * heads * d,
                                  heads * d, heads, scale, step.data(),
                                  heads * d),
              RESPIN_RT_OK);
    for (int i = 0; i < heads * d; ++i)
      ASSERT_EQ(step[i], out[(tokens - 1) * heads * d + i]);
  }
}

TEST(RuntimeAttention, FirstPositionCopiesValueAndGqaPicksHead) {
  // At position 0 softmax has one entry: the output is deq(v_0) of the KV
  // head the query head maps to (heads 0,1 -> KV 0; heads 2,3 -> KV 1).
  Cache cache(8, 2, 4, 4);
  std::vector<float> k = {1, 2, 3, 4, -1, -2, -3, -4};
  std::vector<float> v = {0.5f, -0.5f, 1, 0, 7, 6, 5, 4};
  ASSERT_EQ(respin_rt_kv_append(&cache.c, 0, 1, k.data(), 8, v.data(), 8, 1.0f),
            RESPIN_RT_OK);
  std::vector<float> q = randomVector(16, 6), out(16);
  ASSERT_EQ(respin_rt_attention(&cache.c, 0, 1, q.data(), 16, 4, 0.5f,
                                out.data(), 16),
            RESPIN_RT_OK);
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 4; ++i)
      EXPECT_FLOAT_EQ(out[h * 4 + i], cache.deq(false, h / 2, 0, i));
}

TEST(RuntimeAttention, RejectsBadCalls) {
  Cache cache(4, 2, 4, 4);
  std::vector<float> x(64);
  EXPECT_EQ(respin_rt_kv_append(&cache.c, 3, 2, x.data(), 8, x.data(), 8, 1),
            RESPIN_RT_ERR_INVALID_ARGUMENT); // past max_seq
  EXPECT_EQ(respin_rt_attention(&cache.c, 0, 1, x.data(), 12, 3, 1.0f,
                                x.data(), 12),
            RESPIN_RT_ERR_INVALID_ARGUMENT); // 3 heads over 2 KV heads
  respin_rt_kv_cache bad = cache.c;
  bad.bits = 3;
  EXPECT_EQ(respin_rt_kv_append(&bad, 0, 1, x.data(), 8, x.data(), 8, 1),
            RESPIN_RT_ERR_UNSUPPORTED);
  EXPECT_EQ(respin_rt_kv_cache_code_bytes(4, 2, 5, 4), 0u); // odd head_dim
}

//===----------------------------------------------------------------------===//
// Float (32-bit) KV cache
//===----------------------------------------------------------------------===//

/// A float cache: storage is float[n_kv][max_seq][head_dim], no scales or
/// zeros (NULL, as the ABI allows).
struct FloatCache {
  respin_rt_kv_cache c{};
  std::vector<float> k, v;
  FloatCache(int kvHeads, int headDim, int maxSeq) {
    size_t bytes = respin_rt_kv_cache_code_bytes(32, kvHeads, headDim, maxSeq);
    EXPECT_EQ(bytes, (size_t)kvHeads * headDim * maxSeq * sizeof(float));
    k.resize(bytes / sizeof(float));
    v.resize(bytes / sizeof(float));
    c = {32,
         kvHeads,
         headDim,
         maxSeq,
         (uint8_t *)k.data(),
         (uint8_t *)v.data(),
         nullptr,
         nullptr,
         nullptr,
         nullptr};
  }
  float at(bool isK, int head, int pos, int i) const {
    return (isK ? k : v)[((size_t)head * c.max_seq + pos) * c.head_dim + i];
  }
};

/// Over the raw K/V floats.
std::vector<double> floatAttentionReference(const FloatCache &cache,
                                            const std::vector<float> &q,
                                            int pos0, int tokens, int heads,
                                            double scale) {
  return referenceAttention(
      cache.c, q, pos0, tokens, heads, scale,
      [&](bool key, int h, int j, int i) { return cache.at(key, h, j, i); });
}

TEST(RuntimeFloatKVCache, AppendCopiesExactly) {
  int kv = 2, d = 6, seq = 5, tokens = 3, width = kv * d + 1; // strided rows
  FloatCache cache(kv, d, seq);
  std::vector<float> k = randomVector(tokens * width, 21);
  std::vector<float> v = randomVector(tokens * width, 22);
  k[0] = -0.0f; // a copy, not arithmetic: the sign of zero survives
  ASSERT_EQ(respin_rt_kv_append(&cache.c, 1, tokens, k.data(), width, v.data(),
                                width, 1.0f),
            RESPIN_RT_OK)
      << respin_rt_last_error();
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < kv; ++h)
      for (int i = 0; i < d; ++i) {
        float kk = cache.at(true, h, 1 + t, i),
              vv = cache.at(false, h, 1 + t, i);
        EXPECT_EQ(std::memcmp(&kk, &k[t * width + h * d + i], 4), 0);
        EXPECT_EQ(std::memcmp(&vv, &v[t * width + h * d + i], 4), 0);
      }
  EXPECT_TRUE(std::signbit(cache.at(true, 0, 1, 0)));
  EXPECT_EQ(cache.at(true, 0, 0, 0), 0.0f); // position 0 untouched
}

TEST(RuntimeFloatKVCache, AttentionMatchesDoubleAndDecodeMatchesPrefill) {
  IsaGuard guard;
  int kv = 2, heads = 6, d = 32, seq = 40, tokens = 33;
  FloatCache cache(kv, d, seq);
  std::vector<float> k = randomVector(tokens * kv * d, 23);
  std::vector<float> v = randomVector(tokens * kv * d, 24);
  std::vector<float> q = randomVector(tokens * heads * d, 25);
  ASSERT_EQ(respin_rt_kv_append(&cache.c, 0, tokens, k.data(), kv * d, v.data(),
                                kv * d, 1.0f),
            RESPIN_RT_OK);
  float scale = 1.0f / std::sqrt((float)d);
  std::vector<double> want =
      floatAttentionReference(cache, q, 0, tokens, heads, scale);
  double maxV = 0;
  for (float x : v)
    maxV = std::max(maxV, (double)std::fabs(x));
  for (int threads : {1, 3}) {
    ASSERT_EQ(respin_rt_set_num_threads(threads), RESPIN_RT_OK);
    std::vector<float> out(tokens * heads * d);
    ASSERT_EQ(respin_rt_attention(&cache.c, 0, tokens, q.data(), heads * d,
                                  heads, scale, out.data(), heads * d),
              RESPIN_RT_OK);
    // Same bound as the quantized cache: float scores over d = 32 terms and a
    // softmax over <= 33 positions stay within 1e-5 of max |v|.
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_NEAR(out[i], want[i], 1e-5 * maxV) << "i " << i;
    std::vector<float> step(heads * d);
    ASSERT_EQ(respin_rt_attention(
                  &cache.c, tokens - 1, 1, q.data() + (tokens - 1) * heads * d,
                  heads * d, heads, scale, step.data(), heads * d),
              RESPIN_RT_OK);
    for (int i = 0; i < heads * d; ++i)
      ASSERT_EQ(step[i], out[(tokens - 1) * heads * d + i]);
  }
}

TEST(RuntimeFloatKVCache, FirstPositionReturnsValueExactly) {
  FloatCache cache(2, 4, 4);
  std::vector<float> k = {1, 2, 3, 4, -1, -2, -3, -4};
  std::vector<float> v = {0.5f, -0.5f, 1, 0.1f, 7, 6, 5, 4e-3f};
  ASSERT_EQ(respin_rt_kv_append(&cache.c, 0, 1, k.data(), 8, v.data(), 8, 1.0f),
            RESPIN_RT_OK);
  std::vector<float> q = randomVector(16, 26), out(16);
  ASSERT_EQ(respin_rt_attention(&cache.c, 0, 1, q.data(), 16, 4, 0.5f,
                                out.data(), 16),
            RESPIN_RT_OK);
  // One position: p = exp(0) / exp(0) = 1 exactly, so out = v exactly.
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(out[h * 4 + i], v[(h / 2) * 4 + i]);
}

TEST(RuntimeFloatKVCache, RejectsMisalignedStorage) {
  std::vector<float> storage(2 * 4 * 4 + 1);
  respin_rt_kv_cache c = {32,
                          2,
                          4,
                          4,
                          (uint8_t *)storage.data() + 1,
                          (uint8_t *)storage.data(),
                          nullptr,
                          nullptr,
                          nullptr,
                          nullptr};
  std::vector<float> x(8);
  EXPECT_EQ(respin_rt_kv_append(&c, 0, 1, x.data(), 8, x.data(), 8, 1.0f),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(respin_rt_last_error()).find("4-byte aligned"),
            std::string::npos);
  EXPECT_EQ(respin_rt_attention(&c, 0, 1, x.data(), 8, 2, 1.0f, x.data(), 8),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  // The quantized caches still require their scales and zeros.
  c.bits = 8;
  c.k_codes = c.v_codes;
  EXPECT_EQ(respin_rt_kv_append(&c, 0, 1, x.data(), 8, x.data(), 8, 1.0f),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(respin_rt_kv_cache_code_bytes(32, 2, 4, 4), 2u * 4 * 4 * 4);
  EXPECT_EQ(respin_rt_kv_cache_code_bytes(16, 2, 4, 4), 0u);
}

TEST(RuntimeRope, LayoutsAgreeUpToPermutationAndPreserveNorm) {
  int heads = 3, d = 8, tokens = 4;
  std::vector<float> x = randomVector(tokens * heads * d, 7);
  // Half-split input built from the interleaved one: pair (2i, 2i+1) ->
  // (i, i + d/2).
  std::vector<float> split(x.size());
  for (int t = 0; t < tokens * heads; ++t)
    for (int i = 0; i < d / 2; ++i) {
      split[t * d + i] = x[t * d + 2 * i];
      split[t * d + i + d / 2] = x[t * d + 2 * i + 1];
    }
  std::vector<float> a = x, b = split;
  ASSERT_EQ(respin_rt_rope(a.data(), heads * d, tokens, heads, d, 5, 10000.0f,
                           RESPIN_RT_ROPE_INTERLEAVED),
            RESPIN_RT_OK);
  ASSERT_EQ(respin_rt_rope(b.data(), heads * d, tokens, heads, d, 5, 10000.0f,
                           RESPIN_RT_ROPE_HALF_SPLIT),
            RESPIN_RT_OK);
  for (int t = 0; t < tokens * heads; ++t)
    for (int i = 0; i < d / 2; ++i) {
      EXPECT_EQ(a[t * d + 2 * i], b[t * d + i]);
      EXPECT_EQ(a[t * d + 2 * i + 1], b[t * d + i + d / 2]);
      float n0 = std::hypot(x[t * d + 2 * i], x[t * d + 2 * i + 1]);
      float n1 = std::hypot(a[t * d + 2 * i], a[t * d + 2 * i + 1]);
      EXPECT_NEAR(n0, n1, 1e-5f * (1 + n0));
    }
  // Pair 0 rotates by exactly `pos` radians (theta^0 = 1).
  std::vector<float> unit = {1, 0, 1, 0};
  ASSERT_EQ(respin_rt_rope(unit.data(), 4, 1, 1, 4, 2, 10000.0f,
                           RESPIN_RT_ROPE_INTERLEAVED),
            RESPIN_RT_OK);
  EXPECT_FLOAT_EQ(unit[0], (float)std::cos(2.0));
  EXPECT_FLOAT_EQ(unit[1], (float)std::sin(2.0));
  EXPECT_FLOAT_EQ(unit[3], (float)std::sin(2.0 * std::pow(10000.0, -0.5)));
}

TEST(RuntimeElementwise, RmsNormAndSiluMul) {
  std::vector<float> x = {3, -4, 0, 0}, y(4);
  ASSERT_EQ(respin_rt_rmsnorm(x.data(), 4, y.data(), 4, 1, 4, 0.0f),
            RESPIN_RT_OK);
  // rms = sqrt(25 / 4) = 2.5
  EXPECT_FLOAT_EQ(y[0], 1.2f);
  EXPECT_FLOAT_EQ(y[1], -1.6f);
  std::vector<float> zeros(4, 0.0f);
  ASSERT_EQ(respin_rt_rmsnorm(zeros.data(), 4, y.data(), 4, 1, 4, 1e-5f),
            RESPIN_RT_OK);
  EXPECT_EQ(y[0], 0.0f); // eps keeps it finite
  std::vector<float> g = {0, 1, -2, 20}, u = {5, 2, 1, 0.5f}, o(4);
  ASSERT_EQ(respin_rt_silu_mul(g.data(), 4, u.data(), 4, o.data(), 4, 1, 4),
            RESPIN_RT_OK);
  EXPECT_FLOAT_EQ(o[0], 0.0f);
  EXPECT_FLOAT_EQ(o[1], 2.0f / (1.0f + std::exp(-1.0f)));
  EXPECT_FLOAT_EQ(o[2], -2.0f / (1.0f + std::exp(2.0f)));
  EXPECT_NEAR(o[3], 10.0f, 1e-5f);
}

TEST(RuntimeElementwise, RmsNormGainMatchesDouble) {
  int rows = 3, d = 4096, stride = d + 7;
  std::vector<float> x = randomVector(rows * stride, 31, 3.0f);
  std::vector<float> gain = randomVector(d, 32);
  std::vector<float> y(rows * stride), plain(rows * stride);
  float eps = 1e-5f;
  ASSERT_EQ(respin_rt_rmsnorm_gain(x.data(), stride, y.data(), stride, rows, d,
                                   eps, gain.data()),
            RESPIN_RT_OK);
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < d; ++i)
      ss += (double)x[r * stride + i] * x[r * stride + i];
    double inv = 1.0 / std::sqrt(ss / d + eps);
    for (int i = 0; i < d; ++i) {
      double want = x[r * stride + i] * inv * gain[i];
      // Three float roundings (inv to float, x * inv, * gain), each at most
      // 2^-24 relative, and the double mean's own error is ~d * 2^-53:
      // 4 * 2^-24 relative covers it (plus the underflow floor).
      EXPECT_NEAR(y[r * stride + i], want,
                  4 * 0x1p-24 * std::fabs(want) + 1e-30)
          << "row " << r << " i " << i;
    }
  }
  // NULL gain is respin_rt_rmsnorm bit for bit; in place works.
  ASSERT_EQ(respin_rt_rmsnorm_gain(x.data(), stride, y.data(), stride, rows, d,
                                   eps, nullptr),
            RESPIN_RT_OK);
  ASSERT_EQ(
      respin_rt_rmsnorm(x.data(), stride, plain.data(), stride, rows, d, eps),
      RESPIN_RT_OK);
  std::vector<float> inPlace = x;
  ASSERT_EQ(respin_rt_rmsnorm_gain(inPlace.data(), stride, inPlace.data(),
                                   stride, rows, d, eps, nullptr),
            RESPIN_RT_OK);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < d; ++i) {
      ASSERT_EQ(std::memcmp(&y[r * stride + i], &plain[r * stride + i], 4), 0);
      ASSERT_EQ(inPlace[r * stride + i], plain[r * stride + i]);
    }
  EXPECT_EQ(respin_rt_rmsnorm_gain(x.data(), d - 1, y.data(), d, 1, d, eps,
                                   gain.data()),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
}

TEST(RuntimeElementwise, AddIsOneFloatAdditionAndMayAlias) {
  int rows = 2, d = 5;
  std::vector<float> a = randomVector(rows * 6, 33),
                     b = randomVector(rows * 7, 34);
  std::vector<float> out(rows * 8, 99.0f);
  ASSERT_EQ(respin_rt_add(a.data(), 6, b.data(), 7, out.data(), 8, rows, d),
            RESPIN_RT_OK);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < d; ++i)
      EXPECT_EQ(out[r * 8 + i], a[r * 6 + i] + b[r * 7 + i]);
    EXPECT_EQ(out[r * 8 + d], 99.0f); // stride gap untouched
  }
  std::vector<float> inA = a, inB = b;
  ASSERT_EQ(respin_rt_add(inA.data(), 6, b.data(), 7, inA.data(), 6, rows, d),
            RESPIN_RT_OK);
  ASSERT_EQ(respin_rt_add(a.data(), 6, inB.data(), 7, inB.data(), 7, rows, d),
            RESPIN_RT_OK);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < d; ++i) {
      EXPECT_EQ(inA[r * 6 + i], out[r * 8 + i]);
      EXPECT_EQ(inB[r * 7 + i], out[r * 8 + i]);
    }
  EXPECT_EQ(respin_rt_add(a.data(), 4, b.data(), 7, out.data(), 8, rows, d),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
}

TEST(RuntimeEmbedding, CopiesRowsAndNamesABadId) {
  int vocab = 10, dim = 3;
  std::vector<float> table = randomVector(vocab * dim, 35);
  std::vector<int32_t> tokens = {4, 0, 9, 4};
  std::vector<float> out(tokens.size() * 5, -1.0f);
  ASSERT_EQ(respin_rt_embedding(table.data(), vocab, dim, tokens.data(),
                                (int64_t)tokens.size(), out.data(), 5),
            RESPIN_RT_OK);
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int i = 0; i < dim; ++i)
      EXPECT_EQ(out[t * 5 + i], table[tokens[t] * dim + i]);
    EXPECT_EQ(out[t * 5 + dim], -1.0f);
  }
  std::vector<float> before = out;
  for (int32_t bad : {10, -1}) {
    std::vector<int32_t> ids = {1, 2, bad};
    EXPECT_EQ(respin_rt_embedding(table.data(), vocab, dim, ids.data(), 3,
                                  out.data(), 5),
              RESPIN_RT_ERR_INVALID_ARGUMENT);
    std::string msg = respin_rt_last_error();
    EXPECT_NE(msg.find("token id " + std::to_string(bad) + " at position 2"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("[0, 10)"), std::string::npos) << msg;
    EXPECT_EQ(out, before); // checked before anything is written
  }
  EXPECT_EQ(respin_rt_embedding(table.data(), vocab, dim, tokens.data(), 1,
                                out.data(), dim - 1),
            RESPIN_RT_ERR_INVALID_ARGUMENT);
}

} // namespace

// The softmax's branch-free exp against the libm one, over the whole range
// a max-subtracted score can take: relative error < 4e-7 (a few float ulps
// of rounding in the polynomial and the final scaling),
// exactly 1 at 0, and a value below the float range at the clamp.
#include "../../lib/Runtime/AttentionBlocks.h"

TEST(RuntimeAttentionExp, MatchesLibmOnTheNonPositiveRange) {
  double worst = 0;
  for (int i = 0; i <= 870000; ++i) {
    float x = -float(i) * 1e-4f;
    double expected = std::exp(double(x));
    double got = respin::rt::attentionExp(x);
    worst = std::max(worst, std::abs(got - expected) / expected);
  }
  EXPECT_LT(worst, 4e-7);
  EXPECT_EQ(respin::rt::attentionExp(0.0f), 1.0f);
  EXPECT_LT(respin::rt::attentionExp(-1e30f), 1e-37f);
  EXPECT_LT(respin::rt::attentionExp(-INFINITY), 1e-37f);
}
