//===- Adapter.cpp - Rank-r residual adapter entry point -------------------===//
//
// h <- h + Q (M (Q^T h)) + add for each row: the ReSpinQuant skip-path
// transition fused with the block output's residual add, so the residual
// stream is read and written once.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "ThreadPool.h"

#include <cinttypes>
#include <vector>

using namespace respin::rt;

extern "C" respin_rt_status
respin_rt_residual_adapter(float *h, int64_t h_stride, const float *add,
                           int64_t add_stride, int64_t rows, int64_t d,
                           int64_t r, const float *q_t,
                           const float *m_core) {
  if (rows < 0 || d < 1 || r < 0 || r > d)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: bad shape rows %" PRId64 " d %" PRId64
                " r %" PRId64,
                rows, d, r);
  if (!h || (r > 0 && (!q_t || !m_core)))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: null pointer");
  if (h_stride < d || (add && add_stride < d))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "residual_adapter: stride smaller than d");
  AdapterRowFn fn = activeKernels().adapterRow;
  std::vector<float> scratch(2 * r + 16);
  for (int64_t i = 0; i < rows; ++i) {
    float *row = h + i * h_stride;
    const float *addRow = add ? add + i * add_stride : nullptr;
    if (r == 0) {
      // T^ = I: only the residual add remains.
      if (addRow)
        for (int64_t c = 0; c < d; ++c)
          row[c] = row[c] + addRow[c];
      continue;
    }
    fn(row, addRow, d, r, q_t, m_core, scratch.data());
  }
  return ok();
}
