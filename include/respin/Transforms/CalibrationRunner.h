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
#include "llvm/ADT/STLFunctionalExtras.h"

#include <vector>

namespace mlir::tfm {

using CalibrationWindows = std::vector<std::vector<int32_t>>;

/// Tokenizes `file` with the module's tokenizer (stories separated by
/// <|endoftext|>, each with BOS, as for perplexity) and draws `count` windows
/// of `length` tokens (seeded). Errors are emitted on `module`.
FailureOr<CalibrationWindows>
loadCalibrationWindows(ModuleOp module, StringRef file, int64_t count,
                       int64_t length, uint64_t seed);

/// Hessians are accumulated in this many independent sums (window w in slot
/// w mod kHessianSlots, in window order), then the slots in order: the
/// result does not depend on how many threads ran.
constexpr int64_t kHessianSlots = 8;

/// The thread count a `threads` option asks for (0: every hardware thread).
unsigned resolveThreadCount(unsigned requested);

/// Runs `worker` on `threads` threads (the calling thread being one of them)
/// and returns when all have returned.
void runWorkers(unsigned threads, llvm::function_ref<void()> worker);

/// Accumulates X^T X of the rows that `linear` reads over all windows, each
/// window a fresh forward pass of `func` as it is now, cut after `linear`
/// (the straightforward path; GPTQ uses CalibrationStream, which gives the
/// same sums with one pass for all linears). Deterministic for any thread
/// count.
FailureOr<respin::quant::HessianAccumulator>
collectInputHessian(func::FuncOp func, LinearOp linear,
                    const CalibrationWindows &windows);

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_CALIBRATIONRUNNER_H
