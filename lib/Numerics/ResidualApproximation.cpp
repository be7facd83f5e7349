//===- ResidualApproximation.cpp - Rank-r residual transitions ------------===//
//
// Implements a.6 of the rotation paper notes with the symmetric
// eigendecomposition of S = 2I - T - T^T instead of the SVD of T - I: for
// orthogonal T, (T - I)(T - I)^T = S, so both give the same subspace, and S
// is exactly symmetric in floating point.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/ResidualApproximation.h"

#include "respin/Numerics/Orthogonal.h"

#include "llvm/Support/FormatVariadic.h"

using namespace respin;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<ResidualTransitionApproximation>
respin::approximateResidualTransition(const Eigen::MatrixXd &t, int64_t rank,
                                      double orthogonalityTolerance) {
  if (t.rows() != t.cols())
    return makeError(llvm::formatv(
        "residual transition must be square, got {0}x{1}", t.rows(),
        t.cols()));
  const int64_t d = t.rows();
  if (rank < 0 || rank > d)
    return makeError(llvm::formatv(
        "residual transition rank {0} is out of range: need 0 <= rank <= {1} "
        "(the transition size)",
        rank, d));
  if (rank % 2 != 0)
    return makeError(llvm::formatv(
        "residual transition rank {0} is odd: the rank must be even because "
        "rotation planes come in pairs",
        rank));
  if (!t.allFinite())
    return makeError("residual transition has non-finite entries");
  double error = orthogonalityError(t);
  if (error > orthogonalityTolerance)
    return makeError(llvm::formatv(
        "residual transition is not orthogonal: max|T^T T - I| = {0:e} "
        "exceeds the tolerance {1:e}",
        error, orthogonalityTolerance));

  Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(d, d);
  Eigen::MatrixXd s = 2.0 * identity - t - t.transpose();
  llvm::Expected<SymmetricEigenpairs> top = topEigenvectors(s, rank);
  if (!top)
    return top.takeError();

  ResidualTransitionApproximation result;
  result.q = std::move(top->vectors);
  // Q^T T Q is orthogonal only when span(Q) is T-invariant; the polar factor
  // is the closest orthogonal matrix when the cut splits a rotation plane.
  Eigen::MatrixXd tSub = result.q.transpose() * t * result.q;
  result.m = polarFactor(tSub) - Eigen::MatrixXd::Identity(rank, rank);
  result.approximation =
      identity + result.q * result.m * result.q.transpose();
  result.frobeniusError = (result.approximation - t).norm();
  return result;
}
