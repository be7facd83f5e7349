//===- GPTQProgress.cpp - Progress lines of GPTQ calibration --------------===//

#include "GPTQProgress.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::tfm;

namespace {
constexpr const char *kPrefix = "tfm-quantize-weights: ";
/// Share of the pass to have run before an ETA is printed.
constexpr double kMinimumSample = 0.02;

std::string stageLabel(ArrayRef<const LinearTarget *> stage) {
  SmallVector<StringRef> roles;
  for (const LinearTarget *target : stage)
    roles.push_back(linearRoleName(target->role));
  return llvm::join(roles, ",");
}

/// "1 linear", "7 linears".
std::string count(int64_t n, StringRef noun) {
  return llvm::formatv("{0} {1}{2}", n, noun, n == 1 ? "" : "s").str();
}

std::string seconds(double value) {
  return llvm::formatv("{0:f1} s", value).str();
}
} // namespace

GPTQProgress::GPTQProgress(bool enabled, ArrayRef<Stage> stages,
                           const CalibrationStream &stream,
                           const CalibrationWindows &windows,
                           llvm::raw_ostream &os)
    : enabled(enabled), stream(stream), os(os), stageCount(stages.size()),
      start(Clock::now()) {
  for (size_t i = 0; i < stages.size(); ++i) {
    linearCount += stages[i].size();
    layers = std::max(layers, stages[i].front()->layer + 1);
    lastOfLayer.push_back(i + 1 == stages.size() ||
                          stages[i + 1].front()->layer !=
                              stages[i].front()->layer);
  }
  if (!stages.empty())
    totalFraction = stream.fractionBefore(stages.back().front()->op);
  if (!enabled)
    return;
  int64_t tokens = 0;
  for (const std::vector<int32_t> &window : windows)
    tokens += int64_t(window.size());
  os << kPrefix << "GPTQ on " << windows.size() << " windows x "
     << windows.front().size() << " tokens (" << tokens
     << " tokens): " << count(linearCount, "linear") << " in "
     << count(stageCount, "stage") << ", " << count(layers, "layer") << ", "
     << stream.threadCount() << " threads\n";
  os.flush();
}

double GPTQProgress::secondsSince(Clock::time_point from) const {
  return std::chrono::duration<double>(Clock::now() - from).count();
}

std::string GPTQProgress::eta() const {
  // Forward time scales with the share of the pass's arithmetic still to
  // run, GPTQ time with the number of linears still to quantize.
  double done = stream.fractionDone();
  // The first few stages (embedding, one norm) are too small a sample.
  if (!(done >= kMinimumSample * totalFraction) || linearsDone == 0)
    return "?";
  double forward = forwardSeconds * std::max(0.0, totalFraction - done) / done;
  double gptq =
      gptqSeconds * double(linearCount - linearsDone) / double(linearsDone);
  return seconds(forward + gptq);
}

void GPTQProgress::beginStage(ArrayRef<const LinearTarget *> stage) {
  stageStart = Clock::now();
  int64_t layer = stage.front()->layer;
  if (layer != currentLayer) {
    currentLayer = layer;
    layerStart = stageStart;
    layerLinears = 0;
  }
}

void GPTQProgress::calibrated() {
  calibratedAt = Clock::now();
  stageForward = secondsSince(stageStart);
  forwardSeconds += stageForward;
}

void GPTQProgress::endStage(ArrayRef<const LinearTarget *> stage) {
  double gptq = secondsSince(calibratedAt);
  gptqSeconds += gptq;
  ++stagesDone;
  layerLinears += stage.size();
  linearsDone += stage.size();
  if (!enabled)
    return;
  const LinearTarget &first = *stage.front();
  std::string where =
      first.layer >= 0
          ? llvm::formatv("layer {0}/{1}", first.layer, layers).str()
          : std::string("outside the layers");
  int64_t cols = cast<ShapedType>(first.op.getInput().getType()).getDimSize(1);
  os << kPrefix << "  " << where << " " << stageLabel(stage) << ": Hessian "
     << cols << "x" << cols << ", forward " << seconds(stageForward)
     << ", GPTQ " << seconds(gptq) << " (stage " << stagesDone << "/"
     << stageCount << ", ETA " << eta() << ")\n";
  if (lastOfLayer[stagesDone - 1])
    os << kPrefix << where << " done: " << count(layerLinears, "linear") << ", "
       << seconds(secondsSince(layerStart)) << ", " << stagesDone << "/"
       << stageCount << " stages, " << seconds(secondsSince(start))
       << " elapsed, ETA " << eta() << "\n";
  os.flush();
}

void GPTQProgress::finish() {
  if (!enabled)
    return;
  os << kPrefix << "GPTQ done: " << count(linearsDone, "linear") << " in "
     << count(stagesDone, "stage") << ", " << seconds(secondsSince(start))
     << " (forward " << seconds(forwardSeconds) << ", GPTQ "
     << seconds(gptqSeconds) << ")\n";
  os.flush();
}
