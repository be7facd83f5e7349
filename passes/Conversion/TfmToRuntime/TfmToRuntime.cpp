//===- TfmToRuntime.cpp - Lowered tfm graph to respin_rt calls ------------===//
//
// The forward function is straight-line code: each op becomes one runtime
// kernel call on workspace regions, followed by a status check that returns
// the kernel's error. The generated code only sequences kernels; every
// kernel is vectorized and threaded in respin_rt, so generating the loops
// here would not be faster (the elementwise ops are memory-bound rows next
// to weight-streaming linears, and one call costs nanoseconds).
//
//===----------------------------------------------------------------------===//

#include "BufferPlan.h"
#include "CompiledWeights.h"

#include "respin/Conversion/Passes.h"
#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Import/ImportModel.h"
#include "respin/Runtime/respin_model.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <Eigen/Core>
#include <cstring>

namespace mlir::tfm {
#define GEN_PASS_DEF_CONVERTTFMTORUNTIMEPASS
#include "respin/Conversion/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

/// Where an activation lives: a pointer and a row stride (elements).
struct Rows {
  Value ptr;
  int64_t stride = 0;
  int64_t offset = -1; ///< workspace region, -1 when not in the workspace
  int64_t bytes = 0;
};

/// Quantized activations: codes, scales and zero points, per token.
struct QuantRows {
  Value codes, scales, zeros;
  int64_t columns = 0, groups = 0;
  int64_t offset = -1, bytes = 0;
};

int64_t widthOf(Value value) {
  return cast<ShapedType>(value.getType()).getDimSize(1);
}

std::vector<uint8_t> floatBytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

/// Row-major f32 values of a rank-1 or rank-2 weight.
FailureOr<std::vector<float>> weightValues(Value weight) {
  FailureOr<Eigen::MatrixXd> matrix = readWeight(weight);
  if (failed(matrix))
    return failure();
  std::vector<float> values;
  values.reserve(matrix->size());
  for (int64_t r = 0; r < matrix->rows(); ++r)
    for (int64_t c = 0; c < matrix->cols(); ++c) {
      double v = (*matrix)(r, c);
      if (!std::isfinite(v))
        return emitError(weight.getLoc())
               << "weight holds a non-finite value at [" << r << ", " << c
               << "]";
      values.push_back(float(v));
    }
  return values;
}

class ForwardBuilder {
public:
  ForwardBuilder(ModuleOp module, func::FuncOp source, StringRef prefix,
                 int64_t maxTokens)
      : module(module), source(source), prefix(prefix.str()),
        maxTokens(maxTokens), plan(source.front()),
        builder(module.getContext()) {
    MLIRContext *ctx = module.getContext();
    ptrType = LLVM::LLVMPointerType::get(ctx);
    i64 = builder.getI64Type();
    i32 = builder.getI32Type();
    f32 = builder.getF32Type();
  }

  LogicalResult build();
  const CompiledWeights &weights() const { return table; }
  int64_t workspaceBytes() const { return plan.size(); }
  std::string manifest() const;

private:
  // Constants and pointers.
  Value constI64(int64_t v) {
    return builder.create<arith::ConstantIntOp>(loc, v, 64);
  }
  Value constI32(int64_t v) {
    return builder.create<arith::ConstantIntOp>(loc, v, 32);
  }
  Value constF32(double v) {
    return builder.create<arith::ConstantFloatOp>(loc, APFloat(float(v)),
                                                 builder.getF32Type());
  }
  Value offsetPtr(Value base, Value bytes) {
    return builder.create<LLVM::GEPOp>(loc, ptrType, builder.getI8Type(), base,
                                       ValueRange{bytes});
  }
  Value offsetPtr(Value base, int64_t bytes) {
    return bytes == 0 ? base : offsetPtr(base, constI64(bytes));
  }
  Value nullPtr() { return builder.create<LLVM::ZeroOp>(loc, ptrType); }
  Value loadPointer(Value table, int64_t index) {
    Value slot = builder.create<LLVM::GEPOp>(
        loc, ptrType, ptrType, table, ArrayRef<LLVM::GEPArg>{int32_t(index)});
    return builder.create<LLVM::LoadOp>(loc, ptrType, slot);
  }
  Value rowsBytes(int64_t bytesPerRow) {
    return builder.create<arith::MulIOp>(loc, tokenCount, constI64(bytesPerRow));
  }

