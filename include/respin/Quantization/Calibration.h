//===- Calibration.h - Calibration token windows ---------------*- C++ -*-===//
//
// GPTQ and clip calibration run the model on N windows of L tokens taken at
// seeded random offsets of the tokenized calibration text (EVALUATION.md:
// ../shared/data/text/tinystories-calib.txt, never the evaluation text).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_QUANTIZATION_CALIBRATION_H
#define RESPIN_QUANTIZATION_CALIBRATION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace respin::quant {

/// `count` windows of `length` consecutive tokens; window i starts at
/// offset_i = u_i mod (tokens.size() - length + 1), u_i the i-th output of
/// std::mt19937_64(seed) (so every platform picks the same windows).
/// Fails when the text is shorter than one window or the sizes are < 1.
llvm::Expected<std::vector<std::vector<int32_t>>>
sampleCalibrationWindows(llvm::ArrayRef<int32_t> tokens, int64_t count,
                         int64_t length, uint64_t seed);

} // namespace respin::quant

#endif // RESPIN_QUANTIZATION_CALIBRATION_H
