//===- NumericsRandomTest.cpp - Seeded random rotations -------------------===//
//
// The generator is the standard's mt19937_64 with our own mappings, seeded
// results reproduce and different seeds differ, randomized Hadamards are
// H diag(s), and random orthogonal matrices are orthogonal with diag(R) > 0.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/Hadamard.h"
#include "respin/Numerics/Orthogonal.h"
#include "respin/Numerics/RandomOrthogonal.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace respin;

TEST(SeededRandom, RawEngineIsTheStandardMt19937_64) {
  // [rand.predef]: the 10000th output of a default-constructed mt19937_64
  // (seed 5489) is 9981545732273789042, on every conforming platform.
  SeededRandom random(5489);
  uint64_t value = 0;
  for (int i = 0; i < 10000; ++i)
    value = random.nextRaw();
  EXPECT_EQ(value, 9981545732273789042ull);
}

TEST(SeededRandom, MappingsAreOurs) {
  // Pin the documented mappings to raw outputs.
  SeededRandom a(42), b(42);
  uint64_t raw = b.nextRaw();
  EXPECT_EQ(a.nextUniform(), double(raw >> 11) * std::ldexp(1.0, -53));
  raw = b.nextRaw();
  EXPECT_EQ(a.nextSign(), (raw >> 63) ? -1.0 : 1.0);
  uint64_t r1 = b.nextRaw(), r2 = b.nextRaw();
  double u1 = double((r1 >> 11) + 1) * std::ldexp(1.0, -53);
  double u2 = double(r2 >> 11) * std::ldexp(1.0, -53);
  double radius = std::sqrt(-2.0 * std::log(u1));
  // DOUBLE_EQ (4 ulps): the compiler may contract or reorder the products.
  EXPECT_DOUBLE_EQ(a.nextNormal(), radius * std::cos(2.0 * M_PI * u2));
  EXPECT_DOUBLE_EQ(a.nextNormal(), radius * std::sin(2.0 * M_PI * u2));
  EXPECT_EQ(a.nextRaw(), b.nextRaw()); // the spare used no raw output
}

TEST(SeededRandom, NormalMoments) {
  // Deterministic for the seed, so these loose checks cannot flake.
  SeededRandom random(1);
  const int count = 200000;
  double sum = 0, sumSquares = 0, sumFourth = 0;
  for (int i = 0; i < count; ++i) {
    double z = random.nextNormal();
    sum += z;
    sumSquares += z * z;
    sumFourth += z * z * z * z;
  }
  EXPECT_NEAR(sum / count, 0.0, 0.01);
  EXPECT_NEAR(sumSquares / count, 1.0, 0.02);
  EXPECT_NEAR(sumFourth / count, 3.0, 0.1); // Gaussian kurtosis
  double uniformSum = 0;
  for (int i = 0; i < count; ++i) {
    double u = random.nextUniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    uniformSum += u;
  }
  EXPECT_NEAR(uniformSum / count, 0.5, 0.005);
}

TEST(RandomSigns, ReproducibleAndSeedDependent) {
  Eigen::VectorXd a = randomSignVector(4096, 11);
  Eigen::VectorXd b = randomSignVector(4096, 11);
  Eigen::VectorXd c = randomSignVector(4096, 12);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE((a.array().abs() == 1.0).all());
  EXPECT_LT(std::abs(a.sum()), 4096 * 0.1); // both signs occur
}

TEST(RandomHadamard, IsHadamardTimesSignsAndOrthogonal) {
  for (int64_t n : {64, 24, 156, 344}) {
    llvm::Expected<Eigen::MatrixXd> r = randomHadamardMatrix(n, 5);
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    Eigen::MatrixXd expected =
        *hadamardMatrix(n) * randomSignVector(n, 5).asDiagonal();
    EXPECT_EQ(*r, expected);
    EXPECT_LT(orthogonalityError(*r), 1e-12);
    EXPECT_EQ(*r, *randomHadamardMatrix(n, 5));
    EXPECT_NE(*r, *randomHadamardMatrix(n, 6));
  }
  llvm::Expected<Eigen::MatrixXd> bad = randomHadamardMatrix(1000, 1);
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            unsupportedHadamardSizeMessage(1000));
}

TEST(RandomOrthogonal, OrthogonalReproducibleSeedDependent) {
  for (int64_t n : {1, 2, 5, 64, 200}) {
    Eigen::MatrixXd q = randomOrthogonalMatrix(n, 3);
    EXPECT_LT(orthogonalityError(q), 1e-12) << "n = " << n;
    EXPECT_LT(orthogonalityError(q.transpose()), 1e-12) << "n = " << n;
    EXPECT_EQ(q, randomOrthogonalMatrix(n, 3)); // bitwise
    if (n > 1) { // a 1x1 orthogonal matrix is +-1: seeds may agree
      EXPECT_NE(q, randomOrthogonalMatrix(n, 4));
    }
  }
}

TEST(RandomOrthogonal, IsTheQFactorWithPositiveDiagonalR) {
  const int64_t n = 30;
  SeededRandom random(9);
  Eigen::MatrixXd g(n, n);
  for (int64_t i = 0; i < n; ++i) // row by row, as documented
    for (int64_t j = 0; j < n; ++j)
      g(i, j) = random.nextNormal();
  Eigen::MatrixXd q = randomOrthogonalMatrix(n, 9);
  Eigen::MatrixXd r = q.transpose() * g;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GT(r(i, i), 0.0);
    for (int64_t j = 0; j < i; ++j)
      EXPECT_NEAR(r(i, j), 0.0, 1e-12); // upper triangular
  }
}