  /// Calls `name` (declared on first use from the argument types), returns
  /// early with its status when it is not RESPIN_RT_OK.
  void call(StringRef name, ArrayRef<Value> args);

  // Buffers.
  Rows newRows(Operation *op, Value value);
  Rows inPlaceRows(Operation *op, Value input, Value result);
  void releaseDead(Operation *op);
  FailureOr<Rows> rowsOf(Value value, Operation *user);
  FailureOr<Value> weightPointer(Value weight, Operation *user);
  Value derivedWeight(StringRef base, std::vector<int64_t> shape,
                      std::vector<float> values);
  LogicalResult checkPositions(Value positions, Operation *op);

  // Ops.
  LogicalResult lower(Operation *op);
  LogicalResult lowerEmbedding(EmbeddingOp op);
  LogicalResult lowerRMSNorm(RMSNormOp op);
  LogicalResult lowerLinear(LinearOp op);
  LogicalResult lowerRope(RopeOp op);
  LogicalResult lowerHadamard(HadamardOp op);
  LogicalResult lowerSiluMul(SiluMulOp op);
  LogicalResult lowerAdd(AddOp op);
  LogicalResult lowerTransition(TransitionOp op);
  LogicalResult lowerAdapter(ResidualAdapterOp op);
  LogicalResult lowerQuantizeRows(QuantizeRowsOp op);
  LogicalResult lowerQuantizedLinear(QuantizedLinearOp op);
  LogicalResult lowerKVAppend(KVAppendOp op);
  LogicalResult lowerCachedAttention(CachedAttentionOp op);
  LogicalResult lowerReturn(func::ReturnOp op);

  ModuleOp module;
  func::FuncOp source;
  std::string prefix;
  int64_t maxTokens;
  BufferPlan plan;
  OpBuilder builder;
  Location loc = UnknownLoc::get(module.getContext());
  Type ptrType, i64, i32, f32;

  func::FuncOp target;
  Block *exitBlock = nullptr;
  Value weightTable, cacheTable, workspace, tokens, tokenCount, pos0, logits;
  Value returned;
  int64_t vocab = 0;

  CompiledWeights table;
  llvm::DenseMap<Value, Rows> rows;
  llvm::DenseMap<Value, QuantRows> quantRows;
  llvm::DenseMap<Value, Value> weightPtrs;
  /// KV cache function arguments -> index in the caches table.
  llvm::DenseMap<Value, int64_t> cacheIndex;
  std::vector<KVCacheType> cacheTypes;
  std::vector<int64_t> cacheSlots;
  int64_t derivedCount = 0;
};

void ForwardBuilder::call(StringRef name, ArrayRef<Value> args) {
  auto callee = module.lookupSymbol<func::FuncOp>(name);
  if (!callee) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(module.getBody());
    SmallVector<Type> types;
    for (Value arg : args)
      types.push_back(arg.getType());
    callee = builder.create<func::FuncOp>(
        loc, name, builder.getFunctionType(types, {i32}));
    callee.setPrivate();
  }
  Value status = builder.create<func::CallOp>(loc, callee, args).getResult(0);
  Value ok = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                           status, constI32(0));
  Block *current = builder.getInsertionBlock();
  Block *next = builder.createBlock(current->getParent(),
                                    std::next(current->getIterator()));
  builder.setInsertionPointToEnd(current);
  builder.create<cf::CondBranchOp>(loc, ok, next, ValueRange{}, exitBlock,
                                   ValueRange{status});
  builder.setInsertionPointToStart(next);
}

Rows ForwardBuilder::newRows(Operation *op, Value value) {
  Rows result;
  if (value == returned) {
    result.ptr = logits;
    result.stride = widthOf(value);
  } else {
    result.stride = widthOf(value);
    result.bytes = maxTokens * result.stride * int64_t(sizeof(float));
    result.offset = plan.allocate(result.bytes);
    result.ptr = offsetPtr(workspace, result.offset);
  }
  rows[value] = result;
  return result;
}

/// The output of an op that rewrites its input: the input's own region when
/// it dies here, else a fresh region holding a copy.
Rows ForwardBuilder::inPlaceRows(Operation *op, Value input, Value result) {
  Rows in = rows.lookup(input);
  if (in.offset >= 0 && plan.diesAt(input, op) && result != returned) {
    rows.erase(input);
    rows[result] = in;
    return in;
  }
  Rows out = newRows(op, result);
  Value bytes = rowsBytes(in.stride * int64_t(sizeof(float)));
  builder.create<LLVM::MemcpyOp>(loc, out.ptr, in.ptr, bytes,
                                 /*isVolatile=*/false);
  return out;
}

