//===- Kernels.h - Float reference kernels of the executor -----*- C++ -*-===//
//
// One function per instruction kind, written for clarity and exactness
// (double accumulation where a sum feeds a normalisation). These are the
// oracle that optimised and compiled code is compared against.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_EXECUTOR_KERNELS_H
#define RESPIN_EXECUTOR_KERNELS_H

#include "respin/Executor/Program.h"

#include "llvm/ADT/ArrayRef.h"

namespace respin::exec {

/// out.row(i) = gain * x.row(i) / sqrt(mean(x.row(i)^2) + epsilon).
void rmsNorm(const RowMatrix &x, const Weight *gain, float epsilon,
             RowMatrix &out);

/// out = x W^T (+ bias).
void linear(const RowMatrix &x, const Weight &weight, const Weight *bias,
            RowMatrix &out);

/// Rotates the rotary pairs of every head of row i by positions[i] * freq.
void rope(const RowMatrix &x, llvm::ArrayRef<int32_t> positions,
          const RopeParams &params, RowMatrix &out);

/// Causal grouped-query attention of `query` rows placed after
/// `cachedRows` earlier rows; `keys`/`values` hold cachedRows + query rows
/// rows of width numKVHeads * headDim.
void attention(const RowMatrix &query, const float *keys, const float *values,
               int64_t cachedRows, const AttentionParams &params,
               RowMatrix &out);

/// out.row(i) = (I_blocks kron R) x.row(i) (R^T with `transpose`).
void rotate(const RowMatrix &x, const Weight &rotation, int64_t blocks,
            bool transpose, RowMatrix &out);

/// out.row(i) = (I kron H_n) x.row(i) (H_n^T with `transpose`).
void hadamard(const RowMatrix &x, const FastHadamardTransform &transform,
              bool transpose, RowMatrix &out);

/// out = h + Q (M (Q^T h)) row by row.
void residualAdapter(const RowMatrix &h, const Weight &basis,
                     const Weight &update, RowMatrix &out);

/// out = silu(gate) * up.
void siluMul(const RowMatrix &gate, const RowMatrix &up, RowMatrix &out);

/// out = dequantize(quantize(x)) row by row with the runtime's activation
/// quantizer (codes bit-identical to respin_rt_quantize_rows).
void fakeQuant(const RowMatrix &x, const FakeQuantParams &params,
               RowMatrix &out);

} // namespace respin::exec

#endif // RESPIN_EXECUTOR_KERNELS_H
