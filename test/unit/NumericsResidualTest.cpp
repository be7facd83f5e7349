//===- NumericsResidualTest.cpp - Rank-r residual transition approximation ===//
//
// T = P diag(R(theta_1), ..., R(theta_k), I) P^T has known rotation planes,
// so the approximation error at every even rank is known in closed form:
// ||T^ - T||_F^2 = sum over the discarded planes of 2 (2 sin(theta/2))^2.
// Also: r = 0 is the identity, r = D is T, T^ is orthogonal, error is
// non-increasing in r, an exact low-rank T is reproduced, and bad inputs fail.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/Orthogonal.h"
#include "respin/Numerics/RandomOrthogonal.h"
#include "respin/Numerics/ResidualApproximation.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace respin;

namespace {

/// P diag(R(angles[0]), R(angles[1]), ..., I) P^T for a random orthogonal P.
Eigen::MatrixXd planeRotation(int64_t d, const std::vector<double> &angles,
                              uint64_t seed) {
  Eigen::MatrixXd block = Eigen::MatrixXd::Identity(d, d);
  for (size_t i = 0; i < angles.size(); ++i) {
    double c = std::cos(angles[i]), s = std::sin(angles[i]);
    block(2 * i, 2 * i) = c;
    block(2 * i, 2 * i + 1) = -s;
    block(2 * i + 1, 2 * i) = s;
    block(2 * i + 1, 2 * i + 1) = c;
  }
  Eigen::MatrixXd p = randomOrthogonalMatrix(d, seed);
  return p * block * p.transpose();
}

/// Predicted error when the first keep planes (largest angles) are kept.
double predictedError(const std::vector<double> &angles, size_t keep) {
  double sum = 0;
  for (size_t i = keep; i < angles.size(); ++i) {
    double singular = 2 * std::sin(angles[i] / 2);
    sum += 2 * singular * singular;
  }
  return std::sqrt(sum);
}

std::string errorOf(llvm::Expected<ResidualTransitionApproximation> result) {
  return result ? std::string("success") : llvm::toString(result.takeError());
}

} // namespace

TEST(ResidualApproximation, ErrorFollowsTheDiscardedAngles) {
  const int64_t d = 24;
  // Distinct angles, largest first, all planes used (D = 2 * 12).
  std::vector<double> angles;
  for (int i = 0; i < 12; ++i)
    angles.push_back(1.2 * std::pow(0.7, i));
  Eigen::MatrixXd t = planeRotation(d, angles, 1);
  ASSERT_LT(orthogonalityError(t), 1e-13);
  double previous = std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r <= d; r += 2) {
    llvm::Expected<ResidualTransitionApproximation> a =
        approximateResidualTransition(t, r);
    ASSERT_TRUE(bool(a)) << llvm::toString(a.takeError());
    ASSERT_EQ(a->q.rows(), d);
    ASSERT_EQ(a->q.cols(), r);
    ASSERT_EQ(a->m.rows(), r);
    ASSERT_EQ(a->m.cols(), r);
    EXPECT_LT(orthogonalityError(a->q), 1e-13);
    EXPECT_LT(orthogonalityError(a->approximation), 1e-12) << "r = " << r;
    Eigen::MatrixXd rebuilt = Eigen::MatrixXd::Identity(d, d) +
                              a->q * a->m * a->q.transpose();
    EXPECT_LT((rebuilt - a->approximation).cwiseAbs().maxCoeff(), 1e-15);
    EXPECT_NEAR(a->frobeniusError, (a->approximation - t).norm(), 1e-15);
    EXPECT_NEAR(a->frobeniusError, predictedError(angles, size_t(r / 2)),
                1e-10)
        << "r = " << r;
    EXPECT_LE(a->frobeniusError, previous + 1e-12) << "r = " << r;
    previous = a->frobeniusError;
    // The kept planes are whole, so span(Q) is T-invariant and Q^T T Q is
    // already orthogonal: M + I equals it (the polar step is a no-op).
    if (r == 0)
      continue; // maxCoeff of an empty matrix is undefined
    Eigen::MatrixXd tSub = a->q.transpose() * t * a->q;
    EXPECT_LT((a->m + Eigen::MatrixXd::Identity(r, r) - tSub)
                  .cwiseAbs()
                  .maxCoeff(),
              1e-10);
  }
}

