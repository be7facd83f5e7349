//===- QuantizeWeights.cpp - RTN / GPTQ weight quantization ---------------===//
//
// Each selected linear's weight becomes tfm.dequantize(codes, scales[,
// zeros]) with the codes and scales as new archive tensors (or constants in
// modules without an archive). GPTQ quantizes stage by stage in program
// order, a stage being the linears that read one value (q/k/v, o, gate/up,
// down), sharing one Hessian. The calibration windows make one pass through
// the network (CalibrationStream): they advance to each stage's input
// through the linears already quantized, so each Hessian sees the model with
// all earlier linears quantized.
//
//===----------------------------------------------------------------------===//

#include "GPTQProgress.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Quantization/GPTQ.h"
#include "respin/Transforms/CalibrationRunner.h"
#include "respin/Transforms/LayerwiseCalibration.h"
#include "respin/Transforms/Passes.h"
#include "respin/Transforms/QuantizationTargets.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <cstdio>

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMQUANTIZEWEIGHTSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;
namespace quant = respin::quant;

namespace {

/// Row-major float copy of a weight read in double (exact for f32/f16/bf16).
std::vector<float> toFloat(const Eigen::MatrixXd &weight) {
  std::vector<float> values(weight.size());
  for (int64_t r = 0; r < weight.rows(); ++r)
    for (int64_t c = 0; c < weight.cols(); ++c)
      values[r * weight.cols() + c] = float(weight(r, c));
  return values;
}

/// A new weight operand holding `bytes` (i8) or `floats` (f32).
Value createTensor(OpBuilder &builder, Location loc, bool asParameter,
                   StringRef name, ArrayRef<int64_t> shape,
                   ArrayRef<int8_t> bytes, ArrayRef<float> floats) {
  bool isInt = floats.empty();
  Type element =
      isInt ? Type(builder.getIntegerType(8)) : Type(builder.getF32Type());
  auto type = RankedTensorType::get(shape, element);
  if (!asParameter) {
    if (isInt)
      return builder.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(type, bytes));
    return builder.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(type, floats));
  }
  auto module =
      builder.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  std::string unique = uniqueParameterName(module, name);
  respin::ParameterSet &parameters = getParameterSet(builder.getContext());
  if (isInt)
    parameters.setPending(unique, respin::DType::I8, shape,
                          std::vector<uint8_t>(bytes.begin(), bytes.end()));
  else
    parameters.setPending(unique, shape, floats);
  return builder.create<ParamOp>(loc, type, builder.getStringAttr(unique));
}

