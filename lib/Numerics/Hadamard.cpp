//===- Hadamard.cpp - Dense normalized Hadamard matrices ------------------===//
//
// Builds (H_K kron H_{2^m}) / sqrt(n) entry by entry from the integer factors.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/Hadamard.h"

#include <cassert>
#include <cmath>

using namespace respin;

bool respin::isSupportedHadamardSize(int64_t n) {
  return splitHadamardSize(n).has_value();
}

llvm::Expected<HadamardSplit> respin::getHadamardSplit(int64_t n) {
  if (std::optional<HadamardSplit> split = splitHadamardSize(n))
    return *split;
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 unsupportedHadamardSizeMessage(n));
}

Eigen::MatrixXd respin::hadamardFactorMatrix(int64_t order) {
  std::vector<int8_t> factor = hadamardFactor(order);
  assert(!factor.empty() && "unsupported Hadamard factor order");
  Eigen::MatrixXd h(order, order);
  for (int64_t i = 0; i < order; ++i)
    for (int64_t j = 0; j < order; ++j)
      h(i, j) = factor[i * order + j];
  return h;
}

llvm::Expected<Eigen::MatrixXd> respin::hadamardMatrix(int64_t n) {
  llvm::Expected<HadamardSplit> split = getHadamardSplit(n);
  if (!split)
    return split.takeError();
  const int64_t k = split->k, p = int64_t(1) << split->m;
  std::vector<int8_t> factor = hadamardFactor(k);
  const double scale = 1.0 / std::sqrt(double(n));
  // Index i = a * p + b (a < K major, b < 2^m minor), as in the Kronecker
  // product; the Sylvester entry is (-1)^popcount(b & d).
  Eigen::MatrixXd h(n, n);
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < p; ++b)
      for (int64_t c = 0; c < k; ++c)
        for (int64_t d = 0; d < p; ++d) {
          int sylvester = __builtin_parityll(uint64_t(b & d)) ? -1 : 1;
          h(a * p + b, c * p + d) = factor[a * k + c] * sylvester * scale;
        }
  return h;
}
