//===- TfmTypes.cpp - Types of lowered tfm graphs -------------------------===//
//
// The limits checked here are the runtime's (respin_rt.h): what a packed
// weight layout, an activation quantizer or a KV cache can hold.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tfm;

#define GET_TYPEDEF_CLASSES
#include "respin/Dialect/Tfm/IR/TfmOpsTypes.cpp.inc"

void TfmDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "respin/Dialect/Tfm/IR/TfmOpsTypes.cpp.inc"
      >();
}

/// A group of `group` columns (0: the whole row) must tile `columns`.
static LogicalResult verifyGroup(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t columns, int64_t group) {
  if (columns < 1)
    return emitError() << "columns must be positive, got " << columns;
  if (group < 0 || (group > 0 && columns % group != 0))
    return emitError() << "group " << group << " must be 0 (per row) or divide "
                       << columns << " columns";
  return success();
}

LogicalResult
PackedWeightsType::verify(function_ref<InFlightDiagnostic()> emitError,
                          int64_t bits, int64_t rows, int64_t columns,
                          int64_t group) {
  if (bits < 3 || bits > 8)
    return emitError() << "packed weights have 3 to 8 bits, got " << bits;
  if (rows < 1)
    return emitError() << "rows must be positive, got " << rows;
  if (failed(verifyGroup(emitError, columns, group)))
    return failure();
  if (bits <= 4 && group % 8 != 0)
    return emitError() << "the " << bits
                       << "-bit layout needs a group that is a multiple of 8, "
                          "got "
                       << group;
  // Every int32 partial sum of the runtime stays exact (respin_rt.h).
  if (columns > (int64_t(1) << 19))
    return emitError() << "at most 2^19 columns, got " << columns;
  return success();
}

LogicalResult
QuantizedRowsType::verify(function_ref<InFlightDiagnostic()> emitError,
                          int64_t bits, int64_t columns, int64_t group) {
  if (bits < 2 || bits > 8)
    return emitError() << "activation codes have 2 to 8 bits, got " << bits;
  return verifyGroup(emitError, columns, group);
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t bits, int64_t kvHeads,
                                  int64_t headDim) {
  if (bits != 4 && bits != 8 && bits != 32)
    return emitError() << "a KV cache holds 4- or 8-bit codes or f32 "
                          "(bits = 32), got "
                       << bits;
  if (kvHeads < 1)
    return emitError() << "kv_heads must be positive, got " << kvHeads;
  if (headDim < 2 || headDim % 2 != 0)
    return emitError() << "head_dim must be even and positive, got "
                       << headDim;
  return success();
}
