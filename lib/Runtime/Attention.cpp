//===- Attention.cpp - Quantized KV cache and causal attention ------------===//
//
// K and V are quantized per token per KV head with the runtime's asymmetric
// activation rule (same scale/zero/rounding as respin_rt_quantize_rows), 4-bit
// codes packed two per byte. Attention (AttentionBlocks.cpp) decodes blocks
// of keys and values to float and runs an online softmax over them.
//
// A 32-bit cache stores the floats themselves (no scales or zeros); the same
// loops then read k and v directly.
//
//===----------------------------------------------------------------------===//

#include "AttentionBlocks.h"
#include "Internal.h"
#include "ThreadPool.h"

#include <cinttypes>
#include <cmath>
#include <vector>

using namespace respin::rt;

namespace {

bool isFloatCache(const respin_rt_kv_cache *c) { return c->bits == 32; }

respin_rt_status checkCache(const respin_rt_kv_cache *c) {
  if (!c)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "kv cache: null cache");
  if (c->bits != 4 && c->bits != 8 && c->bits != 32)
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "kv cache: bits must be 4, 8 or 32 (float), got %d", c->bits);
  if (c->n_kv_heads < 1 || c->head_dim < 2 || c->head_dim % 2 || c->max_seq < 1)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "kv cache: bad geometry (kv heads %d, head_dim %d (even), "
                "max_seq %d)",
                c->n_kv_heads, c->head_dim, c->max_seq);
  if (!c->k_codes || !c->v_codes)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "kv cache: null storage");
  if (isFloatCache(c)) {
    // The storage is read and written as float.
    if ((uintptr_t)c->k_codes % alignof(float) ||
        (uintptr_t)c->v_codes % alignof(float))
      return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                  "kv cache: float (32-bit) storage must be 4-byte aligned");
    return RESPIN_RT_OK;
  }
  if (!c->k_scales || !c->v_scales || !c->k_zeros || !c->v_zeros)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "kv cache: null scales or zeros");
  return RESPIN_RT_OK;
}


int64_t codeBytes(const respin_rt_kv_cache *c) {
  return (int64_t)c->head_dim * c->bits / 8;
}

/// Quantizes one head vector into the cache slot (h, pos), or copies it for
/// a float cache.
void storeHead(const respin_rt_kv_cache *c, uint8_t *codes, float *scales,
               int32_t *zeros, int64_t h, int64_t pos, const float *x,
               float clip, uint8_t *tmp) {
  if (isFloatCache(c)) {
    float *dst = (float *)codes + (h * c->max_seq + pos) * c->head_dim;
    std::memcpy(dst, x, (size_t)c->head_dim * sizeof(float));
    return;
  }
  float scale;
  int32_t zero;
  activeKernels().quantizeRow(x, c->head_dim, c->bits, /*symmetric=*/false,
                              clip, c->head_dim, tmp, &scale, &zero);
  int64_t slot = h * c->max_seq + pos;
  uint8_t *dst = codes + slot * codeBytes(c);
  if (c->bits == 8) {
    std::memcpy(dst, tmp, c->head_dim);
  } else {
    for (int64_t i = 0; i < c->head_dim / 2; ++i)
      dst[i] = (uint8_t)(tmp[2 * i] | (tmp[2 * i + 1] << 4));
  }
  scales[slot] = scale;
  zeros[slot] = zero;
}



} // namespace

extern "C" {

size_t respin_rt_kv_cache_code_bytes(int bits, int64_t n_kv_heads,
                                     int64_t head_dim, int64_t max_seq) {
  if ((bits != 4 && bits != 8 && bits != 32) || n_kv_heads < 1 ||
      head_dim < 2 || head_dim % 2 || max_seq < 1)
    return 0;
  return (size_t)(n_kv_heads * max_seq * head_dim * bits / 8);
}

respin_rt_status respin_rt_kv_append(const respin_rt_kv_cache *cache,
                                     int64_t pos0, int64_t tokens,
                                     const float *k, int64_t k_stride,
                                     const float *v, int64_t v_stride,
                                     float clip) {
  if (respin_rt_status s = checkCache(cache))
    return s;
  int64_t width = (int64_t)cache->n_kv_heads * cache->head_dim;
  if (pos0 < 0 || tokens < 0 || pos0 + tokens > cache->max_seq)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "kv_append: positions [%" PRId64 ", %" PRId64
                ") outside the cache (max_seq %d)",
                pos0, pos0 + tokens, cache->max_seq);
  if (!k || !v || k_stride < width || v_stride < width)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "kv_append: null k/v or stride < n_kv_heads * head_dim");
  if (!(clip > 0.0f && clip <= 1.0f))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "kv_append: clip must be in (0, 1], got %g", clip);
  std::vector<uint8_t> tmp(cache->head_dim);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < cache->n_kv_heads; ++h) {
      storeHead(cache, cache->k_codes, cache->k_scales, cache->k_zeros, h,
                pos0 + t, k + t * k_stride + h * cache->head_dim, clip,
                tmp.data());
      storeHead(cache, cache->v_codes, cache->v_scales, cache->v_zeros, h,
                pos0 + t, v + t * v_stride + h * cache->head_dim, clip,
                tmp.data());
    }
  return ok();
}

respin_rt_status respin_rt_attention(const respin_rt_kv_cache *cache,
                                     int64_t pos0, int64_t tokens,
                                     const float *q, int64_t q_stride,
                                     int64_t n_heads, float scale, float *out,
                                     int64_t out_stride) {
  if (respin_rt_status s = checkCache(cache))
    return s;
  if (n_heads < 1 || n_heads % cache->n_kv_heads != 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "attention: %" PRId64 " query heads is not a multiple of %d "
                "KV heads",
                n_heads, cache->n_kv_heads);
  if (pos0 < 0 || tokens < 0 || pos0 + tokens > cache->max_seq)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "attention: positions [%" PRId64 ", %" PRId64
                ") outside the cache (max_seq %d)",
                pos0, pos0 + tokens, cache->max_seq);
  int64_t d = cache->head_dim, width = n_heads * d;
  if (!q || !out || q_stride < width || out_stride < width)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "attention: null q/out or stride < n_heads * head_dim");
  blockedAttention({cache, pos0, tokens, q, q_stride, n_heads, scale, out,
                    out_stride});
  return ok();
}

} // extern "C"