void ForwardBuilder::releaseDead(Operation *op) {
  for (Value operand : op->getOperands()) {
    if (!plan.diesAt(operand, op))
      continue;
    if (auto it = rows.find(operand); it != rows.end()) {
      if (it->second.offset >= 0)
        plan.release(it->second.offset, it->second.bytes);
      rows.erase(it);
    }
    if (auto it = quantRows.find(operand); it != quantRows.end()) {
      plan.release(it->second.offset, it->second.bytes);
      quantRows.erase(it);
    }
  }
}

FailureOr<Rows> ForwardBuilder::rowsOf(Value value, Operation *user) {
  auto it = rows.find(value);
  if (it == rows.end())
    return user->emitOpError() << "reads a value the compiled model has no "
                                  "buffer for (not an activation computed "
                                  "in this function)";
  return it->second;
}

FailureOr<Value> ForwardBuilder::weightPointer(Value weight, Operation *user) {
  if (Value known = weightPtrs.lookup(weight))
    return known;
  Operation *def = weight.getDefiningOp();
  int64_t index = -1;
  if (auto packed = dyn_cast_or_null<PackedParamOp>(def)) {
    index = table.find(packed.getName());
    if (index < 0) {
      const respin::TensorView *tensor =
          getParameterSet(module.getContext()).lookup(packed.getName());
      if (!tensor || tensor->dtype != respin::DType::I8)
        return packed.emitOpError()
               << "packed weights '" << packed.getName()
               << "' are not an int8 tensor of the parameter archive";
      index = table.add({packed.getName().str(), respin::DType::I8,
                         {int64_t(tensor->numBytes)},
                         std::vector<uint8_t>(tensor->data,
                                              tensor->data + tensor->numBytes)});
    }
  } else if (isa_and_nonnull<ParamOp, arith::ConstantOp>(def)) {
    std::string name =
        isa<ParamOp>(def) ? cast<ParamOp>(def).getName().str()
                          : "constant." + std::to_string(derivedCount++);
    index = table.find(name);
    if (index < 0) {
      FailureOr<std::vector<float>> values = weightValues(weight);
      if (failed(values))
        return failure();
      auto shape = cast<ShapedType>(weight.getType()).getShape();
      index = table.add({name, respin::DType::F32,
                         std::vector<int64_t>(shape.begin(), shape.end()),
                         floatBytes(*values)});
    }
  } else {
    return user->emitOpError()
           << "reads a weight that is not a tfm.param, tfm.packed_param or "
              "constant";
  }
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(&target.front());
  Value ptr = loadPointer(weightTable, index);
  weightPtrs[weight] = ptr;
  return ptr;
}

Value ForwardBuilder::derivedWeight(StringRef base, std::vector<int64_t> shape,
                                    std::vector<float> values) {
  std::string name = base.str() + "." + std::to_string(derivedCount++);
  int64_t index =
      table.add({name, respin::DType::F32, std::move(shape), floatBytes(values)});
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(&target.front());
  return loadPointer(weightTable, index);
}

LogicalResult ForwardBuilder::checkPositions(Value positions, Operation *op) {
  auto argument = dyn_cast<BlockArgument>(positions);
  auto role = argument ? source.getArgAttrOfType<StringAttr>(
                             argument.getArgNumber(), "tfm.input")
                       : StringAttr();
  if (!role || role.getValue() != "positions")
    return op->emitOpError()
           << "must read the function's positions argument: a compiled "
              "model runs consecutive positions from pos0";
  return success();
}

