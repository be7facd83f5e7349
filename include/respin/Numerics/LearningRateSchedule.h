//===- LearningRateSchedule.h - Step sizes over a training run --*- C++ -*-===//
//
// The learning rate of step s (0-based) of a run of n steps. Kept free of
// Eigen so that pass option declarations can name the enum.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_LEARNINGRATESCHEDULE_H
#define RESPIN_NUMERICS_LEARNINGRATESCHEDULE_H

#include <cstdint>

namespace respin {

enum class LearningRateSchedule {
  Constant, ///< lr at every step
  Linear,   ///< lr (1 - s / n): linear decay towards 0 (SpinQuant's paper)
  Cosine,   ///< lr (1 + cos(pi s / n)) / 2 (SpinQuant's released script)
};

/// The rate of step `step` in [0, steps) under `schedule`.
double scheduledLearningRate(LearningRateSchedule schedule, double lr,
                             int64_t step, int64_t steps);

} // namespace respin

#endif // RESPIN_NUMERICS_LEARNINGRATESCHEDULE_H
