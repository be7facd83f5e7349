//===- TfmDialect.cpp - tfm dialect registration --------------------------===//

#include "respin/Dialect/Tfm/IR/TfmDialect.h"
#include "respin/Dialect/Tfm/IR/TfmAttrs.h"
#include "respin/Dialect/Tfm/IR/TfmOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tfm;

#include "respin/Dialect/Tfm/IR/TfmOpsDialect.cpp.inc"

void TfmDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "respin/Dialect/Tfm/IR/TfmOps.cpp.inc"
      >();
  registerAttributes();
}

LogicalResult TfmDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() != getParametersAttrName())
    return op->emitError() << "unknown tfm attribute '"
                           << attr.getName().getValue() << "'";
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << getParametersAttrName()
                           << "' is only valid on a module";
  auto path = dyn_cast<StringAttr>(attr.getValue());
  if (!path || path.getValue().empty())
    return op->emitError() << "'" << getParametersAttrName()
                           << "' must be a non-empty string (the parameter "
                              "archive path)";
  return success();
}
