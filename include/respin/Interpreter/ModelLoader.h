//===- ModelLoader.h - tfm IR to executable reference programs -*- C++ -*-===//
//
// Lowers a tfm forward function to the reference executor's Program,
// resolving tfm.param ops against a parameter archive (dtype and shape
// checked) and arith.constant weights inline. Loading a model file parses the
// IR, maps the archive named by `tfm.parameters` and builds the tokenizer.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_INTERPRETER_MODELLOADER_H
#define RESPIN_INTERPRETER_MODELLOADER_H

#include "respin/Executor/Program.h"
#include "respin/Formats/Checkpoint.h"
#include "respin/Formats/ParameterSet.h"
#include "respin/Formats/Tokenizer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/DenseMap.h"

namespace respin {

/// Registers the dialects that model IR files are written in.
void registerModelDialects(mlir::DialectRegistry &registry);

/// Lowers `func` to a Program. Parameters come from the context's
/// ParameterSet (the module's archives must be loaded). Problems are emitted
/// as MLIR diagnostics on the offending op. With `instructionIndex`, records
/// which instruction each op became (calibration observes chosen linears).
mlir::FailureOr<exec::Program>
buildProgram(mlir::func::FuncOp func,
             llvm::DenseMap<mlir::Operation *, int> *instructionIndex =
                 nullptr);

/// A model ready to run: IR, mapped weights (in the context's ParameterSet),
/// program and tokenizer.
struct LoadedModel {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  exec::Program program;
  std::unique_ptr<Tokenizer> tokenizer; ///< null when the archives have none

  ParameterSet &parameters() const;
};

/// Lowers the @forward function of an already loaded module (e.g. after
/// running passes on it) into `model`.
llvm::Error rebuildProgram(LoadedModel &model);

/// Whether loading also builds the executor program (which converts every
/// non-f32 weight to f32 in memory); compilers only need the IR.
enum class LoadMode { Executable, IROnly };

/// Loads an IR file written by respin-translate or respin-opt.
llvm::Expected<std::unique_ptr<LoadedModel>>
loadModelFile(llvm::StringRef mlirPath, LoadMode mode = LoadMode::Executable);

/// Builds a runnable model straight from an in-memory checkpoint (the IR an
/// import would write, without touching the disk).
llvm::Expected<std::unique_ptr<LoadedModel>>
loadModelFromCheckpoint(Checkpoint checkpoint,
                        LoadMode mode = LoadMode::Executable);

} // namespace respin

#endif // RESPIN_INTERPRETER_MODELLOADER_H
