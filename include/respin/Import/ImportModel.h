//===- ImportModel.h - Checkpoints to tfm IR -------------------*- C++ -*-===//
//
// Builds the tfm forward function of a LLaMA-family checkpoint and writes a
// model as the pair (IR file, parameter archive).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_IMPORT_IMPORTMODEL_H
#define RESPIN_IMPORT_IMPORTMODEL_H

#include "respin/Formats/Checkpoint.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace respin {

/// Name of the function every imported model defines.
constexpr llvm::StringLiteral kForwardFunctionName = "forward";

/// Builds `module attributes {tfm.parameters = archiveName}` holding
/// `func.func @forward(%tokens, %positions) -> logits` for `checkpoint`.
/// The checkpoint must have been validated.
mlir::OwningOpRef<mlir::ModuleOp>
buildModelModule(mlir::MLIRContext &context, const Checkpoint &checkpoint,
                 llvm::StringRef archiveName);

/// The archive path that goes with IR file `mlirPath`: same directory and
/// stem, extension ".safetensors".
std::string archivePathFor(llvm::StringRef mlirPath);

/// Writes the archive next to `mlirPath` and the IR, both or neither
/// (staged, then renamed into place together). Refuses to replace a file
/// the import read (the checkpoint's own files) and an IR path that would
/// be its own archive.
llvm::Error writeImportedModel(mlir::MLIRContext &context,
                               const Checkpoint &checkpoint,
                               llvm::StringRef mlirPath);

} // namespace respin

#endif // RESPIN_IMPORT_IMPORTMODEL_H