LogicalResult ForwardBuilder::build() {
  auto type = builder.getFunctionType(
      {ptrType, ptrType, ptrType, ptrType, i64, i64, ptrType}, {i32});
  builder.setInsertionPointToEnd(module.getBody());
  target = builder.create<func::FuncOp>(source.getLoc(), prefix + "_forward",
                                        type);
  Block *entry = target.addEntryBlock();
  weightTable = entry->getArgument(0);
  cacheTable = entry->getArgument(1);
  workspace = entry->getArgument(2);
  tokens = entry->getArgument(3);
  tokenCount = entry->getArgument(4);
  pos0 = entry->getArgument(5);
  logits = entry->getArgument(6);
  exitBlock = builder.createBlock(&target.getBody(), target.getBody().end(),
                                  {i32}, {source.getLoc()});
  builder.create<func::ReturnOp>(source.getLoc(), exitBlock->getArgument(0));

  // Arguments: token ids, positions, KV caches.
  for (BlockArgument argument : source.getArguments()) {
    if (auto cache = dyn_cast<KVCacheType>(argument.getType())) {
      auto slot = source.getArgAttrOfType<IntegerAttr>(argument.getArgNumber(),
                                                       "tfm.kv_cache_slot");
      cacheIndex[argument] = int64_t(cacheTypes.size());
      cacheTypes.push_back(cache);
      cacheSlots.push_back(slot ? slot.getInt() : int64_t(cacheSlots.size()));
      continue;
    }
    auto role = source.getArgAttrOfType<StringAttr>(argument.getArgNumber(),
                                                    "tfm.input");
    if (!role || (role.getValue() != "tokens" && role.getValue() != "positions"))
      return source.emitOpError()
             << "argument " << argument.getArgNumber()
             << " is neither tokens, positions nor a KV cache";
  }
  auto terminator = cast<func::ReturnOp>(source.front().getTerminator());
  if (terminator.getNumOperands() != 1)
    return terminator.emitOpError() << "must return the logits only";
  returned = terminator.getOperand(0);
  vocab = widthOf(returned);

  // A call with n outside [1, max-tokens] would overrun the workspace.
  builder.setInsertionPointToStart(entry);
  loc = source.getLoc();
  Value tooFew = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt,
                                               tokenCount, constI64(1));
  Value tooMany = builder.create<arith::CmpIOp>(
      loc, arith::CmpIPredicate::sgt, tokenCount, constI64(maxTokens));
  Value bad = builder.create<arith::OrIOp>(loc, tooFew, tooMany);
  Block *body = builder.createBlock(&target.getBody(),
                                    std::next(target.getBody().begin()));
  builder.setInsertionPointToEnd(entry);
  builder.create<cf::CondBranchOp>(
      loc, bad, exitBlock,
      ValueRange{constI32(RESPIN_RT_ERR_INVALID_ARGUMENT)}, body,
      ValueRange{});
  builder.setInsertionPointToStart(body);

  for (Operation &op : source.front()) {
    loc = op.getLoc();
    if (failed(lower(&op)))
      return failure();
  }
  return success();
}

LogicalResult ForwardBuilder::lower(Operation *op) {
  if (isa<ParamOp, PackedParamOp, arith::ConstantOp>(op))
    return success(); // loaded where used
  LogicalResult result =
      TypeSwitch<Operation *, LogicalResult>(op)
          .Case([&](EmbeddingOp o) { return lowerEmbedding(o); })
          .Case([&](RMSNormOp o) { return lowerRMSNorm(o); })
          .Case([&](LinearOp o) { return lowerLinear(o); })
          .Case([&](RopeOp o) { return lowerRope(o); })
          .Case([&](HadamardOp o) { return lowerHadamard(o); })
          .Case([&](SiluMulOp o) { return lowerSiluMul(o); })
          .Case([&](AddOp o) { return lowerAdd(o); })
          .Case([&](TransitionOp o) { return lowerTransition(o); })
          .Case([&](ResidualAdapterOp o) { return lowerAdapter(o); })
          .Case([&](QuantizeRowsOp o) { return lowerQuantizeRows(o); })
          .Case([&](QuantizedLinearOp o) { return lowerQuantizedLinear(o); })
          .Case([&](KVAppendOp o) { return lowerKVAppend(o); })
          .Case([&](CachedAttentionOp o) { return lowerCachedAttention(o); })
          .Case([&](func::ReturnOp o) { return lowerReturn(o); })
          .Case([&](AttentionOp o) {
            return o.emitOpError() << "has no explicit KV cache: run "
                                      "--tfm-lower-to-quantized-ops first";
          })
          .Case([&](RotateOp o) {
            return o.emitOpError() << "is an unfolded rotation: run "
                                      "--tfm-fold-rotations first";
          })
          .Default([&](Operation *o) {
            return o->emitOpError() << "has no lowering to the runtime";
          });
  if (failed(result))
    return failure();
  releaseDead(op);
  return success();
}

