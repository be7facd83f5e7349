//===- TfmParameters.cpp - Resolving tfm.param against archives -----------===//

#include "respin/Dialect/Tfm/IR/TfmParameters.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::tfm;

respin::ParameterSet &mlir::tfm::getParameterSet(MLIRContext *context) {
  return context->getOrLoadDialect<TfmDialect>()->getParameterSet();
}

SmallVector<std::string> mlir::tfm::getArchivePaths(ModuleOp module) {
  SmallVector<std::string> paths;
  Attribute value = module->getAttr(TfmDialect::getParametersAttrName());
  if (auto path = dyn_cast_or_null<StringAttr>(value))
    paths.push_back(path.str());
  else if (auto list = dyn_cast_or_null<ArrayAttr>(value))
    for (Attribute element : list)
      if (auto path = dyn_cast<StringAttr>(element))
        paths.push_back(path.str());
  return paths;
}

void mlir::tfm::setArchivePaths(ModuleOp module, ArrayRef<std::string> paths) {
  Builder builder(module.getContext());
  if (paths.size() == 1) {
    module->setAttr(TfmDialect::getParametersAttrName(),
                    builder.getStringAttr(paths.front()));
    return;
  }
  SmallVector<Attribute> list;
  for (const std::string &path : paths)
    list.push_back(builder.getStringAttr(path));
  module->setAttr(TfmDialect::getParametersAttrName(),
                  builder.getArrayAttr(list));
}

LogicalResult mlir::tfm::loadParameters(ModuleOp module) {
  respin::ParameterSet &parameters = getParameterSet(module.getContext());
  for (const std::string &path : getArchivePaths(module))
    if (llvm::Error error = parameters.addArchive(path))
      return module.emitError() << llvm::toString(std::move(error));
  return success();
}

llvm::Error mlir::tfm::writePassOutput(MLIRContext *context, StringRef path,
                                      StringRef role,
                                      respin::OutputWriteFn write) {
  if (respin::OutputSet *outputs =
          context->getOrLoadDialect<TfmDialect>()->outputSet)
    return outputs->write(path, role, write);
  return respin::writeFileAtomically(path, write);
}

Type mlir::tfm::elementTypeFor(MLIRContext *context, respin::DType dtype) {
  Builder builder(context);
  switch (dtype) {
  case respin::DType::F32:
    return builder.getF32Type();
  case respin::DType::F16:
    return builder.getF16Type();
  case respin::DType::BF16:
    return builder.getBF16Type();
  case respin::DType::F64:
    return builder.getF64Type();
  case respin::DType::I8:
    return builder.getIntegerType(8);
  }
  return builder.getF32Type();
}

FailureOr<const respin::TensorView *> mlir::tfm::lookupParameter(ParamOp param) {
  // Archives are mapped on first use (addArchive skips those already there).
  if (auto module = param->getParentOfType<ModuleOp>())
    if (failed(loadParameters(module)))
      return failure();
  const respin::TensorView *tensor =
      getParameterSet(param.getContext()).lookup(param.getName());
  if (!tensor)
    return param.emitOpError()
           << "parameter '" << param.getName()
           << "' is not in the parameter archives";
  RankedTensorType type = param.getType();
  bool sameShape = llvm::equal(type.getShape(), tensor->shape);
  if (!sameShape ||
      elementTypeFor(param.getContext(), tensor->dtype) !=
          type.getElementType())
    return param.emitOpError()
           << "parameter '" << param.getName() << "' is "
           << respin::formatShape(tensor->shape) << " "
           << respin::dtypeName(tensor->dtype)
           << " in the archive but the IR says " << type;
  return tensor;
}
