//===- TfmQuantOps.cpp - Verifiers of the tfm quantization ops ------------===//
//
// tfm.fake_quant (dynamic activation / KV quantizers) and tfm.dequantize
// (integer weight codes with per-channel or group scales). The bit widths,
// clip ratios and group shapes they accept are the runtime's (respin_rt.h).
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace mlir::tfm;

/// Common bit-width check; 16 is the documented "off" value and gets its own
/// hint because option parsers pass it through.
static LogicalResult verifyBits(Operation *op, int64_t bits) {
  if (bits == 16)
    return op->emitOpError()
           << "bits must be in [2, 8], got 16 (16 bits means not quantized: "
              "leave the op out)";
  if (bits < 2 || bits > 8)
    return op->emitOpError() << "bits must be in [2, 8], got " << bits;
  return success();
}

static std::string shapeString(ShapedType type) {
  std::string text = "[";
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (i)
      text += ", ";
    text += type.isDynamicDim(i) ? std::string("?")
                                 : std::to_string(type.getDimSize(i));
  }
  return text + "]";
}

LogicalResult FakeQuantOp::verify() {
  if (failed(verifyBits(*this, getBits())))
    return failure();
  int64_t groupSize = getGroupSize();
  int64_t width = getInput().getType().getDimSize(1);
  if (groupSize > 0 && width % groupSize != 0)
    return emitOpError() << "group_size " << groupSize
                         << " does not divide the row width " << width;
  return success();
}

LogicalResult DequantizeOp::verify() {
  if (failed(verifyBits(*this, getBits())))
    return failure();
  auto codes = cast<RankedTensorType>(getCodes().getType());
  auto scales = cast<RankedTensorType>(getScales().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (!codes.hasStaticShape() || !scales.hasStaticShape())
    return emitOpError() << "codes and scales must have static shapes, got "
                         << codes << " and " << scales;
  if (result.getShape() != codes.getShape())
    return emitOpError() << "result shape " << shapeString(result)
                         << " differs from the codes shape "
                         << shapeString(codes);
  int64_t channels = codes.getDimSize(0), columns = codes.getDimSize(1);
  int64_t groupSize = getGroupSize();
  if (groupSize > 0 && columns % groupSize != 0)
    return emitOpError() << "group_size " << groupSize
                         << " does not divide the " << columns
                         << " input columns of the codes";
  int64_t groups = groupSize == 0 ? 1 : columns / groupSize;
  if (scales.getDimSize(0) != channels || scales.getDimSize(1) != groups)
    return emitOpError() << "scales must be [" << channels << ", " << groups
                         << "] (" << channels << " channels x " << groups
                         << (groups == 1 ? " group" : " groups") << "), got "
                         << shapeString(scales);
  if (Value zeros = getZeroPoints()) {
    auto zeroType = cast<RankedTensorType>(zeros.getType());
    if (zeroType.getShape() != scales.getShape())
      return emitOpError() << "zero_points must have the shape of the scales "
                           << shapeString(scales) << ", got "
                           << shapeString(zeroType);
  }
  return success();
}