LogicalResult ForwardBuilder::lowerEmbedding(EmbeddingOp op) {
  FailureOr<Value> table = weightPointer(op.getTable(), op);
  if (failed(table))
    return failure();
  auto shape = cast<ShapedType>(op.getTable().getType()).getShape();
  Rows out = newRows(op, op.getResult());
  call("respin_rt_embedding", {*table, constI64(shape[0]), constI64(shape[1]),
                               tokens, tokenCount, out.ptr,
                               constI64(out.stride)});
  return success();
}

LogicalResult ForwardBuilder::lowerRMSNorm(RMSNormOp op) {
  FailureOr<Rows> in = rowsOf(op.getInput(), op);
  if (failed(in))
    return failure();
  Value gain = nullPtr();
  if (op.getGain()) {
    FailureOr<Value> ptr = weightPointer(op.getGain(), op);
    if (failed(ptr))
      return failure();
    gain = *ptr;
  }
  Rows out = newRows(op, op.getResult());
  call("respin_rt_rmsnorm_gain",
       {in->ptr, constI64(in->stride), out.ptr, constI64(out.stride),
        tokenCount, constI64(in->stride),
        constF32(op.getEpsilon().convertToDouble()), gain});
  return success();
}

LogicalResult ForwardBuilder::lowerLinear(LinearOp op) {
  if (op.getBias())
    return op.emitOpError() << "has a bias, which the compiled float linear "
                               "does not add";
  FailureOr<Rows> in = rowsOf(op.getInput(), op);
  FailureOr<Value> weight = weightPointer(op.getWeight(), op);
  if (failed(in) || failed(weight))
    return failure();
  auto shape = cast<ShapedType>(op.getWeight().getType()).getShape();
  Rows out = newRows(op, op.getResult());
  call("respin_rt_linear_f32",
       {*weight, constI64(shape[1]), constI64(shape[0]), constI64(shape[1]),
        tokenCount, in->ptr, constI64(in->stride), out.ptr,
        constI64(out.stride), constI32(0)});
  return success();
}

LogicalResult ForwardBuilder::lowerRope(RopeOp op) {
  if (failed(checkPositions(op.getPositions(), op)))
    return failure();
  if (op.getScaling())
    return op.emitOpError() << "uses RoPE frequency scaling, which the "
                               "runtime's RoPE does not implement";
  if (op.getRotaryDim() != op.getHeadDim())
    return op.emitOpError() << "rotates " << op.getRotaryDim() << " of "
                            << op.getHeadDim()
                            << " dimensions; the runtime rotates whole heads";
  if (failed(rowsOf(op.getInput(), op)))
    return failure();
  Rows out = inPlaceRows(op, op.getInput(), op.getResult());
  int32_t layout = op.getLayout() == RopeLayout::interleaved
                       ? RESPIN_RT_ROPE_INTERLEAVED
                       : RESPIN_RT_ROPE_HALF_SPLIT;
  call("respin_rt_rope",
       {out.ptr, constI64(out.stride), tokenCount, constI64(op.getNumHeads()),
        constI64(op.getHeadDim()), pos0,
        constF32(op.getTheta().convertToDouble()), constI32(layout)});
  return success();
}

LogicalResult ForwardBuilder::lowerHadamard(HadamardOp op) {
  if (op.getTranspose())
    return op.emitOpError() << "is a transposed Hadamard; the runtime applies "
                               "H only";
  if (failed(rowsOf(op.getInput(), op)))
    return failure();
  Rows out = inPlaceRows(op, op.getInput(), op.getResult());
  int64_t block = op.getBlockSize();
  // Each row is stride / block contiguous blocks.
  Value blocks = builder.create<arith::MulIOp>(loc, tokenCount,
                                               constI64(out.stride / block));
  call("respin_rt_hadamard_rows",
       {out.ptr, constI64(block), blocks, constI64(block)});
  return success();
}

LogicalResult ForwardBuilder::lowerSiluMul(SiluMulOp op) {
  FailureOr<Rows> gate = rowsOf(op.getGate(), op);
  FailureOr<Rows> up = rowsOf(op.getUp(), op);
  if (failed(gate) || failed(up))
    return failure();
  Rows out = newRows(op, op.getResult());
  call("respin_rt_silu_mul",
       {gate->ptr, constI64(gate->stride), up->ptr, constI64(up->stride),
        out.ptr, constI64(out.stride), tokenCount, constI64(out.stride)});
  return success();
}

