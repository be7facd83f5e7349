//===- LowerToQuantizedOps.cpp - Fake quantization to integer ops ---------===//
//
// The fake-quantized graph says what the numbers are; the lowered graph says
// what the machine does. Each activation quantizer becomes one
// tfm.quantize_rows shared by the linears that read it, each linear on
// dequantized weights a tfm.quantized_linear on weights packed here with the
// runtime's own packing routine, and each attention explicit KV-cache state.
// Configurations the runtime cannot execute are refused on their op.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Runtime/respin_rt.h"
#include "respin/Transforms/Passes.h"
#include "respin/Transforms/QuantizationTargets.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/IR/Builders.h"

#include <cmath>
#include <cstring>

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMLOWERTOQUANTIZEDOPSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

/// Bytes of the int8 layout: codes row-major, scales at the next multiple
/// of 64 bytes.
int64_t int8ScalesOffset(int64_t rows, int64_t columns) {
  return (rows * columns + 63) / 64 * 64;
}

/// Integer weight codes as int8, from a parameter or a constant.
FailureOr<std::vector<int8_t>> readCodes(Value codes) {
  Operation *def = codes.getDefiningOp();
  std::vector<int8_t> result;
  if (auto constant = dyn_cast_or_null<arith::ConstantOp>(def)) {
    auto dense = dyn_cast<DenseIntElementsAttr>(constant.getValue());
    if (!dense)
      return constant.emitOpError("is not a dense integer weight");
    for (const APInt &element : dense.getValues<APInt>())
      result.push_back(int8_t(element.getSExtValue()));
    return result;
  }
  FailureOr<Eigen::MatrixXd> values = readWeight(codes);
  if (failed(values))
    return failure();
  // readWeight gives a row-major view as an Eigen (column-major) matrix.
  for (int64_t r = 0; r < values->rows(); ++r)
    for (int64_t c = 0; c < values->cols(); ++c)
      result.push_back(int8_t((*values)(r, c)));
  return result;
}

FailureOr<std::vector<float>> readScales(Value scales) {
  FailureOr<Eigen::MatrixXd> values = readWeight(scales);
  if (failed(values))
    return failure();
  std::vector<float> result;
  for (int64_t r = 0; r < values->rows(); ++r)
    for (int64_t c = 0; c < values->cols(); ++c)
      result.push_back(float((*values)(r, c)));
  return result;
}

/// Name of the archive tensor a weight came from, for naming packed blobs.
std::string baseName(Value codes) {
  if (auto param = codes.getDefiningOp<ParamOp>())
    return param.getName().str();
  return "linear";
}

/// Packs dequantized weights into the runtime layout their type states.
/// Per-channel weights packed for per-group activations repeat each row's
/// scale over the groups: the same integers, the same products.
FailureOr<std::vector<uint8_t>> packWeights(DequantizeOp dequantize,
                                            PackedWeightsType type,
                                            bool repeatChannelScale) {
  FailureOr<std::vector<int8_t>> codes = readCodes(dequantize.getCodes());
  FailureOr<std::vector<float>> scales = readScales(dequantize.getScales());
  if (failed(codes) || failed(scales))
    return failure();
  int64_t rows = type.getRows(), columns = type.getColumns();
  int64_t groups = type.getNumGroups();
  if (repeatChannelScale && int64_t(scales->size()) == rows) {
    std::vector<float> repeated;
    for (float scale : *scales)
      repeated.insert(repeated.end(), groups, scale);
    *scales = std::move(repeated);
  }
  if (int64_t(codes->size()) != rows * columns ||
      int64_t(scales->size()) != rows * groups)
    return dequantize.emitOpError()
           << "codes/scales do not match " << rows << "x" << columns
           << " weights with " << groups << " groups";
  if (type.isNibblePacked()) {
    size_t size = respin_rt_packed_weights_size(int(type.getBits()), rows,
                                                columns, type.getGroup());
    if (size == 0)
      return dequantize.emitOpError()
             << "the runtime cannot pack these weights: "
             << respin_rt_last_error();
    std::vector<uint8_t> blob(size);
    if (respin_rt_pack_weights(int(type.getBits()), rows, columns,
                               type.getGroup(), codes->data(), columns,
                               scales->data(), blob.data(),
                               blob.size()) != RESPIN_RT_OK)
      return dequantize.emitOpError()
             << "packing failed: " << respin_rt_last_error();
    return blob;
  }
  int64_t offset = int8ScalesOffset(rows, columns);
  std::vector<uint8_t> blob(offset + rows * groups * sizeof(float));
  std::memcpy(blob.data(), codes->data(), codes->size());
  std::memcpy(blob.data() + offset, scales->data(),
              scales->size() * sizeof(float));
  return blob;
}

