//===- InsertRotations.cpp - Rotate the residual stream and the heads -----===//
//
// Writes the rotated model explicitly, op by op, so that each step is float
// exact and visible in the IR before --tfm-fold-rotations absorbs the
// offline rotations into the weights:
//   embedding -> rotate(B_0)                       (stream in basis B_0)
//   norm -> rotate(B_k, transpose) -> linears      (back to the weights' basis)
//   output linear -> rotate(B_k+1) -> add          (block output in B_k+1)
//   skip -> transition(B_k, B_k+1) -> add          (per-block mode only)
// RMSNorm without gain commutes with rotations, so the norms stay in place.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/Safetensors.h"
#include "respin/Numerics/Hadamard.h"
#include "respin/Numerics/Orthogonal.h"
#include "respin/Numerics/RandomOrthogonal.h"
#include "respin/Transforms/ModelStructure.h"
#include "respin/Transforms/Passes.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/IR/Builders.h"

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMINSERTROTATIONSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

/// Rotations read from an archive must be orthogonal to this (float32
/// storage of a learned rotation is orthogonal to about 1e-6).
constexpr double kArchiveOrthogonalityTolerance = 1e-4;

struct InsertRotationsPass
    : tfm::impl::TfmInsertRotationsPassBase<InsertRotationsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(checkOptions()))
      return signalPassFailure();
    WalkResult result = getOperation().walk([&](func::FuncOp func) {
      if (func.isDeclaration())
        return WalkResult::advance();
      return failed(rotate(func)) ? WalkResult::interrupt()
                                  : WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  LogicalResult checkOptions() {
    ModuleOp module = getOperation();
    if (mode != "global" && mode != "per-block")
      return module.emitError() << "unknown mode '" << mode
                                << "' (expected global or per-block)";
    if (init != "hadamard" && init != "random-hadamard" &&
        init != "random-orthogonal" && init != "archive")
      return module.emitError()
             << "unknown init '" << init
             << "' (expected hadamard, random-hadamard, random-orthogonal or "
                "archive)";
    if (init == "archive" && rotationsFile.empty())
      return module.emitError("init=archive needs rotations=<file>");
    if (init != "archive" && !rotationsFile.empty())
      return module.emitError("rotations=<file> is only used with init=archive");
    if (onlineHadamard != "none" && onlineHadamard != "qk" &&
        onlineHadamard != "down" && onlineHadamard != "both")
      return module.emitError() << "unknown online-hadamard '"
                                << onlineHadamard
                                << "' (expected none, qk, down or both)";
    if (init == "archive") {
      auto file = respin::SafetensorsFile::open(rotationsFile);
      if (!file)
        return module.emitError() << llvm::toString(file.takeError());
      archive = std::move(*file);
    }
    return success();
  }

  /// The initial rotation of size n called `name`; `stream` says whether it
  /// is a residual basis (all of which share one initialization).
  FailureOr<Eigen::MatrixXd> initialRotation(Operation *anchor, StringRef name,
                                             int64_t n, uint64_t stream) {
    llvm::Expected<Eigen::MatrixXd> matrix = Eigen::MatrixXd();
    if (init == "hadamard")
      matrix = respin::hadamardMatrix(n);
    else if (init == "random-hadamard")
      matrix = respin::randomHadamardMatrix(n, seed + stream);
    else if (init == "random-orthogonal")
      matrix = respin::randomOrthogonalMatrix(n, seed + stream);
    else
      return rotationFromArchive(anchor, name, n);
    if (!matrix)
      return anchor->emitError() << llvm::toString(matrix.takeError());
    return *matrix;
  }

  FailureOr<Eigen::MatrixXd> rotationFromArchive(Operation *anchor,
                                                 StringRef name, int64_t n) {
    const respin::TensorView *tensor = archive->lookup(name);
    if (!tensor)
      return anchor->emitError() << rotationsFile << ": no rotation '" << name
                                 << "'";
    if (tensor->shape != std::vector<int64_t>{n, n})
      return anchor->emitError()
             << rotationsFile << ": rotation '" << name << "' is "
             << respin::formatShape(tensor->shape) << ", expected [" << n
             << ", " << n << "]";
    std::vector<double> values = tensor->toFloat64();
    Eigen::MatrixXd matrix = Eigen::Map<const Eigen::Matrix<
        double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        values.data(), n, n);
    if (!matrix.allFinite())
      return anchor->emitError() << rotationsFile << ": rotation '" << name
                                 << "' has NaN or Inf entries";
    double error = respin::orthogonalityError(matrix);
    if (error > kArchiveOrthogonalityTolerance)
      return anchor->emitError()
             << rotationsFile << ": rotation '" << name
             << "' is not orthogonal (max |R^T R - I| = " << error << ")";
    return matrix;
  }

  /// Creates the rotation parameter at the start of the function.
  FailureOr<Value> makeRotation(func::FuncOp func, StringRef name, int64_t n,
                                uint64_t stream) {
    FailureOr<Eigen::MatrixXd> matrix =
        initialRotation(func, name, n, stream);
    if (failed(matrix))
      return failure();
    OpBuilder builder = OpBuilder::atBlockBegin(&func.getBody().front());
    return createWeight(builder, NameLoc::get(builder.getStringAttr(name)),
                        name, *matrix, {n, n}, builder.getF64Type(),
                        usesParameters(func));
  }

  /// Inserts `build(value)` right after `value`'s definition and routes
  /// every other use of `value` through it.
  template <typename BuildFn>
  void interpose(Value value, BuildFn build) {
    OpBuilder builder(value.getContext());
    builder.setInsertionPointAfterValue(value);
    Value replacement = build(builder, value);
    value.replaceAllUsesExcept(replacement, replacement.getDefiningOp());
  }

  Value rotateValue(OpBuilder &builder, Value input, Value rotation,
                    int64_t blocks, bool transpose) {
    auto op = builder.create<RotateOp>(input.getLoc(), input.getType(), input,
                                       rotation, blocks, transpose);
    return op.getResult();
  }

  LogicalResult rotate(func::FuncOp func) {
    bool hasGain = false;
    func.walk([&](RMSNormOp norm) {
      if (norm.getGain()) {
        norm.emitError("rms_norm still has a gain: run --tfm-fuse-norms "
                       "before --tfm-insert-rotations");
        hasGain = true;
      }
    });
    if (hasGain)
      return failure();
    FailureOr<ResidualStream> stream = analyzeResidualStream(func);
    if (failed(stream))
      return failure();
    int64_t dim =
        cast<ShapedType>(stream->embedding.getType()).getDimSize(1);

    // Bases B_0 .. B_n of the stream segments (n = number of blocks).
    size_t numBlocks = stream->blocks.size();
    SmallVector<Value> bases;
    if (mode == "global") {
      FailureOr<Value> r1 = makeRotation(func, "rotation.r1", dim, 0);
      if (failed(r1))
        return failure();
      bases.assign(numBlocks + 1, *r1);
    } else {
      for (size_t k = 0; k <= numBlocks; ++k) {
        std::string name =
            k == numBlocks ? std::string("rotation.final")
                           : "rotation.layers." + std::to_string(k / 2) +
                                 (k % 2 == 0 ? ".r1" : ".r2");
        // Stream 0 for all: every basis starts from the same matrix, so the
        // transitions start at the identity.
        FailureOr<Value> basis = makeRotation(func, name, dim, 0);
        if (failed(basis))
          return failure();
        bases.push_back(*basis);
      }
    }

    interpose(stream->embedding.getResult(), [&](OpBuilder &b, Value v) {
      return rotateValue(b, v, bases[0], 1, false);
    });
    int64_t layer = 0;
    for (size_t k = 0; k < numBlocks; ++k) {
      ResidualBlock &block = stream->blocks[k];
      interpose(block.norm.getResult(), [&](OpBuilder &b, Value v) {
        return rotateValue(b, v, bases[k], 1, true);
      });
      if (block.kind == ResidualBlock::Kind::Attention) {
        if (failed(rotateAttention(func, block.attention, layer++)))
          return failure();
      } else if (block.kind == ResidualBlock::Kind::MLP &&
                 (onlineHadamard == "down" || onlineHadamard == "both")) {
        if (failed(insertDownHadamard(block.output)))
          return failure();
      }
      interpose(block.output.getResult(), [&](OpBuilder &b, Value v) {
        return rotateValue(b, v, bases[k + 1], 1, false);
      });
      if (bases[k] != bases[k + 1]) {
        OpBuilder builder(block.add);
        // The stream values were rerouted through rotations above, so use
        // the operand position found before any rewriting.
        unsigned skipIndex = block.skipOperand;
        Value skip = block.add->getOperand(skipIndex);
        auto transition = builder.create<TransitionOp>(
            block.add.getLoc(), skip.getType(), skip, bases[k], bases[k + 1]);
        block.add->setOperand(skipIndex, transition.getResult());
      }
    }
    interpose(stream->finalNorm.getResult(), [&](OpBuilder &b, Value v) {
      return rotateValue(b, v, bases[numBlocks], 1, true);
    });
    return success();
  }

  /// Head rotation on v_proj outputs / o_proj inputs, online Hadamards on
  /// q and k.
  LogicalResult rotateAttention(func::FuncOp func, AttentionOp attention,
                                int64_t layer) {
    int64_t headDim = attention.getHeadDim();
    if (headRotation) {
      std::string name = "rotation.layers." + std::to_string(layer) + ".head";
      // Head rotations never meet a residual add, so each layer may have its
      // own random draw.
      FailureOr<Value> head = makeRotation(func, name, headDim, 1 + layer);
      if (failed(head))
        return failure();
      auto valueProj = attention.getValue().getDefiningOp<LinearOp>();
      if (!valueProj)
        return attention.emitOpError(
            "value is not produced by a linear: cannot rotate the heads");
      interpose(valueProj.getResult(), [&](OpBuilder &b, Value v) {
        return rotateValue(b, v, *head, attention.getNumKvHeads(), false);
      });
      interpose(attention.getResult(), [&](OpBuilder &b, Value v) {
        return rotateValue(b, v, *head, attention.getNumHeads(), true);
      });
    }
    if (onlineHadamard == "qk" || onlineHadamard == "both") {
      if (!respin::isSupportedHadamardSize(headDim))
        return attention.emitOpError()
               << llvm::toString(respin::getHadamardSplit(headDim).takeError());
      OpBuilder builder(attention);
      for (unsigned index : {0u, 1u}) {
        Value input = attention->getOperand(index);
        auto hadamard = builder.create<HadamardOp>(
            attention.getLoc(), input.getType(), input, headDim,
            /*transpose=*/false, /*online=*/true);
        attention->setOperand(index, hadamard.getResult());
      }
    }
    return success();
  }

  /// x -> H x (online) -> H^T (H x) (offline, folded into W_down later).
  LogicalResult insertDownHadamard(LinearOp down) {
    Value input = down.getInput();
    int64_t size = cast<ShapedType>(input.getType()).getDimSize(1);
    if (!respin::isSupportedHadamardSize(size))
      return down.emitOpError()
             << "cannot add the down_proj Hadamard: "
             << llvm::toString(respin::getHadamardSplit(size).takeError());
    OpBuilder builder(down);
    auto online = builder.create<HadamardOp>(down.getLoc(), input.getType(),
                                             input, size, false, true);
    auto inverse = builder.create<HadamardOp>(
        down.getLoc(), input.getType(), online.getResult(), size, true, false);
    down.getInputMutable().set(inverse.getResult());
    return success();
  }

  // Shared so the pass stays copyable (the pass manager clones passes).
  std::shared_ptr<respin::SafetensorsFile> archive;
};

} // namespace
