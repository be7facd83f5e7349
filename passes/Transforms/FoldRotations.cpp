//===- FoldRotations.cpp - Absorb offline rotations into weights ----------===//
//
// With A the matrix an offline rotation applies to each row vector (x <- A x):
//   rotate(embedding(E))   -> table rows e <- A e
//   rotate(linear(x, W, b)) -> W <- A W, b <- A b
//   linear(rotate(x), W)    -> W <- W A   (each row w <- A^T w)
// A is I_blocks kron R (or R^T) for tfm.rotate and I kron H_n (or H_n^T) for
// offline tfm.hadamard, applied with the fast transform so that an 11008-wide
// Hadamard never becomes a dense matrix. All in float64.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Numerics/FastHadamard.h"
#include "respin/Transforms/Passes.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMFOLDROTATIONSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

/// An offline rotation as the map it applies to row vectors.
class OfflineRotation {
public:
  static FailureOr<OfflineRotation> get(Operation *op) {
    OfflineRotation rotation;
    if (auto rotate = dyn_cast<RotateOp>(op)) {
      FailureOr<Eigen::MatrixXd> matrix = readWeight(rotate.getRotation());
      if (failed(matrix))
        return failure();
      rotation.dense = std::move(*matrix);
      rotation.transpose = rotate.getTranspose();
      return rotation;
    }
    auto hadamard = cast<HadamardOp>(op);
    auto transform =
        respin::FastHadamardTransform::create(hadamard.getBlockSize());
    if (!transform)
      return hadamard.emitOpError() << llvm::toString(transform.takeError());
    rotation.hadamard.emplace(std::move(*transform));
    rotation.transpose = hadamard.getTranspose();
    return rotation;
  }

  /// Each row x of `rows` becomes A x (or A^T x with `inverse`).
  void applyToRows(Eigen::MatrixXd &rows, bool inverse) const {
    bool useTranspose = transpose != inverse;
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
        rowMajor = rows;
    if (hadamard) {
      // applyRows: X <- X H^T (each row <- H row); with transpose, X <- X H.
      hadamard->applyRows(
          llvm::MutableArrayRef<double>(rowMajor.data(), rowMajor.size()),
          useTranspose);
      rows = rowMajor;
      return;
    }
    int64_t n = dense.rows();
    for (int64_t block = 0; block * n < rows.cols(); ++block) {
      auto slice = rows.middleCols(block * n, n);
      if (useTranspose)
        slice = (slice * dense).eval();
      else
        slice = (slice * dense.transpose()).eval();
    }
  }

private:
  Eigen::MatrixXd dense;
  std::optional<respin::FastHadamardTransform> hadamard;
  bool transpose = false;
};

bool isOffline(Operation *op) {
  if (isa<RotateOp>(op))
    return true;
  auto hadamard = dyn_cast<HadamardOp>(op);
  return hadamard && !hadamard.getOnline();
}

