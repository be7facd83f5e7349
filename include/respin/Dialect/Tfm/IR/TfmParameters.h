//===- TfmParameters.h - Resolving tfm.param against archives --*- C++ -*-===//
//
// A module names its parameter archives in `tfm.parameters` (one path or a
// list, later ones overriding earlier ones, relative paths resolved against
// the parameter set's base directory). These helpers map them into the
// context's ParameterSet and find the tensor behind a tfm.param, checking its
// shape and element type against the IR.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMPARAMETERS_H
#define RESPIN_DIALECT_TFM_IR_TFMPARAMETERS_H

#include "respin/Dialect/Tfm/IR/TfmOps.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::tfm {

/// The parameter set of `context` (loads the tfm dialect if needed).
respin::ParameterSet &getParameterSet(MLIRContext *context);

/// The archive paths `module` names, in layering order.
SmallVector<std::string> getArchivePaths(ModuleOp module);

/// Sets the module's archive list.
void setArchivePaths(ModuleOp module, ArrayRef<std::string> paths);

/// Maps the module's archives into the context's parameter set. Errors are
/// emitted on the module.
LogicalResult loadParameters(ModuleOp module);

/// The tensor behind `param` (mapping the module's archives first if
/// needed); emits an error on `param` when it is missing or
/// its shape or element type differ from the IR.
FailureOr<const respin::TensorView *> lookupParameter(ParamOp param);

/// Writes a file that a pass produces (`role` names it in errors, e.g.
/// "report of --tfm-quantize-weights"): staged in the context's OutputSet
/// when a tool set one, else atomically on its own.
llvm::Error writePassOutput(MLIRContext *context, StringRef path,
                            StringRef role, respin::OutputWriteFn write);

/// The element type that stores `dtype` in IR.
Type elementTypeFor(MLIRContext *context, respin::DType dtype);

} // namespace mlir::tfm

#endif // RESPIN_DIALECT_TFM_IR_TFMPARAMETERS_H
