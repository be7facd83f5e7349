//===- RandomOrthogonal.h - Seeded random rotations -------------*- C++ -*-===//
//
// Seeded randomized Hadamard matrices H_n diag(s) and Haar-random orthogonal
// matrices. A seed gives the same numbers on every platform: we take raw
// outputs of std::mt19937_64 (whose output sequence the C++ standard fixes)
// and map them ourselves instead of using the implementation-defined
// std::*_distribution classes. The only platform dependence left is the last
// bit of std::log / std::cos / std::sin inside the normal mapping.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_RANDOMORTHOGONAL_H
#define RESPIN_NUMERICS_RANDOMORTHOGONAL_H

#include "llvm/Support/Error.h"

#include <Eigen/Dense>

#include <cstdint>
#include <random>

namespace respin {

/// Deterministic random numbers from a seed (see the file comment).
class SeededRandom {
public:
  explicit SeededRandom(uint64_t seed) : engine(seed) {}

  /// The next raw 64-bit output of std::mt19937_64(seed).
  uint64_t nextRaw() { return engine(); }
  /// +1 or -1 from the top bit of one raw output (top bit set: -1).
  double nextSign();
  /// Uniform in [0, 1): the top 53 bits of one raw output times 2^-53.
  double nextUniform();
  /// Standard normal by Box-Muller on two raw outputs u1 in (0, 1],
  /// u2 in [0, 1): r = sqrt(-2 ln u1), returns r cos(2 pi u2) and, on the next
  /// call, r sin(2 pi u2).
  double nextNormal();

private:
  std::mt19937_64 engine;
  bool hasSpare = false;
  double spare = 0;
};

/// s in {+1, -1}^n: s_i = SeededRandom(seed).nextSign() in order.
Eigen::VectorXd randomSignVector(int64_t n, uint64_t seed);

/// H_n diag(s) with H_n = hadamardMatrix(n) and s = randomSignVector(n, seed)
/// (columns of H_n negated where s_i = -1). Errors for unsupported n.
llvm::Expected<Eigen::MatrixXd> randomHadamardMatrix(int64_t n, uint64_t seed);

/// A Haar-distributed n x n orthogonal matrix: Q of the Householder QR of a
/// Gaussian matrix G (entries SeededRandom(seed).nextNormal() filled row by
/// row), with Q's columns negated where R's diagonal is negative so that the
/// factorization is the unique one with diag(R) > 0.
Eigen::MatrixXd randomOrthogonalMatrix(int64_t n, uint64_t seed);

} // namespace respin

#endif // RESPIN_NUMERICS_RANDOMORTHOGONAL_H
