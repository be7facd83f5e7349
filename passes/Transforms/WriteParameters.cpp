//===- WriteParameters.cpp - Write pass-created tensors to an archive -----===//
//
// Only tensors the module still refers to are written (a rotation folded
// away is not). The new archive is layered last, so its tensors override
// same-named ones of the input archives.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Transforms/Passes.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMWRITEPARAMETERSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

/// How a module living in `moduleDir` refers to `absolute`: by file name
/// when it sits in that directory, otherwise by its absolute path.
std::string referenceFrom(StringRef moduleDir, StringRef absolute) {
  if (!moduleDir.empty() && llvm::sys::path::parent_path(absolute) == moduleDir)
    return llvm::sys::path::filename(absolute).str();
  return absolute.str();
}

std::string makeAbsolute(StringRef base, StringRef path) {
  llvm::SmallString<256> result(path);
  if (llvm::sys::path::is_relative(result) && !base.empty()) {
    result = base;
    llvm::sys::path::append(result, path);
  }
  llvm::sys::fs::make_absolute(result);
  llvm::sys::path::remove_dots(result, /*remove_dot_dot=*/true);
  return std::string(result);
}

struct WriteParametersPass
    : tfm::impl::TfmWriteParametersPassBase<WriteParametersPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    respin::ParameterSet &parameters = getParameterSet(&getContext());
    std::vector<std::string> referenced = referencedPendingTensors(module);

    SmallVector<std::string> archives;
    for (const std::string &archive : getArchivePaths(module))
      archives.push_back(rebase(archive, parameters.getBaseDirectory()));
    if (!referenced.empty()) {
      if (path.empty()) {
        module.emitError("passes created tensors but no archive path was "
                         "given (respin-opt derives it from -o, or use "
                         "--parameters-out)");
        return signalPassFailure();
      }
      if (llvm::Error error = parameters.writePending(path, &referenced)) {
        module.emitError() << llvm::toString(std::move(error));
        return signalPassFailure();
      }
      archives.push_back(
          relativeTo.empty() ? path : referenceFrom(relativeTo, makeAbsolute("", path)));
    }
    if (!archives.empty())
      setArchivePaths(module, archives);
  }

  std::vector<std::string> referencedPendingTensors(ModuleOp module) {
    llvm::StringSet<> pending;
    for (const std::string &name :
         getParameterSet(&getContext()).pendingNames())
      pending.insert(name);
    std::vector<std::string> referenced;
    llvm::StringSet<> seen;
    module.walk([&](ParamOp param) {
      if (pending.contains(param.getName()) &&
          seen.insert(param.getName()).second)
        referenced.push_back(param.getName().str());
    });
    return referenced;
  }

  /// Keeps an input archive reachable from the output's directory.
  std::string rebase(const std::string &archive, StringRef baseDir) {
    if (relativeTo.empty() || llvm::sys::path::is_absolute(archive))
      return archive;
    return referenceFrom(relativeTo, makeAbsolute(baseDir, archive));
  }
};
} // namespace
