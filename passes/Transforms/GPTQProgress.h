//===- GPTQProgress.h - Progress lines of GPTQ calibration -----*- C++ -*-===//
//
// GPTQ on a real model runs for minutes: tfm-quantize-weights prints one line
// per stage (the linears sharing a Hessian) and one per decoder layer on
// stderr, with the time spent in the forward pass and in GPTQ and an ETA
// from the share of the forward pass's arithmetic done so far.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_PASSES_TRANSFORMS_GPTQPROGRESS_H
#define RESPIN_PASSES_TRANSFORMS_GPTQPROGRESS_H

#include "respin/Transforms/LayerwiseCalibration.h"
#include "respin/Transforms/QuantizationTargets.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <vector>

namespace mlir::tfm {

class GPTQProgress {
public:
  using Stage = SmallVector<const LinearTarget *>;

  /// Prints nothing unless `enabled`.
  GPTQProgress(bool enabled, ArrayRef<Stage> stages,
               const CalibrationStream &stream,
               const CalibrationWindows &windows,
               llvm::raw_ostream &os = llvm::errs());

  void beginStage(ArrayRef<const LinearTarget *> stage);
  /// The windows have reached the stage (its Hessian is known).
  void calibrated();
  void endStage(ArrayRef<const LinearTarget *> stage);
  void finish();

private:
  using Clock = std::chrono::steady_clock;
  double secondsSince(Clock::time_point start) const;
  std::string eta() const;

  bool enabled;
  const CalibrationStream &stream;
  llvm::raw_ostream &os;
  int64_t layers = 0;
  int64_t stageCount = 0, stagesDone = 0;
  int64_t linearCount = 0, linearsDone = 0;
  /// The share of the forward pass that has to run (up to the last stage).
  double totalFraction = 1.0;
  Clock::time_point start, stageStart, layerStart, calibratedAt;
  double forwardSeconds = 0.0, gptqSeconds = 0.0;
  double stageForward = 0.0;
  int64_t currentLayer = -2;
  int64_t layerLinears = 0;
  std::vector<bool> lastOfLayer; ///< per stage
};

} // namespace mlir::tfm

#endif // RESPIN_PASSES_TRANSFORMS_GPTQPROGRESS_H
