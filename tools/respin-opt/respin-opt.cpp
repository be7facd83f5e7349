//===- respin-opt.cpp - respin's opt-style pass driver --------------------===//
//
// MlirOptMain with selective registration: the tfm dialect, the upstream
// dialects tfm IR is written with, and respin's passes. Registering only
// these keeps the tool small and quick to relink.
//
//===----------------------------------------------------------------------===//

#include "respin/Dialect/Tfm/IR/TfmDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::tfm::TfmDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "respin optimizer driver: tfm passes and pipelines\n",
      registry));
}