struct QuantizeWeightsPass
    : tfm::impl::TfmQuantizeWeightsPassBase<QuantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (bits == kOffBits)
      return; // 16 bits: weights stay float
    if (failed(checkOptions()))
      return signalPassFailure();
    FailureOr<SmallVector<LinearRole>> roles =
        parseLinearRoles(linears, "linears", module);
    if (failed(roles))
      return signalPassFailure();
    WalkResult result = module.walk([&](func::FuncOp func) {
      if (func.isDeclaration())
        return WalkResult::advance();
      return failed(quantizeFunction(func, *roles)) ? WalkResult::interrupt()
                                                    : WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    eraseDeadWeights(module);
    if (!report.empty() && failed(writeReport()))
      return signalPassFailure();
  }

  LogicalResult checkOptions() {
    ModuleOp module = getOperation();
    auto fail = [&]() { return module.emitError(); };
    if (method != "rtn" && method != "gptq")
      return fail() << "unknown method '" << std::string(method)
                    << "' (expected rtn or gptq)";
    if (bits < 2 || bits > 8)
      return fail() << "bits=" << int(bits)
                    << " is not supported (expected 2..8, or 16 for no "
                       "quantization)";
    if (groupSize < 0)
      return fail() << "group-size=" << int64_t(groupSize)
                    << " must be 0 (per output channel) or positive";
    if (clipSearch && (clipGrid < 1 || !(clipMaxShrink > 0.0) ||
                       !(clipMaxShrink < 1.0) || !(clipNorm > 0.0)))
      return fail() << "clip-search needs clip-grid >= 1, 0 < clip-max-shrink "
                       "< 1 and clip-norm > 0 (got "
                    << int(clipGrid) << ", " << formatOptionNumber(clipMaxShrink) << ", "
                    << formatOptionNumber(clipNorm) << ")";
    bool gptq = method == "gptq";
    if (!gptq) {
      if (!calibFile.empty())
        return fail() << "calib-file is only used with method=gptq";
      if (actOrder)
        return fail() << "act-order is only used with method=gptq";
      return success();
    }
    if (calibFile.empty())
      return fail() << "method=gptq needs calib-file=<text> (calibration "
                       "text; never the evaluation text)";
    if (!(damp >= 0.0))
      return fail() << "damp=" << formatOptionNumber(damp) << " must be >= 0";
    if (blockSize < 1)
      return fail() << "block-size=" << int64_t(blockSize)
                    << " must be positive";
    if (calibSamples < 1 || calibSeqLen < 2)
      return fail() << "calibration needs calib-samples >= 1 and "
                       "calib-seq-len >= 2 (got "
                    << int64_t(calibSamples) << ", " << int64_t(calibSeqLen)
                    << ")";
    return success();
  }

  quant::WeightQuantSpec spec() const {
    quant::WeightQuantSpec s;
    s.bits = bits;
    s.groupSize = groupSize;
    s.symmetric = symmetric;
    return s;
  }

  quant::ClipSearch clipOptions() const {
    quant::ClipSearch c;
    c.enabled = clipSearch;
    c.grid = clipGrid;
    c.maxShrink = clipMaxShrink;
    c.norm = clipNorm;
    return c;
  }

  /// The selected linears, checked before any weight changes.
  FailureOr<SmallVector<LinearTarget>>
  selectTargets(func::FuncOp func, ArrayRef<LinearRole> roles) {
    SmallVector<LinearTarget> selected;
    for (const LinearTarget &target : classifyLinears(func)) {
      if (!llvm::is_contained(roles, target.role))
        continue;
      Value weight = target.op.getWeight();
      if (weight.getDefiningOp<DequantizeOp>())
        return target.op.emitError()
               << target.name
               << " is already quantized (its weight is a tfm.dequantize)";
      if (!weight.getDefiningOp<ParamOp>() &&
          !weight.getDefiningOp<arith::ConstantOp>())
        return target.op.emitError()
               << "cannot quantize " << target.name
               << ": its weight is not a tfm.param or arith.constant";
      int64_t cols = cast<ShapedType>(weight.getType()).getDimSize(1);
      if (groupSize > 0 && cols % groupSize != 0)
        return target.op.emitError()
               << "group-size " << int64_t(groupSize) << " does not divide the "
               << cols << " input columns of " << target.name;
      selected.push_back(target);
    }
    return selected;
  }

  LogicalResult quantizeFunction(func::FuncOp func,
                                 ArrayRef<LinearRole> roles) {
    FailureOr<SmallVector<LinearTarget>> targets = selectTargets(func, roles);
    if (failed(targets))
      return failure();
    if (method == "rtn") {
      for (const LinearTarget &target : *targets)
        if (failed(quantizeRTN(target)))
          return failure();
      return success();
    }
    return quantizeGPTQ(func, *targets);
  }

  LogicalResult quantizeRTN(const LinearTarget &target) {
    FailureOr<Eigen::MatrixXd> weight = readWeight(target.op.getWeight());
    if (failed(weight))
      return failure();
    auto quantized =
        quant::quantizeRTN(target.name, toFloat(*weight), weight->rows(),
                           weight->cols(), spec(), clipOptions());
    if (!quantized)
      return target.op.emitError() << llvm::toString(quantized.takeError());
    llvm::json::Object entry = describe(target, *quantized);
    entry["weight_mse"] = weightMSE(*weight, *quantized);
    entries.push_back(std::move(entry));
    replaceWeight(target, *quantized);
    return success();
  }

  LogicalResult quantizeGPTQ(func::FuncOp func,
                             ArrayRef<LinearTarget> targets) {
    if (targets.empty())
      return success();
    FailureOr<CalibrationWindows> windows = loadCalibrationWindows(
        getOperation(), calibFile, calibSamples, calibSeqLen, seed);
    if (failed(windows))
      return failure();
    calibrationTokens = calibSamples * calibSeqLen;
    quant::GPTQOptions options;
    options.dampRatio = damp;
    options.blockSize = blockSize;
    options.actOrder = actOrder;
    options.clip = clipOptions();
    // Stages: the linears reading one value share a Hessian; stages run in
    // the order their first linear appears.
    SmallVector<SmallVector<const LinearTarget *>> stages;
    llvm::DenseMap<Value, size_t> stageOf;
    for (const LinearTarget &target : targets) {
      auto [it, inserted] =
          stageOf.try_emplace(target.op.getInput(), stages.size());
      if (inserted)
        stages.emplace_back();
      stages[it->second].push_back(&target);
    }
    // One pass of the windows through the network: each stage's Hessian is
    // taken where the windows reach its first linear, with every earlier
    // stage already quantized in the stream as in the IR.
    FailureOr<std::unique_ptr<CalibrationStream>> stream =
        CalibrationStream::create(func, *windows, threads);
    if (failed(stream))
      return failure();
    GPTQProgress reporter(progress, stages, **stream, *windows);
    for (ArrayRef<const LinearTarget *> stage : stages) {
      reporter.beginStage(stage);
      FailureOr<quant::HessianAccumulator> inputs =
          (*stream)->advanceTo(stage.front()->op);
      if (failed(inputs))
        return failure();
      reporter.calibrated();
      Eigen::MatrixXd hessian = inputs->hessian();
      for (const LinearTarget *target : stage) {
        FailureOr<std::vector<float>> dequantized =
            quantizeOneGPTQ(*target, hessian, options);
        if (failed(dequantized) || failed((*stream)->replaceWeight(
                                       target->op, std::move(*dequantized))))
          return failure();
      }
      reporter.endStage(stage);
    }
    reporter.finish();
    return success();
  }

  /// Quantizes one linear in the IR; returns its dequantized weight.
  FailureOr<std::vector<float>>
  quantizeOneGPTQ(const LinearTarget &target, const Eigen::MatrixXd &hessian,
                  const quant::GPTQOptions &options) {
    FailureOr<Eigen::MatrixXd> weight = readWeight(target.op.getWeight());
    if (failed(weight))
      return failure();
    quant::GPTQReport result;
    auto quantized = quant::quantizeGPTQ(target.name, *weight, hessian, spec(),
                                         options, &result);
    if (!quantized)
      return target.op.emitError() << llvm::toString(quantized.takeError());
    if (result.fellBackToRTN)
      target.op.emitWarning() << "GPTQ fell back to RTN for " << target.name
                              << ": " << result.fallbackReason;
    llvm::json::Object entry = describe(target, *quantized);
    entry["weight_mse"] = weightMSE(*weight, *quantized);
    entry["dead_columns"] = result.deadColumns;
    entry["damp_ratio"] = result.dampRatioUsed;
    entry["damping_retries"] = result.dampingRetries;
    entry["fallback_rtn"] = result.fellBackToRTN;
    if (result.fellBackToRTN)
      entry["fallback_reason"] = result.fallbackReason;
    entry["proxy_error"] = result.proxyError;
    entry["proxy_error_rtn"] = result.proxyErrorRTN;
    entries.push_back(std::move(entry));
    replaceWeight(target, *quantized);
    return quantized->dequantize();
  }

  static double weightMSE(const Eigen::MatrixXd &weight,
                          const quant::QuantizedWeight &quantized) {
    std::vector<float> values = quantized.dequantize();
    double sum = 0.0;
    for (int64_t r = 0; r < weight.rows(); ++r)
      for (int64_t c = 0; c < weight.cols(); ++c) {
        double d = weight(r, c) - values[r * weight.cols() + c];
        sum += d * d;
      }
    return sum / double(weight.size());
  }

  static llvm::json::Object describe(const LinearTarget &target,
                                     const quant::QuantizedWeight &q) {
    return llvm::json::Object{{"name", target.name},
                              {"role", linearRoleName(target.role)},
                              {"layer", target.layer},
                              {"rows", q.rows},
                              {"cols", q.cols}};
  }

  /// linear(x, W) -> linear(x, dequantize(codes, scales[, zeros])).
  void replaceWeight(const LinearTarget &target,
                     const quant::QuantizedWeight &q) {
    OpBuilder builder(target.op);
    Location loc = target.op.getLoc();
    bool asParameter = usesParameters(target.op);
    std::string base =
        target.op.getWeight().getDefiningOp<ParamOp>() ? target.name : "";
    SmallVector<int64_t> codeShape = {q.rows, q.cols};
    SmallVector<int64_t> groupShape = {q.rows, q.numGroups()};
    Value codes = createTensor(builder, loc, asParameter, base + ".codes",
                               codeShape, q.codes, {});
    Value scales = createTensor(builder, loc, asParameter, base + ".scales",
                                groupShape, {}, q.scales);
    Value zeros;
    if (!q.symmetric)
      zeros = createTensor(builder, loc, asParameter, base + ".zeros",
                           groupShape, q.zeros, {});
    auto type = RankedTensorType::get(codeShape, builder.getF32Type());
    auto dequantize = builder.create<DequantizeOp>(
        loc, type, codes, scales, zeros, builder.getI64IntegerAttr(q.bits),
        builder.getI64IntegerAttr(q.groupSize));
    target.op.getWeightMutable().assign(dequantize.getResult());
  }

  LogicalResult writeReport() {
    llvm::json::Object root{{"method", std::string(method)},
                            {"bits", int64_t(bits)},
                            {"group_size", int64_t(groupSize)},
                            {"symmetric", bool(symmetric)},
                            {"clip_search", bool(clipSearch)}};
    root["linears"] = std::move(entries);
    if (method == "gptq") {
      root["damp"] = double(damp);
      root["block_size"] = int64_t(blockSize);
      root["act_order"] = bool(actOrder);
      root["calibration"] =
          llvm::json::Object{{"file", std::string(calibFile)},
                             {"windows", int64_t(calibSamples)},
                             {"tokens_per_window", int64_t(calibSeqLen)},
                             {"seed", int64_t(seed)},
                             {"tokens", calibrationTokens}};
    }
    llvm::json::Value value(std::move(root));
    if (llvm::Error error = writePassOutput(
            &getContext(), report, "report of --tfm-quantize-weights",
            [&](llvm::raw_ostream &os) {
              os << llvm::formatv("{0:2}", value) << "\n";
              return llvm::Error::success();
            }))
      return getOperation().emitError() << llvm::toString(std::move(error));
    return success();
  }

  llvm::json::Array entries;
  int64_t calibrationTokens = 0;
};

} // namespace
