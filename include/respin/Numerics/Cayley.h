//===- Cayley.h - Cayley SGD on the orthogonal group ------------*- C++ -*-===//
//
// SpinQuant's optimizer (Li, Fuxin & Todorovic, "Efficient Riemannian
// optimization on the Stiefel manifold via the Cayley transform", ICLR 2020)
// for square orthogonal matrices, in the column convention of DESIGN.md.
//
// With R orthogonal, G = dL/dR the Euclidean gradient and V the momentum
// buffer (a descent direction), one step is
//   V <- beta V - G
//   A  = (V R^T - R V^T) / 2                  (skew; for beta = 0,
//                                              A = (R G^T - G R^T) / 2)
//   V <- A R                                  (momentum kept in the tangent)
//   alpha = min(lr, 1 / ||A||_1)              (max column sum)
//   R <- (I - alpha/2 A)^-1 (I + alpha/2 A) R (Cayley retraction)
// To first order R moves by -alpha/2 (G - R G^T R), i.e. down the Riemannian
// gradient. The retraction is solved by the fixed-point iteration
// Y <- R + alpha/2 A (R + Y) from Y = R + alpha A R; the cap on alpha makes
// it a contraction with ratio <= 1/2, so it is iterated to convergence. The
// result is orthogonal to rounding; every `reorthonormalizeEvery` steps, or
// as soon as max|R^T R - I| exceeds `orthogonalityTolerance`, R is replaced
// by its polar factor (the nearest orthogonal matrix) so that rounding
// cannot accumulate. Everything is float64 and deterministic.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_CAYLEY_H
#define RESPIN_NUMERICS_CAYLEY_H

#include "respin/Numerics/LearningRateSchedule.h"

#include <Eigen/Dense>

#include <cstdint>

namespace respin {

struct CayleyOptions {
  double momentum = 0.0;  ///< beta in [0, 1)
  int maxIterations = 50; ///< fixed-point iterations of the retraction
  double iterationTolerance = 1e-14;   ///< stop when max|Y_k+1 - Y_k| <= this
  int64_t reorthonormalizeEvery = 100; ///< steps; 0: only on tolerance
  double orthogonalityTolerance = 1e-10;
};

/// What one step did.
struct CayleyStep {
  double alpha = 0;    ///< the capped step size
  double skewNorm = 0; ///< ||A||_1
  int iterations = 0;  ///< fixed-point iterations run
  bool reorthonormalized = false;
};

/// The optimizer state of one matrix.
class CayleySGD {
public:
  explicit CayleySGD(CayleyOptions options = {}) : options(options) {}

  /// Moves the orthogonal `r` against the Euclidean gradient `gradient`
  /// (same shape) with learning rate `lr` > 0.
  CayleyStep step(Eigen::MatrixXd &r, const Eigen::MatrixXd &gradient,
                  double lr);

  int64_t stepsTaken() const { return steps; }

private:
  CayleyOptions options;
  Eigen::MatrixXd velocity;
  int64_t steps = 0;
};

} // namespace respin

#endif // RESPIN_NUMERICS_CAYLEY_H
