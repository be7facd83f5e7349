//===- Program.cpp - Program helpers --------------------------------------===//

#include "respin/Executor/Program.h"

#include <cmath>

namespace respin::exec {

std::vector<double> Program::ropeInverseFrequencies(
    int64_t rotaryDim, double theta,
    std::optional<std::array<double, 4>> llama3Scaling) {
  std::vector<double> frequencies(rotaryDim / 2);
  for (int64_t i = 0; i < rotaryDim / 2; ++i)
    frequencies[i] = std::pow(theta, -double(2 * i) / double(rotaryDim));
  if (!llama3Scaling)
    return frequencies;
  // Llama-3.1: stretch long wavelengths by `factor`, keep short ones, and
  // interpolate smoothly in the band between.
  auto [factor, lowFreqFactor, highFreqFactor, originalMax] = *llama3Scaling;
  double lowFreqWavelength = originalMax / lowFreqFactor;
  double highFreqWavelength = originalMax / highFreqFactor;
  for (double &frequency : frequencies) {
    double wavelength = 2.0 * M_PI / frequency;
    if (wavelength < highFreqWavelength)
      continue;
    if (wavelength > lowFreqWavelength) {
      frequency /= factor;
      continue;
    }
    double smooth = (originalMax / wavelength - lowFreqFactor) /
                    (highFreqFactor - lowFreqFactor);
    frequency = (1.0 - smooth) * frequency / factor + smooth * frequency;
  }
  return frequencies;
}

} // namespace respin::exec
