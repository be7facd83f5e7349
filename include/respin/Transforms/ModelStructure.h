//===- ModelStructure.h - The residual stream of a tfm function -*- C++ -*-===//
//
// The rotation passes reason about the residual stream: the embedding, then
// a chain of residual adds, each adding the output of one block (attention
// or MLP) to the stream. This analysis finds that chain in a forward
// function and names the pieces of every block.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TRANSFORMS_MODELSTRUCTURE_H
#define RESPIN_TRANSFORMS_MODELSTRUCTURE_H

#include "respin/Dialect/Tfm/IR/TfmOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tfm {

/// One residual block: stream -> norm -> ... -> output linear -> add.
struct ResidualBlock {
  enum class Kind { Attention, MLP, Other };
  Kind kind = Kind::Other;
  Value stream;        ///< the stream entering the block (skip input)
  RMSNormOp norm;      ///< the block's input norm
  LinearOp output;     ///< the linear whose result is added to the stream
  AddOp add;           ///< the residual add
  unsigned skipOperand = 0; ///< which operand of `add` is the skip path
  AttentionOp attention; ///< attention blocks: the attention op
};

/// The whole stream of a forward function.
struct ResidualStream {
  EmbeddingOp embedding;
  SmallVector<ResidualBlock> blocks;
  RMSNormOp finalNorm;
  SmallVector<LinearOp> heads; ///< linears reading the final norm (lm_head)
};

/// Finds the stream of `func`; emits an error naming the op where the
/// function departs from the LLaMA decoder shape.
FailureOr<ResidualStream> analyzeResidualStream(func::FuncOp func);

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_MODELSTRUCTURE_H
