//===- RotationLearning.h - The learning problem of rotated IR -*- C++ -*-===//
//
// Turns a forward function written by --tfm-insert-rotations (explicit
// tfm.rotate, tfm.hadamard and tfm.transition ops) into the executor-level
// RotationProblem: the program of the network as --tfm-fold-rotations would
// deploy it, with every embedding and linear weight described as the frozen
// float weight times the rotations that fold into it, and with the
// quantizers --tfm-quantize-activations would insert (its defaults: per
// token, asymmetric, clip 1, o_proj input per head; keys after RoPE and the
// online Hadamard and values per token per head, asymmetric).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TRANSFORMS_ROTATIONLEARNING_H
#define RESPIN_TRANSFORMS_ROTATIONLEARNING_H

#include "respin/Executor/RotationObjective.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tfm {

/// Bit widths of the quantizers present while learning (16: none).
struct LearningQuantization {
  int weightBits = 16;
  int activationBits = 4;
  int kvBits = 4;
};

/// A learning problem and the IR values its rotations came from.
struct LearnableRotations {
  respin::exec::RotationProblem problem;
  /// One IR value per rotation (parameters are identified by name).
  SmallVector<Value> rotationValues;
  /// The rotations as the IR holds them now (float64, orthogonal).
  std::vector<Eigen::MatrixXd> initial;
  int64_t numTransitions = 0;
};

/// Builds the problem of `func`. Errors (already quantized or approximated
/// IR, no rotations, a rotation that would not fold, a rotation that is not
/// orthogonal) are emitted on the offending op.
FailureOr<LearnableRotations>
buildLearnableRotations(func::FuncOp func,
                        const LearningQuantization &quantization);

/// Gives every rotation of `learnable` the value in `rotations`, under the
/// same name: parameters become pending tensors of their own element type,
/// constants are rewritten in place.
LogicalResult setRotations(func::FuncOp func,
                           const LearnableRotations &learnable,
                           const std::vector<Eigen::MatrixXd> &rotations);

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_ROTATIONLEARNING_H
