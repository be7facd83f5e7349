//===- respin-opt.cpp - respin's opt-style pass driver --------------------===//
//
// MlirOptMain with selective registration (the tfm dialect, the upstream
// dialects tfm IR is written with, respin's passes) and two additions for
// models whose weights live in parameter archives:
//  - archives named by the input's `tfm.parameters` are resolved relative to
//    the input file;
//  - after the pipeline, tensors that passes created are written to
//    <output>.safetensors (or --parameters-out) and layered on top of the
//    input archives in the output's `tfm.parameters`.
// The output IR is written atomically.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmDialect.h"
#include "respin/Formats/AtomicFile.h"
#include "respin/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;

static llvm::cl::opt<std::string> parametersOut(
    "parameters-out",
    llvm::cl::desc("Where to write tensors created by passes (default: the "
                   "-o file with extension .safetensors)"),
    llvm::cl::value_desc("archive.safetensors"), llvm::cl::init(""));

/// Absolute directory of `path`; the working directory for stdin/stdout.
static std::string directoryOf(llvm::StringRef path) {
  llvm::SmallString<256> absolute(path == "-" ? "./-" : path);
  llvm::sys::fs::make_absolute(absolute);
  llvm::sys::path::remove_dots(absolute, /*remove_dot_dot=*/true);
  return std::string(llvm::sys::path::parent_path(absolute));
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  DialectRegistry registry;
  registry.insert<tfm::TfmDialect, func::FuncDialect, arith::ArithDialect,
                  tensor::TensorDialect>();
  registerCanonicalizerPass();
  registerCSEPass();
  registerSymbolDCEPass();
  tfm::registerTfmPasses();

  auto [inputFile, outputFile] = registerAndParseCLIOptions(
      argc, argv, "respin optimizer driver: tfm passes and pipelines\n",
      registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects()) {
    llvm::outs() << "Available Dialects: ";
    llvm::interleaveComma(registry.getDialectNames(), llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }

  // Archives named by the input resolve relative to the input file.
  std::string inputDir = directoryOf(inputFile);
  registry.addExtension(std::function<void(MLIRContext *, tfm::TfmDialect *)>(
      [inputDir](MLIRContext *, tfm::TfmDialect *dialect) {
        dialect->getParameterSet().setBaseDirectory(inputDir);
      }));

  // New tensors go next to the output IR.
  std::string archivePath = parametersOut;
  if (archivePath.empty() && outputFile != "-") {
    llvm::SmallString<256> derived(outputFile);
    llvm::sys::path::replace_extension(derived, ".safetensors");
    archivePath = std::string(derived);
  }
  // Printing to stdout keeps archive paths as they are; a file output gets
  // paths that stay valid from its directory.
  std::string outputDir = outputFile == "-" ? "" : directoryOf(outputFile);
  MlirOptMainConfig userConfig = config;
  config.setPassPipelineSetupFn([=](PassManager &pm) -> LogicalResult {
    if (failed(userConfig.setupPassPipeline(pm)))
      return failure();
    tfm::TfmWriteParametersPassOptions options;
    options.path = archivePath;
    options.relativeTo = outputDir;
    pm.addPass(tfm::createTfmWriteParametersPass(options));
    return success();
  });

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFile, &errorMessage);
  if (!input) {
    llvm::WithColor::error(llvm::errs(), "respin-opt") << errorMessage << "\n";
    return 1;
  }
  std::string result;
  llvm::raw_string_ostream resultStream(result);
  if (failed(MlirOptMain(resultStream, std::move(input), registry, config)))
    return 1;
  if (outputFile == "-") {
    llvm::outs() << result;
    return 0;
  }
  if (llvm::Error error = respin::writeFileAtomically(outputFile, result)) {
    llvm::WithColor::error(llvm::errs(), "respin-opt")
        << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  return 0;
}
