//===- NumericsOrthogonalTest.cpp - Polar factor and top-r eigenvectors ---===//
//
// The polar factor is orthogonal and beats every other orthogonal candidate
// we try; top-r eigenvectors agree with a brute-force cyclic Jacobi
// eigendecomposition written here; bad inputs give the documented errors.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/Orthogonal.h"
#include "respin/Numerics/RandomOrthogonal.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace respin;

namespace {

Eigen::MatrixXd gaussian(int64_t rows, int64_t cols, uint64_t seed) {
  SeededRandom random(seed);
  Eigen::MatrixXd g(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      g(i, j) = random.nextNormal();
  return g;
}

/// Cayley transform (I - A)(I + A)^{-1} of a skew-symmetric A: orthogonal.
Eigen::MatrixXd cayley(const Eigen::MatrixXd &a) {
  Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(a.rows(), a.cols());
  return (identity - a) * (identity + a).inverse();
}

/// Brute force: cyclic Jacobi rotations until the off-diagonal vanishes.
/// Returns all eigenpairs, eigenvalues descending.
void jacobiEigen(Eigen::MatrixXd a, Eigen::VectorXd &values,
                 Eigen::MatrixXd &vectors) {
  const int64_t n = a.rows();
  vectors = Eigen::MatrixXd::Identity(n, n);
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q)
        off += a(p, q) * a(p, q);
    if (off < 1e-30)
      break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (a(p, q) == 0)
          continue;
        double theta = (a(q, q) - a(p, p)) / (2 * a(p, q));
        double t = (theta >= 0 ? 1 : -1) /
                   (std::abs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) { // A <- A J
          double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) { // A <- J^T A
          double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {
          double vkp = vectors(k, p), vkq = vectors(k, q);
          vectors(k, p) = c * vkp - s * vkq;
          vectors(k, q) = s * vkp + c * vkq;
        }
      }
  }
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](int64_t x, int64_t y) { return a(x, x) > a(y, y); });
  Eigen::MatrixXd sorted(n, n);
  values.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    values(i) = a(order[i], order[i]);
    sorted.col(i) = vectors.col(order[i]);
  }
  vectors = sorted;
}

} // namespace

TEST(Orthogonal, OrthogonalityError) {
  EXPECT_EQ(orthogonalityError(Eigen::MatrixXd::Identity(5, 5)), 0.0);
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(2, 2);
  d(0, 0) = 1;
  d(1, 1) = 2;
  EXPECT_EQ(orthogonalityError(d), 3.0); // Q^T Q - I = diag(0, 3)
  EXPECT_EQ(orthogonalityError(Eigen::MatrixXd(0, 0)), 0.0);
  Eigen::MatrixXd columns = randomOrthogonalMatrix(6, 1).leftCols(3);
  EXPECT_LT(orthogonalityError(columns), 1e-14); // orthonormal columns
}

TEST(Orthogonal, PolarFactorOfPerturbedOrthogonalIsClosest) {
  const int64_t n = 12;
  Eigen::MatrixXd q = randomOrthogonalMatrix(n, 21);
  Eigen::MatrixXd a = q + 0.05 * gaussian(n, n, 22);
  Eigen::MatrixXd p = polarFactor(a);
  EXPECT_LT(orthogonalityError(p), 1e-12);
  double best = (p - a).norm();
  // P^T A is the symmetric positive (semi)definite factor of A = P H.
  Eigen::MatrixXd h = p.transpose() * a;
  EXPECT_LT((h - h.transpose()).cwiseAbs().maxCoeff(), 1e-12);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(0.5 * (h + h.transpose()));
  EXPECT_GT(eig.eigenvalues().minCoeff(), 0.0);

  // Brute-force alternatives: the unperturbed Q, the QR orthogonalization of
  // A, random orthogonal matrices, and P moved by small rotations on either
  // side; none may be closer to A.
  std::vector<Eigen::MatrixXd> alternatives;
  alternatives.push_back(q);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  alternatives.push_back(qr.householderQ() * Eigen::MatrixXd::Identity(n, n));
  for (uint64_t seed = 0; seed < 20; ++seed)
    alternatives.push_back(randomOrthogonalMatrix(n, 100 + seed));
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Eigen::MatrixXd g = gaussian(n, n, 200 + seed);
    double size = seed % 2 ? 1e-3 : 1e-1;
    Eigen::MatrixXd rotation = cayley(size * (g - g.transpose()));
    alternatives.push_back(p * rotation);
    alternatives.push_back(rotation * p);
  }
  for (const Eigen::MatrixXd &candidate : alternatives) {
    ASSERT_LT(orthogonalityError(candidate), 1e-10);
    EXPECT_GE((candidate - a).norm(), best - 1e-12);
  }
}