LogicalResult ForwardBuilder::lowerAdd(AddOp op) {
  FailureOr<Rows> lhs = rowsOf(op.getLhs(), op);
  FailureOr<Rows> rhs = rowsOf(op.getRhs(), op);
  if (failed(lhs) || failed(rhs))
    return failure();
  Rows out = newRows(op, op.getResult());
  call("respin_rt_add", {lhs->ptr, constI64(lhs->stride), rhs->ptr,
                         constI64(rhs->stride), out.ptr, constI64(out.stride),
                         tokenCount, constI64(out.stride)});
  return success();
}

LogicalResult ForwardBuilder::lowerTransition(TransitionOp op) {
  FailureOr<Rows> in = rowsOf(op.getInput(), op);
  FailureOr<Eigen::MatrixXd> from = readWeight(op.getFrom());
  FailureOr<Eigen::MatrixXd> to = readWeight(op.getTo());
  if (failed(in) || failed(from) || failed(to))
    return failure();
  // h <- R_to R_from^T h, i.e. a linear with W = R_to R_from^T, folded in
  // double precision.
  Eigen::MatrixXd w = (*to) * from->transpose();
  int64_t d = w.rows();
  std::vector<float> values;
  for (int64_t r = 0; r < d; ++r)
    for (int64_t c = 0; c < d; ++c)
      values.push_back(float(w(r, c)));
  Value weight = derivedWeight("transition", {d, d}, std::move(values));
  Rows out = newRows(op, op.getResult());
  call("respin_rt_linear_f32",
       {weight, constI64(d), constI64(d), constI64(d), tokenCount, in->ptr,
        constI64(in->stride), out.ptr, constI64(out.stride), constI32(0)});
  return success();
}

LogicalResult ForwardBuilder::lowerAdapter(ResidualAdapterOp op) {
  FailureOr<Eigen::MatrixXd> basis = readWeight(op.getBasis());
  FailureOr<Eigen::MatrixXd> update = readWeight(op.getUpdate());
  if (failed(rowsOf(op.getInput(), op)) || failed(basis) || failed(update))
    return failure();
  int64_t d = basis->rows(), r = basis->cols();
  // The runtime streams Q^T (r x D) row by row.
  std::vector<float> qT, m;
  for (int64_t j = 0; j < r; ++j)
    for (int64_t i = 0; i < d; ++i)
      qT.push_back(float((*basis)(i, j)));
  for (int64_t a = 0; a < r; ++a)
    for (int64_t b = 0; b < r; ++b)
      m.push_back(float((*update)(a, b)));
  Value qPtr = derivedWeight("adapter.basis_t", {r, d}, std::move(qT));
  Value mPtr = derivedWeight("adapter.update", {r, r}, std::move(m));
  Rows out = inPlaceRows(op, op.getInput(), op.getResult());
  call("respin_rt_residual_adapter",
       {out.ptr, constI64(out.stride), nullPtr(), constI64(0), tokenCount,
        constI64(d), constI64(r), qPtr, mPtr});
  return success();
}

LogicalResult ForwardBuilder::lowerQuantizeRows(QuantizeRowsOp op) {
  FailureOr<Rows> in = rowsOf(op.getInput(), op);
  if (failed(in))
    return failure();
  QuantizedRowsType type = op.getType();
  int64_t columns = type.getColumns(), groups = type.getNumGroups();
  Rows source = *in;
  int64_t scratchOffset = -1, scratchBytes = 0;
  if (std::optional<int64_t> block = op.getHadamardBlock()) {
    // The Hadamard must not clobber an input that others still read.
    scratchBytes = maxTokens * columns * int64_t(sizeof(float));
    scratchOffset = plan.allocate(scratchBytes);
    Value scratch = offsetPtr(workspace, scratchOffset);
    builder.create<LLVM::MemcpyOp>(
        loc, scratch, in->ptr, rowsBytes(in->stride * int64_t(sizeof(float))),
        /*isVolatile=*/false);
    Value blocks = builder.create<arith::MulIOp>(loc, tokenCount,
                                                 constI64(columns / *block));
    call("respin_rt_hadamard_rows",
         {scratch, constI64(*block), blocks, constI64(*block)});
    source.ptr = scratch;
    source.stride = columns;
  }
  QuantRows out;
  out.columns = columns;
  out.groups = groups;
  int64_t codeBytes = (maxTokens * columns + 63) / 64 * 64;
  int64_t scaleBytes = (maxTokens * groups * 4 + 63) / 64 * 64;
  out.bytes = codeBytes + 2 * scaleBytes;
  out.offset = plan.allocate(out.bytes);
  out.codes = offsetPtr(workspace, out.offset);
  out.scales = offsetPtr(workspace, out.offset + codeBytes);
  out.zeros = offsetPtr(workspace, out.offset + codeBytes + scaleBytes);
  call("respin_rt_quantize_rows",
       {source.ptr, constI64(source.stride), tokenCount, constI64(columns),
        constI32(type.getBits()), constI32(op.getSymmetric() ? 1 : 0),
        constF32(op.getClip().convertToDouble()), constI64(type.getGroup()),
        out.codes, constI64(columns), out.scales, out.zeros});
  if (scratchOffset >= 0)
    plan.release(scratchOffset, scratchBytes);
  quantRows[op.getResult()] = out;
  return success();
}

