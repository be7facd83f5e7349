//===- WriteParameters.cpp - Write pass-created tensors to an archive -----===//
//
// Only tensors the module still refers to are written (a rotation folded
// away is not). The new archive is layered last, so its tensors override
// same-named ones of the input archives.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Formats/OutputSet.h"
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
    respin::OutputSet *outputs =
        getContext().getOrLoadDialect<TfmDialect>()->outputSet;
    std::vector<std::string> referenced = referencedPendingTensors(module);

    SmallVector<std::string> inputArchives = getArchivePaths(module);
    SmallVector<std::string> archives;
    for (const std::string &archive : inputArchives) {
      archives.push_back(rebase(archive, parameters.getBaseDirectory()));
      // Outputs of the run must not replace them, whether or not a pass
      // has mapped them yet.
      if (outputs)
        outputs->addInput(makeAbsolute(parameters.getBaseDirectory(), archive));
    }
    if (!referenced.empty()) {
      if (path.empty()) {
        emitError(module.getLoc(), "passes created tensors but no archive path was "
                         "given (respin-opt derives it from -o, or use "
                         "--parameters-out)");
        return signalPassFailure();
      }
      FailureOr<const respin::Checkpoint *> replaced =
          replacedArchive(module, inputArchives);
      if (failed(replaced))
        return signalPassFailure();
      if (*replaced && outputs)
        outputs->allowInPlace(path);
      if (llvm::Error error =
              parameters.writePending(path, &referenced, outputs, *replaced)) {
        emitError(module.getLoc()) << llvm::toString(std::move(error));
        return signalPassFailure();
      }
      std::string reference =
          relativeTo.empty() ? std::string(path)
                             : referenceFrom(relativeTo, makeAbsolute("", path));
      if (*replaced)
        archives.back() = reference;
      else
        archives.push_back(reference);
    }
    if (!archives.empty())
      setArchivePaths(module, archives);
  }

  /// The input archive that `path` replaces (in place, so the new archive
  /// must carry its tensors), null when `path` is a new file; fails when
  /// writing `path` would destroy weights the module reads.
  FailureOr<const respin::Checkpoint *>
  replacedArchive(ModuleOp module, ArrayRef<std::string> inputArchives) {
    respin::ParameterSet &parameters = getParameterSet(&getContext());
    for (size_t i = 0; i < inputArchives.size(); ++i) {
      std::string input =
          makeAbsolute(parameters.getBaseDirectory(), inputArchives[i]);
      if (!respin::isSameFile(path, input))
        continue;
      bool top = i + 1 == inputArchives.size();
      if (!inPlace || !top) {
        // On the module's location, without printing the whole module.
        InFlightDiagnostic diag = emitError(module.getLoc())
                                  << "the archive for new tensors, '"
                                  << std::string(path)
                                  << "', is the module's parameter archive '"
                                  << inputArchives[i]
                                  << "': it would lose the weights the module "
                                     "reads from there; ";
        if (!inPlace)
          diag << "write the new tensors to another file (--parameters-out), "
                  "or rewrite the model in place (--in-place)";
        else
          diag << "only the top (last) archive can be rewritten in place";
        return failure();
      }
      if (failed(loadParameters(module)))
        return failure();
      if (const respin::Checkpoint *layer = parameters.archive(inputArchives[i]))
        return layer;
      return emitError(module.getLoc()) << "archive '" << inputArchives[i]
                                << "' is not loaded; cannot rewrite it";
    }
    return static_cast<const respin::Checkpoint *>(nullptr);
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