TEST(ResidualApproximation, RankZeroIsIdentityAndFullRankIsExact) {
  const int64_t d = 32;
  Eigen::MatrixXd t = randomOrthogonalMatrix(d, 77); // far from I
  llvm::Expected<ResidualTransitionApproximation> zero =
      approximateResidualTransition(t, 0);
  ASSERT_TRUE(bool(zero));
  EXPECT_EQ(zero->approximation, Eigen::MatrixXd::Identity(d, d));
  EXPECT_NEAR(zero->frobeniusError,
              (t - Eigen::MatrixXd::Identity(d, d)).norm(), 1e-14);
  llvm::Expected<ResidualTransitionApproximation> full =
      approximateResidualTransition(t, d);
  ASSERT_TRUE(bool(full));
  EXPECT_LT((full->approximation - t).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT(full->frobeniusError, 1e-12);
}

TEST(ResidualApproximation, LowRankDeviationIsReproducedExactly) {
  // T differs from I only on a 2k = 6 dimensional subspace.
  const int64_t d = 40;
  std::vector<double> angles = {2.5, 0.9, 0.3};
  Eigen::MatrixXd t = planeRotation(d, angles, 5);
  for (int64_t r = 0; r <= 12; r += 2) {
    llvm::Expected<ResidualTransitionApproximation> a =
        approximateResidualTransition(t, r);
    ASSERT_TRUE(bool(a));
    if (r >= 6) {
      EXPECT_LT(a->frobeniusError, 1e-12) << "r = " << r;
    } else {
      EXPECT_GT(a->frobeniusError, 0.1) << "r = " << r;
    }
    EXPECT_LT(orthogonalityError(a->approximation), 1e-12);
  }
}

TEST(ResidualApproximation, GenericNearIdentityTransition) {
  // A T as after rotation learning: I + small generic skew part (Cayley), no
  // plane structure imposed. Error must still never grow with r.
  const int64_t d = 48;
  SeededRandom random(3);
  Eigen::MatrixXd g(d, d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      g(i, j) = 0.05 * random.nextNormal();
  Eigen::MatrixXd skew = g - g.transpose();
  Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(d, d);
  Eigen::MatrixXd t = (identity - skew) * (identity + skew).inverse();
  ASSERT_LT(orthogonalityError(t), 1e-13);
  double previous = std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r <= d; r += 2) {
    llvm::Expected<ResidualTransitionApproximation> a =
        approximateResidualTransition(t, r);
    ASSERT_TRUE(bool(a));
    EXPECT_LT(orthogonalityError(a->approximation), 1e-12) << "r = " << r;
    EXPECT_LE(a->frobeniusError, previous + 1e-12) << "r = " << r;
    previous = a->frobeniusError;
  }
  EXPECT_LT(previous, 1e-12);
}

TEST(ResidualApproximation, SplitPlaneIsRepairedByThePolarStep) {
  // Two planes with the same angle: the top eigenvalue of S has multiplicity
  // 4, so rank 2 may pick a subspace that is not T-invariant; T^ must still
  // be exactly orthogonal.
  const int64_t d = 8;
  Eigen::MatrixXd t = planeRotation(d, {0.8, 0.8}, 9);
  llvm::Expected<ResidualTransitionApproximation> a =
      approximateResidualTransition(t, 2);
  ASSERT_TRUE(bool(a));
  EXPECT_LT(orthogonalityError(a->approximation), 1e-12);
  EXPECT_LE(a->frobeniusError,
            (t - Eigen::MatrixXd::Identity(d, d)).norm() + 1e-12);
}

TEST(ResidualApproximation, RejectsBadInputs) {
  Eigen::MatrixXd t = randomOrthogonalMatrix(6, 1);
  EXPECT_EQ(errorOf(approximateResidualTransition(t, 3)),
            "residual transition rank 3 is odd: the rank must be even "
            "because rotation planes come in pairs");
  EXPECT_EQ(errorOf(approximateResidualTransition(t, 8)),
            "residual transition rank 8 is out of range: need 0 <= rank <= 6 "
            "(the transition size)");
  EXPECT_NE(errorOf(approximateResidualTransition(t, -2)).find("rank -2"),
            std::string::npos);
  EXPECT_EQ(errorOf(approximateResidualTransition(Eigen::MatrixXd::Zero(3, 4),
                                                  2)),
            "residual transition must be square, got 3x4");
  Eigen::MatrixXd scaled = 1.01 * t;
  std::string message = errorOf(approximateResidualTransition(scaled, 2));
  EXPECT_NE(message.find("residual transition is not orthogonal: "
                         "max|T^T T - I| = "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("exceeds the tolerance 1.000000e-06"),
            std::string::npos)
      << message;
  Eigen::MatrixXd nan = t;
  nan(1, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(errorOf(approximateResidualTransition(nan, 2)),
            "residual transition has non-finite entries");
  // The tolerance is the caller's: float32-level drift passes by default
  // and fails a tight tolerance.
  Eigen::MatrixXd drift = t;
  drift(0, 0) += 1e-8;
  EXPECT_EQ(errorOf(approximateResidualTransition(drift, 2)), "success");
  EXPECT_NE(errorOf(approximateResidualTransition(drift, 2, 1e-12))
                .find("not orthogonal"),
            std::string::npos);
}
