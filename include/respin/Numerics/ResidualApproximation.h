//===- ResidualApproximation.h - Rank-r residual transitions ----*- C++ -*-===//
//
// The ReSpinQuant approximation of a residual-stream transition T = R_out
// R_in^T by an orthogonal matrix that differs from the identity only on an
// r-dimensional subspace (rotation-quantization-papers.md a.6):
//   S = 2I - T - T^T, Q = top-r eigenvectors of S (= top-r left singular
//   vectors of T - I), T_sub = Q^T T Q, R_sub = polar(T_sub), M = R_sub - I,
//   T^ = I + Q M Q^T.
// At run time the skip path computes h + Q (M (Q^T h)).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_RESIDUALAPPROXIMATION_H
#define RESPIN_NUMERICS_RESIDUALAPPROXIMATION_H

#include "llvm/Support/Error.h"

#include <Eigen/Dense>

namespace respin {

/// Default check that the input is a rotation: max|T^T T - I| must not exceed
/// this. Loose enough for T built from float32 rotations; the result T^ is
/// orthogonal to rounding either way, but T^ = T at r = D only holds to the
/// orthogonality error of T.
constexpr double kTransitionOrthogonalityTolerance = 1e-6;

/// The rank-r approximation of one transition.
struct ResidualTransitionApproximation {
  /// D x r, orthonormal columns: the top-r eigenvectors of 2I - T - T^T in the
  /// sign convention of topEigenvectors.
  Eigen::MatrixXd q;
  /// r x r: R_sub - I with R_sub the polar factor of Q^T T Q.
  Eigen::MatrixXd m;
  /// D x D: I + Q M Q^T, orthogonal.
  Eigen::MatrixXd approximation;
  /// ||T^ - T||_F.
  double frobeniusError = 0;
};

/// Approximates the orthogonal D x D transition `t` with rank `rank`.
/// rank = 0 gives T^ = I; rank = D gives T^ = T (to rounding). Errors: `t` not
/// square, not finite, or not orthogonal to `orthogonalityTolerance`; rank
/// negative, odd (rotation planes come in pairs), or larger than D.
llvm::Expected<ResidualTransitionApproximation> approximateResidualTransition(
    const Eigen::MatrixXd &t, int64_t rank,
    double orthogonalityTolerance = kTransitionOrthogonalityTolerance);

} // namespace respin

#endif // RESPIN_NUMERICS_RESIDUALAPPROXIMATION_H
