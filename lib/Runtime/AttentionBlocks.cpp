//===- AttentionBlocks.cpp - Blocked causal attention over a KV cache -----===//
//
// One work item is one KV head and a block of query tokens: its rows are
// every query head of the group for every token of the block, so each key
// and value block is decoded to float once and used by all of them. Keys
// are decoded transposed (k[i][j]) and scores, softmax and the value sums
// run over contiguous j or i, so the loops vectorize without reassociating
// any sum. The softmax is online (running maximum and sum per row, rescaled
// per key block), with a branch-free exp.
//
// Each row sees the same key blocks in the same order whatever the query
// blocking, so decoding one token gives bit for bit what prefill gives, and
// results never depend on the thread count.
//
//===----------------------------------------------------------------------===//

#include "AttentionBlocks.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace respin::rt;

namespace {

constexpr int64_t kKeyBlock = 32;   // positions decoded at a time
constexpr int64_t kQueryBlock = 16; // tokens per work item

/// exp(x) for x <= 0 as 2^k e^r, k = round(x / ln 2), r = x - k ln 2 in
/// [-ln2/2, ln2/2] (ln 2 split in two so k ln2_hi is exact), e^r by its
/// degree-7 Taylor polynomial (truncation < 1e-8): relative error of a few
/// float ulps (checked in RuntimeAttentionTest); 0 is reached below -87.
inline float expNonPositive(float x) {
  x = std::max(x, -87.0f);
  float k = std::nearbyint(x * 1.44269504088896341f);
  float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (int32_t(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/// Decodes positions [j0, j0 + n) of KV head `hk`: keys transposed into
/// kT[i * kKeyBlock + j], values into v[j * d + i].
void decodeBlock(const AttentionShape &s, int64_t hk, int64_t j0, int64_t n,
                 float *kT, float *v) {
  const respin_rt_kv_cache &c = *s.cache;
  int64_t d = c.head_dim;
  for (int64_t j = 0; j < n; ++j) {
    int64_t slot = hk * c.max_seq + j0 + j;
    float *vRow = v + j * d;
    if (c.bits == 32) {
      const float *k = (const float *)c.k_codes + slot * d;
      const float *vv = (const float *)c.v_codes + slot * d;
      for (int64_t i = 0; i < d; ++i)
        kT[i * kKeyBlock + j] = k[i];
      std::memcpy(vRow, vv, size_t(d) * sizeof(float));
      continue;
    }
    int64_t bytes = d * c.bits / 8;
    const uint8_t *kc = c.k_codes + slot * bytes;
    const uint8_t *vc = c.v_codes + slot * bytes;
    float ks = c.k_scales[slot], vs = c.v_scales[slot];
    float kz = float(c.k_zeros[slot]), vz = float(c.v_zeros[slot]);
    for (int64_t i = 0; i < d; ++i) {
      int32_t kq, vq;
      if (c.bits == 8) {
        kq = kc[i];
        vq = vc[i];
      } else {
        kq = (i & 1) ? kc[i / 2] >> 4 : kc[i / 2] & 15;
        vq = (i & 1) ? vc[i / 2] >> 4 : vc[i / 2] & 15;
      }
      kT[i * kKeyBlock + j] = (float(kq) - kz) * ks;
      vRow[i] = (float(vq) - vz) * vs;
    }
  }
}

/// Rows r of a work item: query head hk * group + r % group of token
/// t0 + r / group.
struct Tile {
  std::vector<float> q, kT, v, scores, acc, max, sum;
  Tile(int64_t rows, int64_t d)
      : q(rows * d), kT(d * kKeyBlock), v(kKeyBlock * d),
        scores(rows * kKeyBlock), acc(rows * d), max(rows), sum(rows) {}
};

// Clones need ifunc resolvers, which the sanitizer builds do without.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&         \
    !defined(RESPIN_RT_NO_CLONES)
#define RESPIN_RT_CLONES                                                       \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RESPIN_RT_CLONES
#endif

RESPIN_RT_CLONES
void attendItem(const AttentionShape &s, int64_t hk, int64_t t0, int64_t t1,
                Tile &tile) {
  const respin_rt_kv_cache &c = *s.cache;
  const int64_t d = c.head_dim, group = s.nHeads / c.n_kv_heads;
  const int64_t rows = (t1 - t0) * group;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = t0 + r / group, head = hk * group + r % group;
    const float *q = s.q + t * s.qStride + head * d;
    for (int64_t i = 0; i < d; ++i)
      tile.q[r * d + i] = q[i] * s.scale;
    tile.max[r] = -INFINITY;
    tile.sum[r] = 0.0f;
  }
  std::fill(tile.acc.begin(), tile.acc.begin() + rows * d, 0.0f);
  int64_t lastPosition = s.pos0 + t1 - 1;
  for (int64_t j0 = 0; j0 <= lastPosition; j0 += kKeyBlock) {
    int64_t n = std::min(kKeyBlock, lastPosition + 1 - j0);
    decodeBlock(s, hk, j0, n, tile.kT.data(), tile.v.data());
    for (int64_t r = 0; r < rows; ++r) {
      int64_t valid = std::min(n, s.pos0 + t0 + r / group + 1 - j0);
      if (valid <= 0)
        continue;
      float *score = tile.scores.data() + r * kKeyBlock;
      const float *q = tile.q.data() + r * d;
      for (int64_t j = 0; j < kKeyBlock; ++j)
        score[j] = 0.0f;
      for (int64_t i = 0; i < d; ++i) {
        float qi = q[i];
        const float *k = tile.kT.data() + i * kKeyBlock;
        for (int64_t j = 0; j < kKeyBlock; ++j)
          score[j] += qi * k[j];
      }
      float blockMax = -INFINITY;
      for (int64_t j = 0; j < valid; ++j)
        blockMax = std::max(blockMax, score[j]);
      float newMax = std::max(tile.max[r], blockMax);
      float rescale = expNonPositive(tile.max[r] - newMax);
      float blockSum = 0.0f;
      for (int64_t j = 0; j < kKeyBlock; ++j) {
        float p = expNonPositive(score[j] - newMax);
        score[j] = j < valid ? p : 0.0f;
      }
      for (int64_t j = 0; j < valid; ++j)
        blockSum += score[j];
      tile.max[r] = newMax;
      tile.sum[r] = tile.sum[r] * rescale + blockSum;
      float *acc = tile.acc.data() + r * d;
      for (int64_t i = 0; i < d; ++i)
        acc[i] *= rescale;
      for (int64_t j = 0; j < valid; ++j) {
        float p = score[j];
        const float *v = tile.v.data() + j * d;
        for (int64_t i = 0; i < d; ++i)
          acc[i] += p * v[i];
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = t0 + r / group, head = hk * group + r % group;
    float inv = 1.0f / tile.sum[r];
    float *out = s.out + t * s.outStride + head * d;
    for (int64_t i = 0; i < d; ++i)
      out[i] = tile.acc[r * d + i] * inv;
  }
}

} // namespace

void respin::rt::blockedAttention(const AttentionShape &s) {
  const respin_rt_kv_cache &c = *s.cache;
  int64_t group = s.nHeads / c.n_kv_heads;
  int64_t blocks = (s.tokens + kQueryBlock - 1) / kQueryBlock;
  parallelFor(c.n_kv_heads * blocks, 1, [&](int64_t begin, int64_t end) {
    Tile tile(kQueryBlock * group, c.head_dim);
    for (int64_t item = begin; item < end; ++item) {
      int64_t hk = item % c.n_kv_heads, block = item / c.n_kv_heads;
      int64_t t0 = block * kQueryBlock;
      attendItem(s, hk, t0, std::min(s.tokens, t0 + kQueryBlock), tile);
    }
  });
}

float respin::rt::attentionExp(float x) { return expNonPositive(x); }
