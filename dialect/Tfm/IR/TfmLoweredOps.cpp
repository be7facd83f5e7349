//===- TfmLoweredOps.cpp - Verifiers of the lowered tfm ops ---------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tfm;

static int64_t columnsOf(Value value) {
  return cast<ShapedType>(value.getType()).getDimSize(1);
}

LogicalResult QuantizeRowsOp::verify() {
  QuantizedRowsType type = getType();
  if (columnsOf(getInput()) != type.getColumns())
    return emitOpError() << "input has " << columnsOf(getInput())
                         << " columns but the result type " << type.getColumns();
  if (std::optional<int64_t> block = getHadamardBlock();
      block && type.getColumns() % *block != 0)
    return emitOpError() << "hadamard_block " << *block << " does not divide "
                         << type.getColumns() << " columns";
  return success();
}

LogicalResult QuantizedLinearOp::verify() {
  QuantizedRowsType input = getInput().getType();
  PackedWeightsType weight = getWeight().getType();
  if (input.getColumns() != weight.getColumns())
    return emitOpError() << "input has " << input.getColumns()
                         << " columns but the weights " << weight.getColumns();
  if (columnsOf(getResult()) != weight.getRows())
    return emitOpError() << "result has " << columnsOf(getResult())
                         << " columns but the weights " << weight.getRows()
                         << " rows";
  if (input.getGroup() != 0 && input.getGroup() != weight.getGroup())
    return emitOpError() << "per-group activations need the weights' group ("
                         << weight.getGroup() << "), got group "
                         << input.getGroup();
  // The runtime's int32 accumulators hold K * 2^bx * 2^(bw-1) exactly.
  double bound = double(input.getColumns()) * std::ldexp(1.0, input.getBits()) *
                 std::ldexp(1.0, weight.getBits() - 1);
  if (bound >= std::ldexp(1.0, 31))
    return emitOpError() << input.getColumns() << " columns of " << input.getBits()
                         << "-bit activations and " << weight.getBits()
                         << "-bit weights overflow the int32 accumulator";
  if (getAccumulator() && getAccumulator().getType() != getResult().getType())
    return emitOpError() << "accumulator type " << getAccumulator().getType()
                         << " differs from the result type "
                         << getResult().getType();
  return success();
}

LogicalResult KVAppendOp::verify() {
  KVCacheType cache = getCache().getType();
  int64_t width = cache.getKvHeads() * cache.getHeadDim();
  for (auto [what, value] : {std::pair{"key", getKey()}, {"value", getValue()}})
    if (columnsOf(value) != width)
      return emitOpError() << what << " has " << columnsOf(value)
                           << " columns but the cache holds " << width
                           << " (kv_heads * head_dim)";
  return success();
}

LogicalResult CachedAttentionOp::verify() {
  KVCacheType cache = getCache().getType();
  int64_t heads = getNumHeads();
  if (heads % cache.getKvHeads() != 0)
    return emitOpError() << "num_heads " << heads
                         << " is not a multiple of the cache's kv_heads "
                         << cache.getKvHeads();
  if (columnsOf(getQuery()) != heads * cache.getHeadDim())
    return emitOpError() << "query has " << columnsOf(getQuery())
                         << " columns, expected num_heads * head_dim = "
                         << heads * cache.getHeadDim();
  if (getResult().getType() != getQuery().getType())
    return emitOpError() << "result type " << getResult().getType()
                         << " differs from the query type "
                         << getQuery().getType();
  return success();
}
