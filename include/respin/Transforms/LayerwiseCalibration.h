//===- LayerwiseCalibration.h - One forward pass for all Hessians -*- C++
//-*-===//
//
// GPTQ needs, for each group of linears that read one value, the Hessian of
// that value on the calibration windows with every earlier linear already
// quantized. Running the model from the tokens for every group would cost
// one forward pass per group. A CalibrationStream instead keeps every window
// part-way through the forward program (the values live at the current
// point: the residual stream and whatever else later instructions read),
// advances all windows to the next group's first linear, accumulates the
// Hessian there, and lets the caller swap in the quantized weights before
// advancing further. Each instruction runs once per window in total.
//
// The values are bit-identical to those of a fresh forward pass of the same
// program (same kernels on the same inputs), and Hessians are summed in a
// fixed order (window w into slot w mod 8, in window order, slots in order),
// so results do not depend on the thread count.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TRANSFORMS_LAYERWISECALIBRATION_H
#define RESPIN_TRANSFORMS_LAYERWISECALIBRATION_H

#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Executor/Program.h"
#include "respin/Quantization/GPTQ.h"
#include "respin/Transforms/CalibrationRunner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <memory>
#include <vector>

namespace mlir::tfm {

class CalibrationStream {
public:
  /// Lowers `func` (as it is now) and places every window before its first
  /// instruction. `threads` = 0 uses every hardware thread. The windows must
  /// outlive the stream.
  static FailureOr<std::unique_ptr<CalibrationStream>>
  create(func::FuncOp func, const CalibrationWindows &windows,
         unsigned threads);

  /// Runs every window up to `linear` (which must not lie before the current
  /// point) and returns the Hessian accumulator of the rows it reads.
  FailureOr<respin::quant::HessianAccumulator> advanceTo(LinearOp linear);

  /// From now on `linear` uses `weight` (row-major, its shape), e.g. the
  /// dequantized codes that replaced its float weight in the IR.
  LogicalResult replaceWeight(LinearOp linear, std::vector<float> weight);

  /// Estimated share of the forward pass (by arithmetic) that lies before
  /// the current point, in [0, 1]: the basis of the progress ETA.
  double fractionDone() const;
  /// The same for the point just before `linear`.
  double fractionBefore(LinearOp linear) const;

  unsigned threadCount() const { return threads; }

private:
  CalibrationStream(const CalibrationWindows &windows, unsigned threads)
      : windows(windows), threads(threads) {}
  FailureOr<size_t> indexOf(LinearOp linear) const;
  /// Runs instructions [position, end) on every window, then frees the
  /// values no instruction at or after `end` reads.
  LogicalResult runTo(size_t end, Operation *anchor);

  const CalibrationWindows &windows;
  unsigned threads;
  respin::exec::Program program;
  llvm::DenseMap<Operation *, int> instructionIndex;
  /// Last instruction reading each value (the program result: past the end).
  std::vector<size_t> lastUse;
  /// Cumulative estimated cost of instructions [0, i), size + 1 entries.
  std::vector<double> costBefore;
  /// Per window, the value table at the current point.
  std::vector<std::vector<respin::exec::RowMatrix>> tables;
  size_t position = 0;
};

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_LAYERWISECALIBRATION_H
