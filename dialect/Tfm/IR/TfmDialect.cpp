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
  registerTypes();
  parameterSet = std::make_unique<respin::ParameterSet>();
}

LogicalResult TfmDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() != getParametersAttrName())
    return op->emitError() << "unknown tfm attribute '"
                           << attr.getName().getValue() << "'";
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << getParametersAttrName()
                           << "' is only valid on a module";
  // One archive path, or a list of them (later ones override earlier ones).
  auto isPath = [](Attribute value) {
    auto path = dyn_cast<StringAttr>(value);
    return path && !path.getValue().empty();
  };
  Attribute value = attr.getValue();
  if (isPath(value))
    return success();
  if (auto list = dyn_cast<ArrayAttr>(value);
      list && !list.empty() && llvm::all_of(list, isPath))
    return success();
  return op->emitError() << "'" << getParametersAttrName()
                         << "' must be a non-empty string (the parameter "
                            "archive path) or a non-empty array of them";
}
