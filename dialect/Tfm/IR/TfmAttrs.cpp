//===- TfmAttrs.cpp - tfm dialect attributes ------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmAttrs.h"
#include "respin/Dialect/Tfm/IR/TfmDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tfm;

#include "respin/Dialect/Tfm/IR/TfmEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "respin/Dialect/Tfm/IR/TfmAttrs.cpp.inc"

LogicalResult
RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        APFloat factorValue, APFloat lowFreqValue,
                        APFloat highFreqValue, int64_t originalMaxPositions) {
  double factor = factorValue.convertToDouble();
  double lowFreqFactor = lowFreqValue.convertToDouble();
  double highFreqFactor = highFreqValue.convertToDouble();
  if (!std::isfinite(factor) || !(factor >= 1.0))
    return emitError() << "rope scaling factor must be finite and >= 1, got "
                       << factor;
  if (!(lowFreqFactor > 0.0) || !(highFreqFactor > lowFreqFactor) ||
      !std::isfinite(highFreqFactor))
    return emitError() << "rope scaling needs 0 < low_freq_factor < "
                          "high_freq_factor, got "
                       << lowFreqFactor << " and " << highFreqFactor;
  if (originalMaxPositions <= 0)
    return emitError() << "rope scaling original_max_positions must be "
                          "positive, got "
                       << originalMaxPositions;
  return success();
}

void TfmDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "respin/Dialect/Tfm/IR/TfmAttrs.cpp.inc"
      >();
}
