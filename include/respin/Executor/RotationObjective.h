//===- RotationObjective.h - Loss of a folded network and its rotations -*- C++
//-*-===//
//
// The objective of rotation learning: the next-token loss of the network
// that will be deployed, as a function of its rotation matrices. The folded
// program has no offline rotations left; instead every embedding and linear
// weight is rebuilt at each evaluation from its frozen float weight and the
// current rotations, in float64:
//   W' = Out_k ... Out_1 W In_1 ... In_m
// where each factor is the map x <- F x of one offline tfm.rotate (I_b kron R
// or its transpose) or offline tfm.hadamard (fixed), and dense skip
// transitions are T = R_to R_from^T. The program already holds the
// activation and KV-cache quantizers at the folded positions; weights can be
// fake-quantized too (per output channel, symmetric, RTN with clip search;
// straight-through: the gradient of W' is that of its quantized value).
//
// Gradients come from the Tape (Backward.h) and are chained to the
// rotations: for W' = P F Q, dL/dF = P^T (dL/dW') Q^T, summed over the
// diagonal blocks of I_b kron R; for T = R_to R_from^T,
// dL/dR_to += dL/dT R_from and dL/dR_from += (dL/dT)^T R_to.
//
// Windows are evaluated in parallel, each into its own slot, and the slots
// are summed in window order: results do not depend on the thread count.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_EXECUTOR_ROTATIONOBJECTIVE_H
#define RESPIN_EXECUTOR_ROTATIONOBJECTIVE_H

#include "respin/Executor/Backward.h"

#include <Eigen/Dense>

#include <memory>
#include <string>
#include <vector>

namespace respin::exec {

/// One factor x <- F x of a folded weight.
struct FoldFactor {
  int rotation = -1;      ///< learned rotation index; -1 for a fixed Hadamard
  int64_t blocks = 1;     ///< F = I_blocks kron R
  bool transpose = false; ///< R^T (or H^T) instead of R
  const FastHadamardTransform *hadamard = nullptr; ///< the fixed factor
  /// H_n as a matrix, when small enough (kDenseHadamardLimit) to multiply
  /// faster than the fast transform's K x K loops.
  Eigen::MatrixXd denseHadamard;
};

/// A weight rebuilt from rotations: W' = Out_k..Out_1 W In_1..In_m. For an
/// embedding, `frozen` is the transposed table E^T ([dim, vocab]) so that
/// the rule rows e <- F e is the same output-side product.
struct FoldedWeight {
  int instruction = -1; ///< Linear or Embedding instruction of the program
  std::string name;     ///< parameter name, for diagnostics
  bool embedding = false;
  Eigen::MatrixXd frozen;
  Eigen::MatrixXd frozenBias;     ///< [out, 1] or empty
  std::vector<FoldFactor> output; ///< Out_1 (nearest the weight) first
  std::vector<FoldFactor> input;  ///< In_1 (nearest the weight) first
  bool quantize = false;          ///< fake-quantize W' (when weight bits < 16)
};

/// A dense skip transition T = R_to R_from^T (a Rotate instruction).
struct TransitionWeight {
  int instruction = -1;
  int from = -1, to = -1;
};

/// Everything the objective needs; built from IR by the learning pass.
struct RotationProblem {
  Program program; ///< folded, quantizers inserted (move-only: pointers)
  std::vector<std::string> rotationNames;
  std::vector<FoldedWeight> folded;
  std::vector<TransitionWeight> transitions;
  int weightBits = 16; ///< for FoldedWeight::quantize

  RotationProblem() = default;
  RotationProblem(RotationProblem &&) = default;
  RotationProblem &operator=(RotationProblem &&) = default;
  RotationProblem(const RotationProblem &) = delete;
};

/// The loss over windows and its gradient with respect to each rotation.
struct ObjectiveValue {
  double loss = 0;    ///< mean next-token NLL over all predicted tokens
  int64_t tokens = 0; ///< predicted tokens
  std::vector<Eigen::MatrixXd> gradients; ///< per rotation (when requested)
};

/// Evaluates a RotationProblem in scalar type T (float for learning,
/// double for gradient checks).
template <typename T> class RotationObjective {
public:
  /// `threads` = 0: one per hardware thread.
  RotationObjective(const RotationProblem &problem, unsigned threads);
  ~RotationObjective();

  /// Loss of the windows (each a fresh sequence) under `rotations`, with
  /// the gradient when `withGradient`.
  llvm::Expected<ObjectiveValue>
  evaluate(const std::vector<Eigen::MatrixXd> &rotations,
           llvm::ArrayRef<std::vector<int32_t>> windows, bool withGradient);

  /// The weights of the last evaluation (e.g. to compare with the executor).
  const ProgramWeights<T> &currentWeights() const { return weights; }

private:
  struct Partials; ///< the per-weight products kept for the chain rule
  llvm::Error fold(const std::vector<Eigen::MatrixXd> &rotations);
  void chainToRotations(const std::vector<Eigen::MatrixXd> &rotations,
                        const WeightGradients<double> &grads,
                        std::vector<Eigen::MatrixXd> &out) const;

  const RotationProblem &problem;
  unsigned threads;
  ProgramWeights<T> weights;
  std::vector<Partials> partials;
};

} // namespace respin::exec

#endif // RESPIN_EXECUTOR_ROTATIONOBJECTIVE_H
