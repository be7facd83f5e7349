//===- Passes.h - tfm transformation passes --------------------*- C++ -*-===//

#ifndef RESPIN_TRANSFORMS_PASSES_H
#define RESPIN_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "respin/Numerics/LearningRateSchedule.h"

namespace mlir::tfm {

/// Residual-stream bases of --tfm-learn-rotations.
enum class ResidualRotationMode { Global, PerBlock };

#define GEN_PASS_DECL
#include "respin/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "respin/Transforms/Passes.h.inc"

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_PASSES_H
