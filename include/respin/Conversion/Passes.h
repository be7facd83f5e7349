//===- Passes.h - tfm conversions ------------------------------*- C++ -*-===//

#ifndef RESPIN_CONVERSION_PASSES_H
#define RESPIN_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir::tfm {

#define GEN_PASS_DECL
#include "respin/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "respin/Conversion/Passes.h.inc"

/// Options of the named pipeline --tfm-lower-to-llvm.
struct LowerToLLVMOptions {
  std::string prefix = "model";
  std::string weightsFile;
  int64_t maxTokens = 512;
};

/// tfm graph -> lowered tfm ops -> runtime calls -> LLVM dialect.
void buildLowerToLLVMPipeline(OpPassManager &pm,
                              const LowerToLLVMOptions &options);
/// Registers --tfm-lower-to-llvm.
void registerLowerToLLVMPipeline();

} // namespace mlir::tfm

#endif // RESPIN_CONVERSION_PASSES_H
