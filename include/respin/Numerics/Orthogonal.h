//===- Orthogonal.h - Dense float64 orthogonal-matrix utilities -*- C++ -*-===//
//
// Polar factor, orthogonality error and the top-r eigenvectors of a symmetric
// matrix, the building blocks of the residual transition approximation.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_ORTHOGONAL_H
#define RESPIN_NUMERICS_ORTHOGONAL_H

#include "llvm/Support/Error.h"

#include <Eigen/Dense>

namespace respin {

/// The orthogonal polar factor U V^T of A = U Sigma V^T (thin SVD): the
/// matrix with orthonormal columns (or rows, when A is wide) closest to A in
/// the Frobenius norm (orthogonal Procrustes). Unique when A has full rank.
Eigen::MatrixXd polarFactor(const Eigen::MatrixXd &a);

/// max_ij |(Q^T Q - I)_ij|; 0 for an exactly orthogonal (or empty) matrix.
double orthogonalityError(const Eigen::MatrixXd &q);

/// The r largest eigenpairs of a symmetric matrix.
struct SymmetricEigenpairs {
  /// Eigenvalues, largest first (r values).
  Eigen::VectorXd values;
  /// Orthonormal eigenvectors as columns, in the order of `values`. Each is
  /// signed so that its entry of largest magnitude (the first such index on a
  /// tie) is positive. Within a repeated eigenvalue the basis is whatever the
  /// solver returns: deterministic for a given build, but only the span is
  /// mathematically defined.
  Eigen::MatrixXd vectors;
};

/// Relative tolerance of the symmetry check in topEigenvectors:
/// max|S - S^T| <= kSymmetryTolerance * max(1, max|S|).
constexpr double kSymmetryTolerance = 1e-10;

/// The r largest eigenpairs of the symmetric matrix S (full symmetric
/// eigendecomposition, O(D^3)). Errors: S not square, not finite, or not
/// symmetric to kSymmetryTolerance; r < 0 or r > D.
llvm::Expected<SymmetricEigenpairs> topEigenvectors(const Eigen::MatrixXd &s,
                                                    int64_t r);

} // namespace respin

#endif // RESPIN_NUMERICS_ORTHOGONAL_H