struct FoldRotationsPass
    : tfm::impl::TfmFoldRotationsPassBase<FoldRotationsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    removeIdentityTransitions(module);
    SmallVector<Operation *> rotations;
    module.walk([&](Operation *op) {
      if (isOffline(op))
        rotations.push_back(op);
    });
    // Folding one rotation can make another foldable (it may now be the
    // only user of a linear), so sweep until nothing changes.
    bool changed = true;
    while (changed && !rotations.empty()) {
      changed = false;
      SmallVector<Operation *> remaining;
      for (Operation *op : rotations) {
        FailureOr<bool> folded = tryFold(op);
        if (failed(folded))
          return signalPassFailure();
        if (*folded)
          changed = true;
        else
          remaining.push_back(op);
      }
      rotations = std::move(remaining);
    }
    for (Operation *op : rotations)
      op->emitOpError("cannot be folded: it is neither applied to an "
                      "embedding or single-use linear nor read only by "
                      "linears");
    if (!rotations.empty())
      return signalPassFailure();
    eraseDeadWeights(module);
  }

  /// A transition between one basis and itself is the identity.
  void removeIdentityTransitions(ModuleOp module) {
    SmallVector<TransitionOp> identities;
    module.walk([&](TransitionOp transition) {
      auto from = transition.getFrom().getDefiningOp<ParamOp>();
      auto to = transition.getTo().getDefiningOp<ParamOp>();
      if (transition.getFrom() == transition.getTo() ||
          (from && to && from.getName() == to.getName()))
        identities.push_back(transition);
    });
    for (TransitionOp transition : identities) {
      transition.replaceAllUsesWith(transition.getInput());
      transition.erase();
    }
  }

  FailureOr<bool> tryFold(Operation *op) {
    Value input = op->getOperand(0), result = op->getResult(0);
    Operation *producer = input.getDefiningOp();
    bool producerOnlyFeedsThis = producer && input.hasOneUse();
    if (auto embedding = dyn_cast_or_null<EmbeddingOp>(producer);
        embedding && producerOnlyFeedsThis)
      return foldIntoEmbedding(op, embedding);
    if (auto linear = dyn_cast_or_null<LinearOp>(producer);
        linear && producerOnlyFeedsThis)
      return foldIntoProducer(op, linear);
    bool onlyLinearInputs = !result.use_empty();
    for (OpOperand &use : result.getUses())
      onlyLinearInputs &= isa<LinearOp>(use.getOwner()) &&
                          use.getOperandNumber() == 0;
    if (onlyLinearInputs)
      return foldIntoConsumers(op);
    return false;
  }

  FailureOr<bool> foldIntoEmbedding(Operation *op, EmbeddingOp embedding) {
    FailureOr<OfflineRotation> rotation = OfflineRotation::get(op);
    FailureOr<Eigen::MatrixXd> table = readWeight(embedding.getTable());
    if (failed(rotation) || failed(table))
      return failure();
    rotation->applyToRows(*table, /*inverse=*/false);
    if (failed(replaceWeight(embedding.getTableMutable(), *table, "rotated")))
      return failure();
    return finish(op, embedding.getResult());
  }

  FailureOr<bool> foldIntoProducer(Operation *op, LinearOp linear) {
    FailureOr<OfflineRotation> rotation = OfflineRotation::get(op);
    FailureOr<Eigen::MatrixXd> weight = readWeight(linear.getWeight());
    if (failed(rotation) || failed(weight))
      return failure();
    // W <- A W: the columns of W are row vectors of W^T.
    Eigen::MatrixXd columns = weight->transpose();
    rotation->applyToRows(columns, /*inverse=*/false);
    if (failed(replaceWeight(linear.getWeightMutable(), columns.transpose(),
                             "rotated")))
      return failure();
    if (linear.getBias()) {
      FailureOr<Eigen::MatrixXd> bias = readWeight(linear.getBias());
      if (failed(bias))
        return failure();
      Eigen::MatrixXd row = bias->transpose();
      rotation->applyToRows(row, /*inverse=*/false);
      if (failed(replaceWeight(linear.getBiasMutable()[0], row.transpose(),
                               "rotated")))
        return failure();
    }
    return finish(op, linear.getResult());
  }

  FailureOr<bool> foldIntoConsumers(Operation *op) {
    FailureOr<OfflineRotation> rotation = OfflineRotation::get(op);
    if (failed(rotation))
      return failure();
    for (Operation *user : llvm::make_early_inc_range(op->getUsers())) {
      auto linear = cast<LinearOp>(user);
      FailureOr<Eigen::MatrixXd> weight = readWeight(linear.getWeight());
      if (failed(weight))
        return failure();
      rotation->applyToRows(*weight, /*inverse=*/true); // W <- W A
      if (failed(replaceWeight(linear.getWeightMutable(), *weight, "rotated")))
        return failure();
    }
    return finish(op, op->getOperand(0));
  }

  bool finish(Operation *op, Value replacement) {
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
    return true;
  }
};

} // namespace