LogicalResult ForwardBuilder::lowerQuantizedLinear(QuantizedLinearOp op) {
  auto it = quantRows.find(op.getInput());
  if (it == quantRows.end())
    return op.emitOpError() << "reads quantized rows not produced by "
                               "tfm.quantize_rows in this function";
  QuantRows in = it->second;
  FailureOr<Value> weight = weightPointer(op.getWeight(), op);
  if (failed(weight))
    return failure();
  PackedWeightsType type = op.getWeight().getType();
  Rows out;
  uint32_t flags = 0;
  if (Value accumulator = op.getAccumulator()) {
    if (failed(rowsOf(accumulator, op)))
      return failure();
    out = inPlaceRows(op, accumulator, op.getResult());
    flags = RESPIN_RT_ACCUMULATE;
  } else {
    out = newRows(op, op.getResult());
  }
  int64_t xGroup = op.getInput().getType().getGroup();
  if (type.isNibblePacked()) {
    size_t size = respin_rt_packed_weights_size(
        int(type.getBits()), type.getRows(), type.getColumns(), type.getGroup());
    call("respin_rt_qlinear",
         {*weight, constI64(int64_t(size)), tokenCount, in.codes,
          constI64(in.columns), in.scales, in.zeros, constI64(xGroup), out.ptr,
          constI64(out.stride), constI32(flags)});
  } else {
    int64_t scalesOffset =
        (type.getRows() * type.getColumns() + 63) / 64 * 64;
    call("respin_rt_qlinear_s8",
         {*weight, constI64(type.getColumns()),
          offsetPtr(*weight, scalesOffset), constI64(type.getRows()),
          constI64(type.getColumns()), constI64(type.getGroup()), tokenCount,
          in.codes, constI64(in.columns), in.scales, in.zeros,
          constI64(xGroup), out.ptr, constI64(out.stride), constI32(flags)});
  }
  return success();
}

LogicalResult ForwardBuilder::lowerKVAppend(KVAppendOp op) {
  if (failed(checkPositions(op.getPositions(), op)))
    return failure();
  FailureOr<Rows> key = rowsOf(op.getKey(), op);
  FailureOr<Rows> value = rowsOf(op.getValue(), op);
  if (failed(key) || failed(value))
    return failure();
  auto index = cacheIndex.find(op.getCache());
  if (index == cacheIndex.end())
    return op.emitOpError() << "cache is not an argument of the function";
  Value cache = loadPointer(cacheTable, index->second);
  call("respin_rt_kv_append",
       {cache, pos0, tokenCount, key->ptr, constI64(key->stride), value->ptr,
        constI64(value->stride), constF32(op.getClip().convertToDouble())});
  return success();
}

LogicalResult ForwardBuilder::lowerCachedAttention(CachedAttentionOp op) {
  if (failed(checkPositions(op.getPositions(), op)))
    return failure();
  FailureOr<Rows> query = rowsOf(op.getQuery(), op);
  if (failed(query))
    return failure();
  auto index = cacheIndex.find(op.getCache());
  if (index == cacheIndex.end())
    return op.emitOpError() << "cache is not an argument of the function";
  Value cache = loadPointer(cacheTable, index->second);
  Rows out = newRows(op, op.getResult());
  call("respin_rt_attention",
       {cache, pos0, tokenCount, query->ptr, constI64(query->stride),
        constI64(op.getNumHeads()), constF32(op.getScale().convertToDouble()),
        out.ptr, constI64(out.stride)});
  return success();
}

