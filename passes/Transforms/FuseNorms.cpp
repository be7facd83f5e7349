//===- FuseNorms.cpp - Fold RMSNorm gains into the following linears ------===//
//
// y = W (g * n) = (W diag(g)) n, so a gain can move into every linear that
// reads the norm. A linear sharing its weight with the embedding (tied
// lm_head) first gets a weight of its own: scaling the shared table would
// change the embedding too.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Transforms/Passes.h"
#include "respin/Transforms/WeightAccess.h"

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMFUSENORMSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

/// Whether `weight` is also read as an embedding table.
bool isSharedWithEmbedding(Value weight, ModuleOp module) {
  auto param = weight.getDefiningOp<ParamOp>();
  bool shared = false;
  module.walk([&](EmbeddingOp embedding) {
    Value table = embedding.getTable();
    auto tableParam = table.getDefiningOp<ParamOp>();
    if (table == weight ||
        (param && tableParam && tableParam.getName() == param.getName()))
      shared = true;
  });
  return shared;
}

/// Gives `linear` its own copy of a weight it shares with the embedding.
LogicalResult untie(LinearOp linear, ModuleOp module) {
  FailureOr<Eigen::MatrixXd> weight = readWeight(linear.getWeight());
  if (failed(weight))
    return failure();
  OpBuilder builder(linear);
  auto type = cast<RankedTensorType>(linear.getWeight().getType());
  linear.getWeightMutable().set(createWeight(
      builder, linear.getLoc(), "lm_head.weight", *weight, type.getShape(),
      builder.getF32Type(), usesParameters(linear)));
  return success();
}

struct FuseNormsPass : tfm::impl::TfmFuseNormsPassBase<FuseNormsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<RMSNormOp> norms;
    module.walk([&](RMSNormOp norm) {
      if (norm.getGain())
        norms.push_back(norm);
    });
    for (RMSNormOp norm : norms)
      if (failed(fuse(norm, module)))
        return signalPassFailure();
    eraseDeadWeights(module);
  }

  LogicalResult fuse(RMSNormOp norm, ModuleOp module) {
    SmallVector<LinearOp> linears;
    for (OpOperand &use : norm->getUses()) {
      auto linear = dyn_cast<LinearOp>(use.getOwner());
      if (!linear || use.getOperandNumber() != 0) {
        // Leaving the gain in place is still correct, just not fused.
        norm.emitRemark("gain not fused: the norm feeds ")
            << use.getOwner()->getName() << ", not only linears";
        return success();
      }
      linears.push_back(linear);
    }
    FailureOr<Eigen::MatrixXd> gain = readWeight(norm.getGain());
    if (failed(gain))
      return failure();
    for (LinearOp linear : linears) {
      if (isSharedWithEmbedding(linear.getWeight(), module) &&
          failed(untie(linear, module)))
        return failure();
      FailureOr<Eigen::MatrixXd> weight = readWeight(linear.getWeight());
      if (failed(weight))
        return failure();
      Eigen::MatrixXd scaled = *weight * gain->col(0).asDiagonal();
      if (failed(replaceWeight(linear.getWeightMutable(), scaled, "fused")))
        return failure();
    }
    norm.getGainMutable().clear();
    return success();
  }
};

} // namespace
