//===- QuantizationTargets.h - Which linears get quantized -----*- C++ -*-===//
//
// The quantization passes select linears by their role in the decoder
// (EVALUATION.md: q, k, v, o, gate, up, down are quantized; the embedding and
// lm_head stay float). Roles are found from the graph, not from parameter
// names, so rotated and renamed models classify the same way: a linear whose
// result reaches an attention's query/key/value operand, the gate or up
// operand of a silu_mul, or a residual add (o when the add's block is an
// attention, down when it is an MLP), or the function's result (lm_head).
// Online Hadamards, rotations, RoPE and fake quantizers on the way are looked
// through.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TRANSFORMS_QUANTIZATIONTARGETS_H
#define RESPIN_TRANSFORMS_QUANTIZATIONTARGETS_H

#include "respin/Dialect/Tfm/IR/TfmOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>

namespace mlir::tfm {

enum class LinearRole {
  Query,
  Key,
  Value,
  Output,
  Gate,
  Up,
  Down,
  LMHead,
  Unknown
};

/// "q", "k", "v", "o", "gate", "up", "down", "lm_head", "unknown".
StringRef linearRoleName(LinearRole role);

/// The bit width that means "not quantized" in the quantization options.
constexpr int kOffBits = 16;

/// An option value as a user would type it ("0.5", not "5.000000e-01").
std::string formatOptionNumber(double value);

/// A linear of the forward function with its role and decoder layer. (Op
/// handles are mutable: MLIR's accessors are non-const.)
struct LinearTarget {
  mutable LinearOp op;
  LinearRole role = LinearRole::Unknown;
  int64_t layer = -1;            ///< -1 outside the decoder layers
  mutable AttentionOp attention; ///< q/k/v/o: the attention op it serves
  std::string name; ///< weight parameter name, else layers.<i>.<role>
};

/// Every linear of `func` in program order.
SmallVector<LinearTarget> classifyLinears(func::FuncOp func);

/// The roles named by a comma-separated list such as "q,k,v,o,gate,up,down"
/// (also "all-decoder" for those seven, and "lm_head"); errors on `anchor`
/// name the option `option` and the bad entry.
FailureOr<SmallVector<LinearRole>>
parseLinearRoles(StringRef list, StringRef option, Operation *anchor);

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_QUANTIZATIONTARGETS_H
