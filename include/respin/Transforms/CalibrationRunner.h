//===- CalibrationRunner.h - Running IR on calibration data ----*- C++ -*-===//
//
// Quantization passes that need activations (GPTQ Hessians) run the forward
// function as it currently is, quantized ops included, on the reference
// executor, and observe the input of one linear. The program is cut right
// after that linear, so calibrating early layers does not pay for late ones.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TRANSFORMS_CALIBRATIONRUNNER_H
#define RESPIN_TRANSFORMS_CALIBRATIONRUNNER_H

#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Quantization/GPTQ.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace mlir::tfm {

using CalibrationWindows = std::vector<std::vector<int32_t>>;

/// Tokenizes `file` with the module's tokenizer (stories separated by
/// <|endoftext|>, each with BOS, as for perplexity) and draws `count` windows
/// of `length` tokens (seeded). Errors are emitted on `module`.
FailureOr<CalibrationWindows>
loadCalibrationWindows(ModuleOp module, StringRef file, int64_t count,
                       int64_t length, uint64_t seed);

/// Accumulates X^T X of the rows that `linear` reads over all windows (each
/// window a fresh sequence). Deterministic for any thread count: windows are
/// summed in fixed slots, slots in order.
FailureOr<respin::quant::HessianAccumulator>
collectInputHessian(func::FuncOp func, LinearOp linear,
                    const CalibrationWindows &windows);

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_CALIBRATIONRUNNER_H
