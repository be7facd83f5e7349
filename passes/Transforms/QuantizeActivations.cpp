//===- QuantizeActivations.cpp - Activation and KV-cache quantizers -------===//
//
// Inserts tfm.fake_quant ops; the arithmetic is the runtime's, so the
// reference executor then computes what the deployed model will. Linears
// that read the same value with the same grouping share one quantizer (the
// runtime quantizes a norm output once for q, k and v).
//
//===----------------------------------------------------------------------===//

#include "respin/Transforms/Passes.h"
#include "respin/Transforms/QuantizationTargets.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <map>

#include <cstdio>

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMQUANTIZEACTIVATIONSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {


/// Bits option check shared by `bits` and `kv-bits`.
LogicalResult checkBits(Operation *anchor, StringRef option, int bits) {
  if (bits == kOffBits || (bits >= 2 && bits <= 8))
    return success();
  return anchor->emitError() << option << "=" << bits
                             << " is not supported (expected 2..8, or 16 for "
                                "no quantization)";
}

LogicalResult checkClip(Operation *anchor, StringRef option, double clip) {
  if (clip > 0.0 && clip <= 1.0)
    return success();
  return anchor->emitError()
         << option << "=" << formatOptionNumber(clip) << " is not a clip ratio in (0, 1]";
}

struct QuantizeActivationsPass
    : tfm::impl::TfmQuantizeActivationsPassBase<QuantizeActivationsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(checkBits(module, "bits", bits)) ||
        failed(checkBits(module, "kv-bits", kvBits)) ||
        failed(checkClip(module, "clip", clip)) ||
        failed(checkClip(module, "kv-clip", kvClip)))
      return signalPassFailure();
    if (groupSize < 0) {
      module.emitError() << "group-size=" << int64_t(groupSize)
                         << " must be 0 (per token) or positive";
      return signalPassFailure();
    }
    FailureOr<SmallVector<LinearRole>> roles =
        parseLinearRoles(linears, "linears", module);
    if (failed(roles))
      return signalPassFailure();
    WalkResult result = module.walk([&](func::FuncOp func) {
      if (func.isDeclaration())
        return WalkResult::advance();
      if ((bits != kOffBits && failed(quantizeInputs(func, *roles))) ||
          (kvBits != kOffBits && failed(quantizeKVCache(func))))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  /// A fake quantizer of `value` placed right after its definition.
  Value createQuantizer(Value value, int64_t quantBits, bool sym,
                        double clipRatio, int64_t group) {
    OpBuilder builder(value.getContext());
    builder.setInsertionPointAfterValue(value);
    auto op = builder.create<FakeQuantOp>(
        value.getLoc(), value.getType(), value,
        builder.getI64IntegerAttr(quantBits), builder.getI64IntegerAttr(group),
        builder.getF64FloatAttr(clipRatio),
        sym ? builder.getUnitAttr() : UnitAttr());
    return op.getResult();
  }

  LogicalResult quantizeInputs(func::FuncOp func, ArrayRef<LinearRole> roles) {
    // (input, group size) -> its quantizer, so q/k/v share one.
    std::map<std::pair<void *, int64_t>, Value> quantizers;
    for (const LinearTarget &target : classifyLinears(func)) {
      if (!llvm::is_contained(roles, target.role))
        continue;
      Value input = target.op.getInput();
      if (input.getDefiningOp<FakeQuantOp>())
        return target.op.emitError()
               << "the input of " << target.name
               << " is already quantized by a tfm.fake_quant";
      int64_t group = groupSize;
      if (target.role == LinearRole::Output && oProjPerHead) {
        if (!target.attention)
          return target.op.emitError()
                 << "o-proj-per-head: cannot find the attention feeding "
                 << target.name;
        group = target.attention.getHeadDim();
      }
      int64_t width = cast<ShapedType>(input.getType()).getDimSize(1);
      if (group > 0 && !ShapedType::isDynamic(width) && width % group != 0)
        return target.op.emitError()
               << "group-size " << group << " does not divide the " << width
               << " input features of " << target.name;
      Value &quantizer = quantizers[{input.getAsOpaquePointer(), group}];
      if (!quantizer)
        quantizer = createQuantizer(input, bits, symmetric, clip, group);
      target.op.getInputMutable().assign(quantizer);
    }
    return success();
  }

  /// Keys (after RoPE and any online Hadamard) and values, asymmetric per
  /// token per head, as the runtime's quantized KV cache stores them.
  LogicalResult quantizeKVCache(func::FuncOp func) {
    WalkResult result = func.walk([&](AttentionOp attention) {
      for (OpOperand *operand :
           {&attention.getKeyMutable(), &attention.getValueMutable()}) {
        if (operand->get().getDefiningOp<FakeQuantOp>()) {
          attention.emitError("the key/value of this attention is already "
                              "quantized by a tfm.fake_quant");
          return WalkResult::interrupt();
        }
        operand->set(createQuantizer(operand->get(), kvBits,
                                     /*sym=*/false, kvClip,
                                     attention.getHeadDim()));
      }
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }
};

} // namespace
