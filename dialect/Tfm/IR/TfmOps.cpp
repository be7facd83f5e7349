//===- TfmOps.cpp - tfm dialect operation verifiers -----------------------===//
//
// Verifiers check every size they can see statically: feature widths of the
// rank-2 activations, weight shapes, head counts and head sizes. The token
// (row) dimension is usually dynamic; when two static row counts disagree
// that is an error too.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Numerics/Hadamard.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tfm;

namespace {
/// Rows and features of a rank-2 activation or matrix type.
int64_t rows(Value value) { return cast<ShapedType>(value.getType()).getDimSize(0); }
int64_t cols(Value value) { return cast<ShapedType>(value.getType()).getDimSize(1); }
int64_t length(Value value) { return cast<ShapedType>(value.getType()).getDimSize(0); }

bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string dimString(int64_t dim) {
  return ShapedType::isDynamic(dim) ? std::string("?") : std::to_string(dim);
}

/// Whether `width` can be `heads` x `headDim` (`heads` > 0): true when it is
/// dynamic, else computed without overflowing the product.
bool isHeadsTimesDim(int64_t width, int64_t heads, int64_t headDim) {
  return ShapedType::isDynamic(width) ||
         (width % heads == 0 && width / heads == headDim);
}

/// Row counts of all `values` must agree where static (pairwise, so that a
/// dynamic first value does not hide a mismatch between the others).
LogicalResult verifySameRows(Operation *op, ArrayRef<Value> values,
                             ArrayRef<StringRef> names) {
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j = i + 1; j < values.size(); ++j) {
      if (!compatible(rows(values[i]), rows(values[j])))
        return op->emitOpError()
               << names[i] << " has " << dimString(rows(values[i]))
               << " rows but " << names[j] << " has "
               << dimString(rows(values[j]));
    }
  }
  return success();
}
} // namespace

#define GET_OP_CLASSES
#include "respin/Dialect/Tfm/IR/TfmOps.cpp.inc"

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError() << "needs a non-empty parameter name";
  Type element = getType().getElementType();
  // i8: integer codes of quantized weights (tfm.dequantize).
  if (!element.isF32() && !element.isF16() && !element.isBF16() &&
      !element.isF64() && !element.isSignlessInteger(8))
    return emitOpError() << "parameter '" << getName()
                         << "' must have f64, f32, f16, bf16 or i8 elements, "
                            "got "
                         << element;
  return success();
}

LogicalResult EmbeddingOp::verify() {
  if (!compatible(cols(getResult()), cols(getTable())))
    return emitOpError() << "result width " << cols(getResult())
                         << " does not match the embedding width "
                         << cols(getTable());
  if (!compatible(rows(getResult()), length(getTokens())))
    return emitOpError() << "result has " << dimString(rows(getResult()))
                         << " rows but there are "
                         << dimString(length(getTokens())) << " tokens";
  return success();
}

LogicalResult RMSNormOp::verify() {
  if (getInput().getType() != getResult().getType())
    return emitOpError() << "result type " << getResult().getType()
                         << " differs from the input type "
                         << getInput().getType();
  if (getGain() && !compatible(length(getGain()), cols(getInput())))
    return emitOpError() << "gain has " << length(getGain())
                         << " elements but rows have " << cols(getInput());
  return success();
}

LogicalResult LinearOp::verify() {
  int64_t outFeatures = rows(getWeight()), inFeatures = cols(getWeight());
  if (!compatible(cols(getInput()), inFeatures))
    return emitOpError() << "input width " << cols(getInput())
                         << " does not match weight [" << dimString(outFeatures)
                         << ", " << inFeatures << "] (expected " << inFeatures
                         << ")";
  if (!compatible(cols(getResult()), outFeatures))
    return emitOpError() << "result width " << cols(getResult())
                         << " does not match weight [" << outFeatures << ", "
                         << dimString(inFeatures) << "] (expected "
                         << outFeatures << ")";
  if (getBias() && !compatible(length(getBias()), outFeatures))
    return emitOpError() << "bias has " << length(getBias())
                         << " elements but the weight has " << outFeatures
                         << " outputs";
  return verifySameRows(*this, {getInput(), getResult()}, {"input", "result"});
}

