//===- AttentionBlocks.h - Blocked causal attention -------------*- C++ -*-===//

#ifndef RESPIN_LIB_RUNTIME_ATTENTIONBLOCKS_H
#define RESPIN_LIB_RUNTIME_ATTENTIONBLOCKS_H

#include "respin/Runtime/respin_rt.h"

namespace respin::rt {

/// A validated respin_rt_attention call.
struct AttentionShape {
  const respin_rt_kv_cache *cache;
  int64_t pos0, tokens;
  const float *q;
  int64_t qStride, nHeads;
  float scale;
  float *out;
  int64_t outStride;
};

void blockedAttention(const AttentionShape &shape);

/// The softmax's exp, for x <= 0 (exposed for its accuracy test).
float attentionExp(float x);

} // namespace respin::rt

#endif
