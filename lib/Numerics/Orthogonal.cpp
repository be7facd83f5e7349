//===- Orthogonal.cpp - Dense float64 orthogonal-matrix utilities ---------===//
//
// Thin wrappers over Eigen's SVD and symmetric eigensolver that add input
// checks, ordering and a deterministic sign convention.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/Orthogonal.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace respin;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

Eigen::MatrixXd respin::polarFactor(const Eigen::MatrixXd &a) {
  if (a.size() == 0)
    return Eigen::MatrixXd(a.rows(), a.cols());
  // BDCSVD switches to Jacobi for small blocks and stays fast for D ~ 4096.
  Eigen::BDCSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinU |
                                            Eigen::ComputeThinV);
  return svd.matrixU() * svd.matrixV().transpose();
}

double respin::orthogonalityError(const Eigen::MatrixXd &q) {
  if (q.size() == 0)
    return 0;
  Eigen::MatrixXd gram = q.transpose() * q;
  gram.diagonal().array() -= 1.0;
  return gram.cwiseAbs().maxCoeff();
}

llvm::Expected<SymmetricEigenpairs>
respin::topEigenvectors(const Eigen::MatrixXd &s, int64_t r) {
  const int64_t d = s.rows();
  if (s.rows() != s.cols())
    return makeError(llvm::formatv(
        "topEigenvectors: matrix must be square, got {0}x{1}", s.rows(),
        s.cols()));
  if (r < 0 || r > d)
    return makeError(llvm::formatv(
        "topEigenvectors: requested {0} eigenvectors of a {1}x{1} matrix "
        "(need 0 <= r <= {1})",
        r, d));
  if (!s.allFinite())
    return makeError("topEigenvectors: matrix has non-finite entries");
  SymmetricEigenpairs result;
  if (d == 0 || r == 0) {
    result.values.resize(0);
    result.vectors.resize(d, 0);
    return result;
  }
  double scale = std::max(1.0, s.cwiseAbs().maxCoeff());
  double asymmetry = (s - s.transpose()).cwiseAbs().maxCoeff();
  if (asymmetry > kSymmetryTolerance * scale)
    return makeError(llvm::formatv(
        "topEigenvectors: matrix is not symmetric (max|S - S^T| = {0:e} > "
        "{1:e})",
        asymmetry, kSymmetryTolerance * scale));

  // Eigen reads the lower triangle and sorts eigenvalues ascending.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(s);
  if (solver.info() != Eigen::Success)
    return makeError("topEigenvectors: eigensolver did not converge");
  result.values.resize(r);
  result.vectors.resize(d, r);
  for (int64_t i = 0; i < r; ++i) {
    int64_t source = d - 1 - i;
    result.values(i) = solver.eigenvalues()(source);
    Eigen::VectorXd v = solver.eigenvectors().col(source);
    int64_t largest = 0; // first index of the largest magnitude
    for (int64_t j = 1; j < d; ++j)
      if (std::abs(v(j)) > std::abs(v(largest)))
        largest = j;
    if (v(largest) < 0)
      v = -v;
    result.vectors.col(i) = v;
  }
  return result;
}
