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
// Every file of the run (IR, archive, pass reports) is staged in one
// OutputSet and renamed into place only when all succeeded; no output may
// replace an input unless --in-place asks to rewrite the model.
//
//===----------------------------------------------------------------------===//

#include "respin/Conversion/Passes.h"
#include "respin/Dialect/Tfm/IR/TfmDialect.h"
#include "respin/Formats/InputFile.h"
#include "respin/Formats/OutputSet.h"
#include "respin/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
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

static llvm::cl::opt<bool> inPlace(
    "in-place",
    llvm::cl::desc("Rewrite the input model: -o is the input file (the "
                   "default then), and tensors created by passes go into its "
                   "top archive, which keeps all its other tensors"),
    llvm::cl::init(false));

/// Absolute directory of `path`; the working directory for stdin/stdout.
static std::string directoryOf(llvm::StringRef path) {
  llvm::SmallString<256> absolute(path == "-" ? "./-" : path);
  llvm::sys::fs::make_absolute(absolute);
  llvm::sys::path::remove_dots(absolute, /*remove_dot_dot=*/true);
  return std::string(llvm::sys::path::parent_path(absolute));
}

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "respin-opt") << message << "\n";
  return 1;
}

static int fail(llvm::Error error) {
  return fail(llvm::toString(std::move(error)));
}

/// Decides the IR output and the archive for new tensors, refusing
/// combinations that would overwrite the input or each other.
static llvm::Error planOutputs(respin::OutputSet &outputs,
                               llvm::StringRef inputFile,
                               std::string &outputFile,
                               std::string &archivePath) {
  if (inPlace) {
    if (inputFile == "-")
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "--in-place needs an input file");
    if (outputFile == "-")
      outputFile = inputFile.str();
    if (!respin::isSameFile(outputFile, inputFile))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "--in-place rewrites the input file %s, but -o is %s",
          inputFile.str().c_str(), outputFile.c_str());
    outputs.allowInPlace(inputFile);
  } else if (outputFile != "-" && inputFile != "-" &&
             respin::isSameFile(outputFile, inputFile)) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "-o %s is the input file; use --in-place to rewrite the model in "
        "place",
        outputFile.c_str());
  }

  // No name is derived from stdout or a device (-o /dev/null).
  archivePath = parametersOut;
  llvm::sys::fs::file_status status;
  bool derivable = outputFile != "-" &&
                   (llvm::sys::fs::status(outputFile, status) ||
                    status.type() == llvm::sys::fs::file_type::regular_file);
  if (archivePath.empty() && derivable) {
    llvm::SmallString<256> derived(outputFile);
    llvm::sys::path::replace_extension(derived, ".safetensors");
    archivePath = std::string(derived);
  }
  if (!archivePath.empty() && outputFile != "-" &&
      respin::isSameFile(archivePath, outputFile))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the archive for new tensors would be the IR output %s itself; give "
        "-o a name with another extension (.mlir) or use --parameters-out",
        outputFile.c_str());
  if (outputFile != "-")
    if (llvm::Error error = outputs.check(outputFile, "IR output"))
      return error;
  if (!archivePath.empty())
    return outputs.check(archivePath, "parameter archive");
  return llvm::Error::success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  DialectRegistry registry;
  registry.insert<tfm::TfmDialect, func::FuncDialect, arith::ArithDialect,
                  tensor::TensorDialect, LLVM::LLVMDialect,
                  cf::ControlFlowDialect>();
  registerCanonicalizerPass();
  registerCSEPass();
  registerSymbolDCEPass();
  tfm::registerTfmPasses();
  tfm::registerConversionPasses();
  tfm::registerLowerToLLVMPipeline();

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

  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> input =
      respin::readInputFile(inputFile, /*requiresNullTerminator=*/true);
  if (!input)
    return fail(input.takeError());
  if (llvm::Error error = respin::checkIRNesting(
          (*input)->getBuffer(), inputFile == "-" ? "<stdin>" : inputFile))
    return fail(std::move(error));
  respin::OutputSet outputs;
  std::string outputPath = outputFile, archivePath;
  if (llvm::Error error =
          planOutputs(outputs, inputFile, outputPath, archivePath))
    return fail(std::move(error));

  // Archives named by the input resolve relative to the input file; the
  // passes stage their files in the run's output set.
  std::string inputDir = directoryOf(inputFile);
  registry.addExtension(std::function<void(MLIRContext *, tfm::TfmDialect *)>(
      [inputDir, &outputs](MLIRContext *, tfm::TfmDialect *dialect) {
        dialect->getParameterSet().setBaseDirectory(inputDir);
        dialect->outputSet = &outputs;
      }));

  // Printing to stdout keeps archive paths as they are; a file output gets
  // paths that stay valid from its directory.
  std::string outputDir = outputPath == "-" ? "" : directoryOf(outputPath);
  MlirOptMainConfig userConfig = config;
  config.setPassPipelineSetupFn([=](PassManager &pm) -> LogicalResult {
    if (failed(userConfig.setupPassPipeline(pm)))
      return failure();
    tfm::TfmWriteParametersPassOptions options;
    options.path = archivePath;
    options.relativeTo = outputDir;
    options.inPlace = inPlace;
    pm.addPass(tfm::createTfmWriteParametersPass(options));
    return success();
  });

  std::string result;
  llvm::raw_string_ostream resultStream(result);
  if (failed(MlirOptMain(resultStream, std::move(*input), registry, config)))
    return 1;
  if (outputPath != "-")
    if (llvm::Error error = outputs.write(outputPath, "IR output", result))
      return fail(std::move(error));
  if (llvm::Error error = outputs.commit())
    return fail(std::move(error));
  if (outputPath == "-")
    llvm::outs() << result;
  return 0;
}