LogicalResult ForwardBuilder::lowerReturn(func::ReturnOp op) {
  FailureOr<Rows> result = rowsOf(returned, op);
  if (failed(result))
    return failure();
  if (result->ptr != logits)
    builder.create<LLVM::MemcpyOp>(
        loc, logits, result->ptr,
        rowsBytes(result->stride * int64_t(sizeof(float))),
        /*isVolatile=*/false);
  builder.create<cf::BranchOp>(loc, exitBlock, ValueRange{constI32(0)});
  return success();
}

std::string ForwardBuilder::manifest() const {
  std::string text = RESPIN_MODEL_MANIFEST_MAGIC "\n";
  text += "runtime-abi " + std::to_string(RESPIN_RT_ABI_VERSION) + "\n";
  text += "name " + prefix + "\n";
  text += "vocab " + std::to_string(vocab) + "\n";
  text += "max-tokens " + std::to_string(maxTokens) + "\n";
  text += "workspace " + std::to_string(plan.size()) + "\n";
  for (size_t i = 0; i < cacheTypes.size(); ++i)
    text += "kv-cache " + std::to_string(cacheSlots[i]) + " " +
            std::to_string(cacheTypes[i].getBits()) + " " +
            std::to_string(cacheTypes[i].getKvHeads()) + " " +
            std::to_string(cacheTypes[i].getHeadDim()) + "\n";
  return text + table.manifestLines();
}

bool isCIdentifier(StringRef name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  return llvm::all_of(name, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

struct ConvertTfmToRuntimePass
    : tfm::impl::ConvertTfmToRuntimePassBase<ConvertTfmToRuntimePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!isCIdentifier(prefix)) {
      module.emitError() << "prefix '" << prefix
                         << "' is not a C identifier";
      return signalPassFailure();
    }
    if (maxTokens < 1 || maxTokens > (int64_t(1) << 20)) {
      module.emitError() << "max-tokens=" << int64_t(maxTokens)
                         << " must be in [1, 2^20]";
      return signalPassFailure();
    }
    auto source = module.lookupSymbol<func::FuncOp>(respin::kForwardFunctionName);
    if (!source || source.isExternal()) {
      module.emitError() << "has no @" << respin::kForwardFunctionName
                         << " function to compile";
      return signalPassFailure();
    }
    if (!source.getBody().hasOneBlock()) {
      source.emitOpError() << "must be straight-line code (one block)";
      return signalPassFailure();
    }
    ForwardBuilder forward(module, source, prefix, maxTokens);
    if (failed(forward.build()))
      return signalPassFailure();
    for (const CompiledWeights::Entry &entry : forward.weights().entries())
      if (llvm::any_of(entry.name, [](char c) { return std::isspace(c); })) {
        module.emitError() << "weight name '" << entry.name
                           << "' contains white space";
        return signalPassFailure();
      }

    std::string manifest = forward.manifest();
    OpBuilder builder(module.getContext());
    builder.setInsertionPointToEnd(module.getBody());
    std::string bytes = manifest + '\0';
    auto arrayType = LLVM::LLVMArrayType::get(builder.getI8Type(), bytes.size());
    builder.create<LLVM::GlobalOp>(module.getLoc(), arrayType,
                                   /*isConstant=*/true, LLVM::Linkage::External,
                                   prefix + "_manifest",
                                   builder.getStringAttr(bytes));
    if (!weightsFile.empty()) {
      respin::OutputSet *outputs =
          module.getContext()->getOrLoadDialect<TfmDialect>()->outputSet;
      const respin::TokenizerData *tokenizer =
          getParameterSet(module.getContext()).tokenizer();
      if (llvm::Error error = forward.weights().write(
              weightsFile, prefix, tokenizer ? tokenizer->toJson() : "",
              outputs)) {
        module.emitError() << llvm::toString(std::move(error));
        return signalPassFailure();
      }
    }
    // The graph is now code; its weights live in the compiled archive.
    source.erase();
    module->removeAttr(TfmDialect::getParametersAttrName());
    SmallVector<Operation *> dead;
    for (Operation &op : *module.getBody())
      if (isa<ParamOp, PackedParamOp>(op))
        dead.push_back(&op);
    for (Operation *op : dead)
      op->erase();
  }
};

} // namespace
