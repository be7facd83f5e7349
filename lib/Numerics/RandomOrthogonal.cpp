//===- RandomOrthogonal.cpp - Seeded random rotations ---------------------===//
//
// Our own uniform/sign/normal mappings of mt19937_64 outputs, and the QR-based
// Haar orthogonal matrix with the diag(R) > 0 sign fix.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/RandomOrthogonal.h"

#include "respin/Numerics/Hadamard.h"

#include <cmath>

using namespace respin;

static constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;

double SeededRandom::nextSign() { return (nextRaw() >> 63) ? -1.0 : 1.0; }

double SeededRandom::nextUniform() {
  return double(nextRaw() >> 11) * kTwoToMinus53;
}

double SeededRandom::nextNormal() {
  if (hasSpare) {
    hasSpare = false;
    return spare;
  }
  // u1 in (0, 1] keeps the logarithm finite.
  double u1 = double((nextRaw() >> 11) + 1) * kTwoToMinus53;
  double u2 = nextUniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * M_PI * u2;
  spare = r * std::sin(theta);
  hasSpare = true;
  return r * std::cos(theta);
}

Eigen::VectorXd respin::randomSignVector(int64_t n, uint64_t seed) {
  SeededRandom random(seed);
  Eigen::VectorXd s(n);
  for (int64_t i = 0; i < n; ++i)
    s(i) = random.nextSign();
  return s;
}

llvm::Expected<Eigen::MatrixXd> respin::randomHadamardMatrix(int64_t n,
                                                             uint64_t seed) {
  llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(n);
  if (!h)
    return h.takeError();
  Eigen::VectorXd s = randomSignVector(n, seed);
  return Eigen::MatrixXd(*h * s.asDiagonal());
}

Eigen::MatrixXd respin::randomOrthogonalMatrix(int64_t n, uint64_t seed) {
  SeededRandom random(seed);
  Eigen::MatrixXd g(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      g(i, j) = random.nextNormal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(n, n);
  // Without this sign fix Q would not be Haar-distributed (it would depend on
  // the QR routine's sign choices).
  for (int64_t j = 0; j < n; ++j)
    if (qr.matrixQR()(j, j) < 0)
      q.col(j) = -q.col(j);
  return q;
}