TEST(Orthogonal, PolarFactorFixesOrthogonalAndRectangular) {
  Eigen::MatrixXd q = randomOrthogonalMatrix(9, 4);
  EXPECT_LT((polarFactor(q) - q).cwiseAbs().maxCoeff(), 1e-13);
  // A = Q S with S symmetric positive definite has polar factor Q.
  Eigen::MatrixXd g = gaussian(9, 9, 5);
  Eigen::MatrixXd s = g * g.transpose() + Eigen::MatrixXd::Identity(9, 9);
  EXPECT_LT((polarFactor(q * s) - q).cwiseAbs().maxCoeff(), 1e-12);
  // Tall: orthonormal columns; wide: orthonormal rows.
  Eigen::MatrixXd tall = polarFactor(gaussian(7, 3, 6));
  EXPECT_EQ(tall.rows(), 7);
  EXPECT_EQ(tall.cols(), 3);
  EXPECT_LT(orthogonalityError(tall), 1e-13);
  Eigen::MatrixXd wide = polarFactor(gaussian(3, 7, 7));
  EXPECT_LT(orthogonalityError(wide.transpose()), 1e-13);
  EXPECT_EQ(polarFactor(Eigen::MatrixXd(0, 0)).size(), 0);
}

TEST(Orthogonal, TopEigenvectorsMatchBruteForce) {
  for (int64_t n : {6, 17, 40}) {
    Eigen::MatrixXd g = gaussian(n, n, uint64_t(n));
    Eigen::MatrixXd s = g + g.transpose();
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    jacobiEigen(s, values, vectors);
    for (int64_t r : {int64_t(0), int64_t(1), int64_t(4), n}) {
      llvm::Expected<SymmetricEigenpairs> top = topEigenvectors(s, r);
      ASSERT_TRUE(bool(top)) << llvm::toString(top.takeError());
      ASSERT_EQ(top->values.size(), r);
      ASSERT_EQ(top->vectors.rows(), n);
      ASSERT_EQ(top->vectors.cols(), r);
      for (int64_t i = 0; i < r; ++i) {
        EXPECT_NEAR(top->values(i), values(i), 1e-10) << n << " " << i;
        Eigen::VectorXd v = top->vectors.col(i);
        // Sign convention: the largest-magnitude entry is positive.
        Eigen::Index largest;
        v.cwiseAbs().maxCoeff(&largest);
        EXPECT_GT(v(largest), 0.0);
        // Random matrices have simple eigenvalues, so each vector matches
        // the brute-force one up to sign.
        Eigen::VectorXd w = vectors.col(i);
        double sign = v.dot(w) < 0 ? -1 : 1;
        EXPECT_LT((v - sign * w).cwiseAbs().maxCoeff(), 1e-9);
        EXPECT_LT((s * v - top->values(i) * v).cwiseAbs().maxCoeff(), 1e-11);
      }
      EXPECT_LT(orthogonalityError(top->vectors), 1e-13);
    }
  }
}

TEST(Orthogonal, TopEigenvectorsSpanOfRepeatedEigenvalues) {
  // Eigenvalues 5, 5, 3, 3, 1, ...: the top-2 vectors are only defined as a
  // span; compare projectors with the brute force.
  const int64_t n = 10;
  Eigen::MatrixXd v = randomOrthogonalMatrix(n, 8);
  Eigen::VectorXd lambda(n);
  lambda << 5, 5, 3, 3, 1, 0.5, 0.25, 0, -1, -2;
  Eigen::MatrixXd s = v * lambda.asDiagonal() * v.transpose();
  s = 0.5 * (s + s.transpose());
  for (int64_t r : {2, 4}) {
    llvm::Expected<SymmetricEigenpairs> top = topEigenvectors(s, r);
    ASSERT_TRUE(bool(top));
    Eigen::MatrixXd expected = v.leftCols(r) * v.leftCols(r).transpose();
    Eigen::MatrixXd actual = top->vectors * top->vectors.transpose();
    EXPECT_LT((actual - expected).cwiseAbs().maxCoeff(), 1e-12);
    for (int64_t i = 0; i < r; ++i)
      EXPECT_NEAR(top->values(i), lambda(i), 1e-12);
  }
}

TEST(Orthogonal, TopEigenvectorsErrors) {
  auto message = [](llvm::Expected<SymmetricEigenpairs> result) {
    return result ? std::string("success")
                  : llvm::toString(result.takeError());
  };
  Eigen::MatrixXd s = Eigen::MatrixXd::Identity(4, 4);
  EXPECT_EQ(message(topEigenvectors(Eigen::MatrixXd::Zero(3, 4), 1)),
            "topEigenvectors: matrix must be square, got 3x4");
  EXPECT_EQ(message(topEigenvectors(s, 5)),
            "topEigenvectors: requested 5 eigenvectors of a 4x4 matrix "
            "(need 0 <= r <= 4)");
  EXPECT_NE(message(topEigenvectors(s, -1)).find("requested -1"),
            std::string::npos);
  Eigen::MatrixXd asymmetric = s;
  asymmetric(0, 1) = 0.5;
  EXPECT_NE(message(topEigenvectors(asymmetric, 2)).find("not symmetric"),
            std::string::npos);
  Eigen::MatrixXd nan = s;
  nan(2, 2) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(message(topEigenvectors(nan, 2)),
            "topEigenvectors: matrix has non-finite entries");
  // Rounding-level asymmetry is accepted.
  Eigen::MatrixXd nearly = s;
  nearly(0, 1) = 1e-14;
  EXPECT_EQ(message(topEigenvectors(nearly, 2)), "success");
}
