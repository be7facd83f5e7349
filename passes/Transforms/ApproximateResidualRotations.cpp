//===- ApproximateResidualRotations.cpp - Rank-r skip transitions ---------===//
//
// The matching-basis rule: each transition is approximated against the basis
// the stream is actually in (the realized one, after earlier
// approximations), and the approximation defines the basis the stream is in
// afterwards. Every later use of the learned target basis is redirected to
// the realized one, so the float model stays exact and the approximation
// error never compounds across layers.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Numerics/ResidualApproximation.h"
#include "respin/Transforms/Passes.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMAPPROXIMATERESIDUALROTATIONSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

std::string nameOf(Value weight, int64_t index, StringRef fallback) {
  if (auto param = weight.getDefiningOp<ParamOp>())
    return param.getName().str();
  return (fallback + llvm::Twine(index)).str();
}

struct ApproximateResidualRotationsPass
    : tfm::impl::TfmApproximateResidualRotationsPassBase<
          ApproximateResidualRotationsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::json::Array entries;
    WalkResult walk = module.walk([&](func::FuncOp func) {
      SmallVector<TransitionOp> transitions;
      func.walk([&](TransitionOp op) { transitions.push_back(op); });
      for (auto [index, transition] : llvm::enumerate(transitions))
        if (failed(approximate(transition, index, entries)))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    eraseDeadWeights(module);
    if (!report.empty() && failed(writeReport(std::move(entries))))
      return signalPassFailure();
  }

  LogicalResult approximate(TransitionOp transition, int64_t index,
                            llvm::json::Array &entries) {
    FailureOr<Eigen::MatrixXd> from = readWeight(transition.getFrom());
    FailureOr<Eigen::MatrixXd> to = readWeight(transition.getTo());
    if (failed(from) || failed(to))
      return failure();
    int64_t dim = from->rows();
    if (rank < 0 || rank > dim || rank % 2 != 0)
      return transition.emitOpError()
             << "rank " << int64_t(rank) << " is invalid for a " << dim << "x" << dim
             << " transition (it must be even and between 0 and " << dim
             << ")";
    Eigen::MatrixXd target = *to * from->transpose();
    auto approximation = respin::approximateResidualTransition(target, rank);
    if (!approximation)
      return transition.emitOpError()
             << llvm::toString(approximation.takeError());
    Eigen::MatrixXd realized = approximation->approximation * *from;

    std::string targetName = nameOf(transition.getTo(), index, "basis.");
    entries.push_back(llvm::json::Object{
        {"transition", index},
        {"from", nameOf(transition.getFrom(), index, "basis.")},
        {"to", targetName},
        {"rank", int64_t(rank)},
        {"frobenius_error", approximation->frobeniusError},
        {"target_distance_from_identity",
         (target - Eigen::MatrixXd::Identity(dim, dim)).norm()},
        {"realized_basis_error", (realized - *to).norm()},
    });

    // Redirect every use of the learned basis to the realized one.
    OpBuilder builder(transition);
    Operation *toDef = transition.getTo().getDefiningOp();
    if (toDef)
      builder.setInsertionPointAfter(toDef);
    bool asParameter = usesParameters(transition);
    Type f64 = builder.getF64Type();
    Value realizedValue =
        createWeight(builder, transition.getLoc(), targetName + ".realized",
                     realized, {dim, dim}, f64, asParameter);
    Value oldTarget = transition.getTo();

    builder.setInsertionPoint(transition);
    Value replacement = transition.getInput();
    if (rank > 0) {
      std::string prefix = "rotation.adapter." + std::to_string(index);
      Value basis = createWeight(builder, transition.getLoc(), prefix + ".q",
                                 approximation->q, {dim, rank}, f64,
                                 asParameter);
      Value update = createWeight(builder, transition.getLoc(), prefix + ".m",
                                  approximation->m, {rank, rank}, f64,
                                  asParameter);
      replacement = builder.create<ResidualAdapterOp>(
          transition.getLoc(), transition.getType(), transition.getInput(),
          basis, update);
    }
    transition.replaceAllUsesWith(replacement);
    transition.erase();
    oldTarget.replaceAllUsesWith(realizedValue);
    return success();
  }

  LogicalResult writeReport(llvm::json::Array entries) {
    llvm::json::Object root{{"pass", "tfm-approximate-residual-rotations"},
                            {"rank", int64_t(rank)},
                            {"transitions", std::move(entries)}};
    std::string text =
        llvm::formatv("{0:2}", llvm::json::Value(std::move(root))).str();
    if (llvm::Error error = writePassOutput(
            &getContext(), report,
            "report of --tfm-approximate-residual-rotations",
            [&](llvm::raw_ostream &os) {
              os << text << "\n";
              return llvm::Error::success();
            })) {
      getOperation().emitError() << llvm::toString(std::move(error));
      return failure();
    }
    return success();
  }
};

} // namespace
