//===- Cayley.cpp - Cayley SGD on the orthogonal group --------------------===//

#include "respin/Numerics/Cayley.h"
#include "respin/Numerics/Orthogonal.h"

#include <cmath>

namespace respin {

double scheduledLearningRate(LearningRateSchedule schedule, double lr,
                             int64_t step, int64_t steps) {
  double progress = steps > 0 ? double(step) / double(steps) : 0.0;
  switch (schedule) {
  case LearningRateSchedule::Constant:
    return lr;
  case LearningRateSchedule::Linear:
    return lr * (1.0 - progress);
  case LearningRateSchedule::Cosine:
    return lr * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return lr;
}

CayleyStep CayleySGD::step(Eigen::MatrixXd &r, const Eigen::MatrixXd &gradient,
                           double lr) {
  CayleyStep info;
  if (velocity.size() == 0)
    velocity.setZero(r.rows(), r.cols());
  velocity = options.momentum * velocity - gradient;
  Eigen::MatrixXd a =
      0.5 * (velocity * r.transpose() - r * velocity.transpose());
  velocity = a * r;
  info.skewNorm = a.cwiseAbs().colwise().sum().maxCoeff();
  info.alpha = info.skewNorm > 0 ? std::min(lr, 1.0 / info.skewNorm) : lr;

  Eigen::MatrixXd halfStep = (0.5 * info.alpha) * a;
  Eigen::MatrixXd y = r + info.alpha * velocity;
  for (info.iterations = 0; info.iterations < options.maxIterations;) {
    Eigen::MatrixXd next = r + halfStep * (r + y);
    ++info.iterations;
    double change = (next - y).cwiseAbs().maxCoeff();
    y = std::move(next);
    if (change <= options.iterationTolerance)
      break;
  }
  r = std::move(y);
  ++steps;
  bool periodic = options.reorthonormalizeEvery > 0 &&
                  steps % options.reorthonormalizeEvery == 0;
  if (periodic || orthogonalityError(r) > options.orthogonalityTolerance) {
    r = polarFactor(r);
    info.reorthonormalized = true;
  }
  return info;
}

} // namespace respin
