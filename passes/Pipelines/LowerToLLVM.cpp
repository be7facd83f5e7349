//===- LowerToLLVM.cpp - The --tfm-lower-to-llvm pipeline -----------------===//

#include "respin/Conversion/Passes.h"
#include "respin/Transforms/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void mlir::tfm::buildLowerToLLVMPipeline(OpPassManager &pm,
                                         const LowerToLLVMOptions &options) {
  pm.addPass(createTfmLowerToQuantizedOpsPass());
  ConvertTfmToRuntimePassOptions convert;
  convert.prefix = options.prefix;
  convert.weightsFile = options.weightsFile;
  convert.maxTokens = options.maxTokens;
  pm.addPass(createConvertTfmToRuntimePass(convert));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
struct PipelineOptions : PassPipelineOptions<PipelineOptions> {
  Option<std::string> prefix{*this, "prefix",
                             llvm::cl::desc("C identifier of the symbols"),
                             llvm::cl::init("model")};
  Option<std::string> weightsFile{
      *this, "weights-file",
      llvm::cl::desc("Write the compiled weights archive here")};
  Option<int64_t> maxTokens{*this, "max-tokens",
                            llvm::cl::desc("Most tokens per forward call"),
                            llvm::cl::init(512)};
};
} // namespace

void mlir::tfm::registerLowerToLLVMPipeline() {
  PassPipelineRegistration<PipelineOptions>(
      "tfm-lower-to-llvm",
      "Lower a folded, quantized tfm graph to the LLVM dialect: "
      "--tfm-lower-to-quantized-ops, --convert-tfm-to-runtime, then the "
      "upstream arith/cf/func conversions to LLVM",
      [](OpPassManager &pm, const PipelineOptions &options) {
        LowerToLLVMOptions lowered;
        lowered.prefix = options.prefix;
        lowered.weightsFile = options.weightsFile;
        lowered.maxTokens = options.maxTokens;
        buildLowerToLLVMPipeline(pm, lowered);
      });
}
