//===- Calibration.cpp - Calibration token windows ------------------------===//

#include "respin/Quantization/Calibration.h"

#include "llvm/ADT/Twine.h"

#include <random>

namespace respin::quant {

llvm::Expected<std::vector<std::vector<int32_t>>>
sampleCalibrationWindows(llvm::ArrayRef<int32_t> tokens, int64_t count,
                         int64_t length, uint64_t seed) {
  if (count < 1 || length < 1)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        ("calibration needs at least one window of at least one token, got " +
         llvm::Twine(count) + " x " + llvm::Twine(length))
            .str());
  if (int64_t(tokens.size()) < length)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        ("the calibration text has " + llvm::Twine(tokens.size()) +
         " tokens, fewer than one window of " + llvm::Twine(length))
            .str());
  std::mt19937_64 rng(seed);
  uint64_t starts = uint64_t(tokens.size()) - uint64_t(length) + 1;
  std::vector<std::vector<int32_t>> windows;
  windows.reserve(count);
  for (int64_t i = 0; i < count; ++i) {
    uint64_t offset = rng() % starts;
    windows.emplace_back(tokens.begin() + offset,
                         tokens.begin() + offset + length);
  }
  return windows;
}

} // namespace respin::quant