struct LowerToQuantizedOpsPass
    : tfm::impl::TfmLowerToQuantizedOpsPassBase<LowerToQuantizedOpsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool ok = true;
    module.walk([&](func::FuncOp func) {
      if (failed(lowerAttention(func)) || failed(lowerLinears(func)))
        ok = false;
    });
    if (!ok)
      return signalPassFailure();
    // Anything quantized that did not lower has no machine meaning.
    WalkResult leftover = module.walk([&](Operation *op) {
      if (isa<FakeQuantOp>(op)) {
        op->emitOpError() << "has no integer lowering: only quantizers of "
                             "linear inputs and of the KV cache do";
        return WalkResult::interrupt();
      }
      if (isa<DequantizeOp>(op) && !op->use_empty()) {
        op->emitOpError()
            << "feeds a linear with float activations (weight-only "
               "quantization): the runtime's integer linear needs quantized "
               "activations (e.g. --tfm-quantize-activations=bits=8)";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (leftover.wasInterrupted())
      return signalPassFailure();
    eraseDeadWeights(module);
  }

  /// The KV-cache storage a key or value operand implies: its quantizer's
  /// bits and clip, or f32 without one. Returns the unquantized value.
  FailureOr<Value> cacheInput(AttentionOp attention, Value operand,
                              StringRef what, int64_t &bits, double &clip) {
    auto quant = operand.getDefiningOp<FakeQuantOp>();
    if (!quant) {
      bits = 32;
      clip = 1.0;
      return operand;
    }
    int64_t headDim = attention.getHeadDim();
    int64_t width = cast<ShapedType>(operand.getType()).getDimSize(1);
    int64_t group = int64_t(quant.getGroupSize());
    bool perHead = group == headDim || (group == 0 && width == headDim);
    if (quant.getSymmetric() || !perHead)
      return quant.emitOpError()
             << "the runtime's KV cache quantizes the " << what
             << " asymmetrically per token and head (group_size = "
             << headDim << "); this quantizer is "
             << (quant.getSymmetric() ? "symmetric" : "grouped differently");
    if (quant.getBits() != 4 && quant.getBits() != 8)
      return quant.emitOpError()
             << "the runtime's KV cache holds 4- or 8-bit codes, not "
             << quant.getBits() << "-bit " << what << "s";
    bits = int64_t(quant.getBits());
    clip = quant.getClip().convertToDouble();
    return quant.getInput();
  }

  static BlockArgument positionsArgument(func::FuncOp func) {
    for (BlockArgument argument : func.getArguments())
      if (auto role = func.getArgAttrOfType<StringAttr>(argument.getArgNumber(),
                                                        "tfm.input");
          role && role.getValue() == "positions")
        return argument;
    return nullptr;
  }

  LogicalResult lowerAttention(func::FuncOp func) {
    SmallVector<AttentionOp> attentions;
    func.walk([&](AttentionOp op) { attentions.push_back(op); });
    if (attentions.empty())
      return success();
    BlockArgument positions = positionsArgument(func);
    if (!positions)
      return func.emitOpError()
             << "has attention but no argument marked tfm.input = "
                "\"positions\"";
    for (AttentionOp attention : attentions) {
      int64_t keyBits, valueBits;
      double keyClip, valueClip;
      FailureOr<Value> key =
          cacheInput(attention, attention.getKey(), "key", keyBits, keyClip);
      FailureOr<Value> value = cacheInput(attention, attention.getValue(),
                                          "value", valueBits, valueClip);
      if (failed(key) || failed(value))
        return failure();
      if (keyBits != valueBits || keyClip != valueClip)
        return attention.emitOpError()
               << "keys (" << keyBits << " bits, clip "
               << formatOptionNumber(keyClip) << ") and values (" << valueBits
               << " bits, clip " << formatOptionNumber(valueClip)
               << ") must share one cache format";
      auto cacheType = KVCacheType::getChecked(
          [&] { return attention.emitOpError(); }, &getContext(), keyBits,
          int64_t(attention.getNumKvHeads()), int64_t(attention.getHeadDim()));
      if (!cacheType)
        return failure();
      unsigned index = func.getNumArguments();
      NamedAttribute slot(
          StringAttr::get(&getContext(), "tfm.kv_cache_slot"),
          IntegerAttr::get(IntegerType::get(&getContext(), 64),
                           attention.getCacheSlot()));
      func.insertArgument(index, cacheType,
                          DictionaryAttr::get(&getContext(), {slot}),
                          attention.getLoc());
      Value cache = func.getArgument(index);
      OpBuilder builder(attention);
      builder.create<KVAppendOp>(attention.getLoc(), cache, positions, *key,
                                 *value, builder.getF64FloatAttr(keyClip));
      Value result = builder.create<CachedAttentionOp>(
          attention.getLoc(), attention.getType(), attention.getQuery(), cache,
          positions, attention.getNumHeadsAttr(), attention.getScaleAttr());
      Value oldKey = attention.getKey(), oldValue = attention.getValue();
      attention.replaceAllUsesWith(result);
      attention.erase();
      for (Value old : {oldKey, oldValue})
        if (auto quant = old.getDefiningOp<FakeQuantOp>();
            quant && quant->use_empty())
          quant.erase();
    }
    return success();
  }

  /// One quantize_rows for `quant` (fusing an online Hadamard that only it
  /// reads), inserted after the quantizer.
  Value quantizeRows(FakeQuantOp quant) {
    OpBuilder builder(quant);
    Value input = quant.getInput();
    IntegerAttr block;
    if (auto hadamard = input.getDefiningOp<HadamardOp>();
        hadamard && hadamard.getOnline() && !hadamard.getTranspose() &&
        hadamard->hasOneUse()) {
      block = hadamard.getBlockSizeAttr();
      input = hadamard.getInput();
    }
    auto width = cast<ShapedType>(input.getType()).getDimSize(1);
    auto type = QuantizedRowsType::get(&getContext(), int64_t(quant.getBits()),
                                       width, int64_t(quant.getGroupSize()));
    return builder.create<QuantizeRowsOp>(quant.getLoc(), type, input,
                                          quant.getClipAttr(),
                                          quant.getSymmetricAttr(), block);
  }

  LogicalResult lowerLinears(func::FuncOp func) {
    SmallVector<FakeQuantOp> quantizers;
    func.walk([&](FakeQuantOp op) {
      if (llvm::any_of(op->getUsers(),
                       [](Operation *user) { return isa<LinearOp>(user); }))
        quantizers.push_back(op);
    });
    for (FakeQuantOp quant : quantizers) {
      Value rows;
      for (Operation *user : llvm::make_early_inc_range(quant->getUsers())) {
        auto linear = dyn_cast<LinearOp>(user);
        if (!linear)
          return user->emitOpError()
                 << "reads a linear input quantizer; only linears may";
        if (!rows)
          rows = quantizeRows(quant);
        if (failed(lowerLinear(linear, rows)))
          return failure();
      }
      Value hadamardInput = quant.getInput();
      quant.erase();
      if (auto hadamard = hadamardInput.getDefiningOp<HadamardOp>();
          hadamard && hadamard->use_empty())
        hadamard.erase();
    }
    return success();
  }

  LogicalResult lowerLinear(LinearOp linear, Value rows) {
    auto dequantize = linear.getWeight().getDefiningOp<DequantizeOp>();
    if (!dequantize)
      return linear.emitOpError()
             << "has quantized activations but float weights: the runtime's "
                "integer linear needs integer weights (quantize this linear's "
                "weights, or leave its input unquantized)";
    if (linear.getBias())
      return linear.emitOpError()
             << "has a bias, which the runtime's integer linear does not add";
    if (dequantize.getZeroPoints())
      return dequantize.emitOpError()
             << "has zero points; the runtime's integer weights are symmetric "
                "(quantize without zero points)";
    if (dequantize.getBits() < 3)
      return dequantize.emitOpError()
             << "has " << dequantize.getBits()
             << "-bit weights; the runtime packs 3 to 8 bits";
    auto shape = cast<ShapedType>(dequantize.getType()).getShape();
    auto rowsType = cast<QuantizedRowsType>(rows.getType());
    int64_t group = int64_t(dequantize.getGroupSize());
    if (group == shape[1])
      group = 0;
    bool repeatScale = false;
    if (rowsType.getGroup() != 0 && group == 0) {
      group = rowsType.getGroup();
      repeatScale = true;
    }
    if (rowsType.getGroup() != 0 && rowsType.getGroup() != group)
      return linear.emitOpError()
             << "per-group activations (group " << rowsType.getGroup()
             << ") need weights with the same group, not "
             << (group ? std::to_string(group) : std::string("per channel"));
    auto type = PackedWeightsType::getChecked(
        [&] { return dequantize.emitOpError(); }, &getContext(),
        int64_t(dequantize.getBits()), shape[0], shape[1], group);
    if (!type)
      return failure();
    FailureOr<std::vector<uint8_t>> blob = packWeights(dequantize, type, repeatScale);
    if (failed(blob))
      return failure();

    ModuleOp module = linear->getParentOfType<ModuleOp>();
    std::string name =
        uniqueParameterName(module, baseName(dequantize.getCodes()) + ".packed");
    int64_t size = int64_t(blob->size());
    getParameterSet(&getContext())
        .setPending(name, respin::DType::I8, {size}, std::move(*blob));

    OpBuilder builder(linear);
    Value weight = builder.create<PackedParamOp>(linear.getLoc(), type, name);
    // y feeding only a residual add accumulates into the residual stream.
    Value accumulator;
    Operation *replaced = linear;
    if (linear->hasOneUse())
      if (auto add = dyn_cast<AddOp>(*linear->user_begin())) {
        accumulator =
            add.getLhs() == linear.getResult() ? add.getRhs() : add.getLhs();
        replaced = add;
        builder.setInsertionPoint(add);
      }
    Value result = builder.create<QuantizedLinearOp>(
        linear.getLoc(), linear.getType(), rows, weight, accumulator);
    replaced->getResult(0).replaceAllUsesWith(result);
    if (replaced != linear.getOperation())
      replaced->erase();
    linear.erase();
    if (dequantize->use_empty())
      dequantize.erase();
    return success();
  }
};

} // namespace
