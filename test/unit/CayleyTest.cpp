//===- CayleyTest.cpp - Cayley SGD on the orthogonal group ----------------===//

#include "respin/Numerics/Cayley.h"
#include "respin/Numerics/Orthogonal.h"
#include "respin/Numerics/RandomOrthogonal.h"

#include <gtest/gtest.h>

using namespace respin;

namespace {

/// Orthogonal Procrustes: min_R ||R A - B||_F^2 over orthogonal R has the
/// closed-form optimum polar(B A^T). Its Euclidean gradient is
/// 2 (R A - B) A^T.
struct Procrustes {
  Eigen::MatrixXd a, b;
  explicit Procrustes(int64_t n, uint64_t seed) {
    SeededRandom random(seed);
    a.resize(n, 3 * n);
    for (int64_t i = 0; i < a.size(); ++i)
      a.data()[i] = random.nextNormal();
    // B = R* A + noise for a known rotation R*.
    Eigen::MatrixXd noise(n, 3 * n);
    for (int64_t i = 0; i < noise.size(); ++i)
      noise.data()[i] = 0.1 * random.nextNormal();
    b = randomOrthogonalMatrix(n, seed + 1) * a + noise;
  }
  double loss(const Eigen::MatrixXd &r) const {
    return (r * a - b).squaredNorm();
  }
  Eigen::MatrixXd gradient(const Eigen::MatrixXd &r) const {
    return 2 * (r * a - b) * a.transpose();
  }
  Eigen::MatrixXd optimum() const { return polarFactor(b * a.transpose()); }
};

TEST(CayleySGD, FirstOrderStepIsTheRiemannianGradient) {
  // For a small lr, R_new - R = -lr/2 (G - R G^T R) + O(lr^2).
  Eigen::MatrixXd r = randomOrthogonalMatrix(6, 1);
  Procrustes problem(6, 2);
  Eigen::MatrixXd g = problem.gradient(r);
  double lr = 1e-6 / g.cwiseAbs().colwise().sum().maxCoeff();
  Eigen::MatrixXd moved = r;
  CayleySGD sgd;
  CayleyStep info = sgd.step(moved, g, lr);
  EXPECT_DOUBLE_EQ(info.alpha, lr);
  Eigen::MatrixXd expected = -lr / 2 * (g - r * g.transpose() * r);
  EXPECT_LT((moved - r - expected).norm(), 1e-6 * expected.norm());
}

TEST(CayleySGD, ConvergesToTheProcrustesOptimum) {
  Procrustes problem(8, 3);
  Eigen::MatrixXd r = randomOrthogonalMatrix(8, 4);
  double start = problem.loss(r), best = problem.loss(problem.optimum());
  for (double momentum : {0.0, 0.9}) {
    Eigen::MatrixXd x = r;
    CayleyOptions options;
    options.momentum = momentum;
    CayleySGD sgd(options);
    // The loss has curvature ~ 2 ||A||_2^2; steps of 1 / ||A||_2^2 (the
    // Cayley step moves by lr/2 along the gradient) converge linearly.
    double lr = 1.0 / std::pow(problem.a.operatorNorm(), 2);
    for (int step = 0; step < 1000; ++step)
      sgd.step(x, problem.gradient(x), lr);
    EXPECT_LT(problem.loss(x), start);
    // The same minimum as the closed form (gap below 1e-6 of the start).
    EXPECT_LT(problem.loss(x) - best, 1e-6 * start) << "momentum " << momentum;
    EXPECT_LT((x - problem.optimum()).cwiseAbs().maxCoeff(), 1e-3);
  }
}

TEST(CayleySGD, StaysOrthogonalOverAThousandCappedSteps) {
  // Huge learning rates make every step hit the cap alpha = 1/||A||_1, the
  // worst case for the fixed-point iteration.
  for (int64_t period : {int64_t(0), int64_t(100)}) {
    Eigen::MatrixXd r = randomOrthogonalMatrix(16, 5);
    CayleyOptions options;
    options.reorthonormalizeEvery = period;
    options.momentum = 0.5;
    CayleySGD sgd(options);
    SeededRandom random(6);
    double worst = 0;
    int capped = 0;
    for (int step = 0; step < 1000; ++step) {
      Eigen::MatrixXd g(16, 16);
      for (int64_t i = 0; i < g.size(); ++i)
        g.data()[i] = random.nextNormal();
      CayleyStep info = sgd.step(r, g, 100.0);
      capped += info.alpha < 100.0;
      worst = std::max(worst, orthogonalityError(r));
    }
    EXPECT_EQ(capped, 1000);
    EXPECT_LT(worst, 1e-6) << "period " << period;
  }
}

TEST(CayleySGD, DeterministicForTheSameInputs) {
  Procrustes problem(5, 7);
  auto run = [&]() {
    Eigen::MatrixXd x = randomOrthogonalMatrix(5, 8);
    CayleyOptions options;
    options.momentum = 0.9;
    CayleySGD sgd(options);
    for (int step = 0; step < 50; ++step)
      sgd.step(x, problem.gradient(x), 0.001);
    return x;
  };
  EXPECT_EQ(run(), run());
}

TEST(LearningRateSchedule, ConstantLinearCosine) {
  EXPECT_DOUBLE_EQ(
      scheduledLearningRate(LearningRateSchedule::Constant, 2, 7, 10), 2);
  EXPECT_DOUBLE_EQ(
      scheduledLearningRate(LearningRateSchedule::Linear, 2, 0, 10), 2);
  EXPECT_DOUBLE_EQ(
      scheduledLearningRate(LearningRateSchedule::Linear, 2, 5, 10), 1);
  EXPECT_DOUBLE_EQ(
      scheduledLearningRate(LearningRateSchedule::Cosine, 2, 5, 10), 1);
  EXPECT_NEAR(scheduledLearningRate(LearningRateSchedule::Cosine, 2, 10, 10), 0,
              1e-15);
}

} // namespace