LogicalResult RopeOp::verify() {
  int64_t heads = getNumHeads(), headDim = getHeadDim(),
          rotary = getRotaryDim();
  if (!isHeadsTimesDim(cols(getInput()), heads, headDim))
    return emitOpError() << "input width " << cols(getInput()) << " is not "
                         << heads << " heads x " << headDim;
  if (rotary > headDim || rotary % 2 != 0)
    return emitOpError() << "rotary_dim " << rotary
                         << " must be even and at most head_dim " << headDim;
  if (getInput().getType() != getResult().getType())
    return emitOpError() << "result type " << getResult().getType()
                         << " differs from the input type "
                         << getInput().getType();
  return verifySameRows(*this, {getInput(), getPositions()},
                        {"input", "positions"});
}

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(),
          headDim = getHeadDim();
  if (heads % kvHeads != 0)
    return emitOpError() << "num_heads " << heads
                         << " is not a multiple of num_kv_heads " << kvHeads;
  if (!isHeadsTimesDim(cols(getQuery()), heads, headDim))
    return emitOpError() << "query width " << cols(getQuery()) << " is not "
                         << heads << " heads x " << headDim;
  if (!isHeadsTimesDim(cols(getKey()), kvHeads, headDim))
    return emitOpError() << "key width " << cols(getKey()) << " is not "
                         << kvHeads << " kv heads x " << headDim;
  if (!isHeadsTimesDim(cols(getValue()), kvHeads, headDim))
    return emitOpError() << "value width " << cols(getValue()) << " is not "
                         << kvHeads << " kv heads x " << headDim;
  if (!isHeadsTimesDim(cols(getResult()), heads, headDim))
    return emitOpError() << "result width " << cols(getResult()) << " is not "
                         << heads << " heads x " << headDim;
  return verifySameRows(*this, {getQuery(), getKey(), getValue(), getResult()},
                        {"query", "key", "value", "result"});
}

/// A square rotation matrix of size n; the error names `what`.
static LogicalResult verifySquare(Operation *op, Value matrix,
                                  StringRef what) {
  if (rows(matrix) != cols(matrix))
    return op->emitOpError() << what << " must be square, got "
                             << dimString(rows(matrix)) << "x"
                             << dimString(cols(matrix));
  return success();
}

LogicalResult RotateOp::verify() {
  if (failed(verifySquare(*this, getRotation(), "rotation")))
    return failure();
  int64_t size = rows(getRotation()), width = cols(getInput());
  if (!ShapedType::isDynamic(width) && !ShapedType::isDynamic(size) &&
      !isHeadsTimesDim(width, getBlocks(), size))
    return emitOpError() << "input width " << width << " is not "
                         << getBlocks() << " blocks of the " << size << "x"
                         << size << " rotation";
  return success();
}

LogicalResult HadamardOp::verify() {
  if (!respin::isSupportedHadamardSize(getBlockSize()))
    return emitOpError() << llvm::toString(
               respin::getHadamardSplit(getBlockSize()).takeError());
  int64_t width = cols(getInput());
  if (!ShapedType::isDynamic(width) && width % getBlockSize() != 0)
    return emitOpError() << "block_size " << getBlockSize()
                         << " does not divide the input width " << width;
  return success();
}

LogicalResult TransitionOp::verify() {
  if (failed(verifySquare(*this, getFrom(), "'from' basis")) ||
      failed(verifySquare(*this, getTo(), "'to' basis")))
    return failure();
  if (!compatible(rows(getFrom()), cols(getInput())) ||
      !compatible(rows(getTo()), cols(getInput())))
    return emitOpError() << "bases of size " << dimString(rows(getFrom()))
                         << " and " << dimString(rows(getTo()))
                         << " do not match the input width "
                         << dimString(cols(getInput()));
  return success();
}

LogicalResult ResidualAdapterOp::verify() {
  int64_t width = cols(getInput()), dim = rows(getBasis()),
          rank = cols(getBasis());
  if (!compatible(dim, width))
    return emitOpError() << "basis has " << dimString(dim)
                         << " rows but the input width is "
                         << dimString(width);
  if (!compatible(rows(getUpdate()), rank) ||
      !compatible(cols(getUpdate()), rank))
    return emitOpError() << "update must be " << dimString(rank) << "x"
                         << dimString(rank) << " for a rank-"
                         << dimString(rank) << " basis, got "
                         << dimString(rows(getUpdate())) << "x"
                         << dimString(cols(getUpdate()));
  return success();
}
