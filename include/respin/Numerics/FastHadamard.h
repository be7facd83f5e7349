//===- FastHadamard.h - In-place O(n (m + K)) Hadamard transform -*- C++ -*-===//
//
// Applies the normalized H_n = (H_K kron H_{2^m}) / sqrt(n) of Hadamard.h to a
// vector, or to every row of a row-major matrix, without forming H_n: a fast
// Walsh-Hadamard transform over the 2^m factor and a dense K x K product over
// the K factor, n (m + K) additions in all.
//
// Index convention (the Kronecker order of Hadamard.h, and the reference
// QuaRot code): x[i] with i = a * 2^m + b, a < K major, b < 2^m minor.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_FASTHADAMARD_H
#define RESPIN_NUMERICS_FASTHADAMARD_H

#include "respin/Numerics/HadamardFactors.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace respin {

/// A prepared transform for one size; cheap to copy, safe to share between
/// threads (apply* allocate their own scratch).
class FastHadamardTransform {
public:
  /// The transform for size n, or the unsupported-size error of
  /// getHadamardSplit.
  static llvm::Expected<FastHadamardTransform> create(int64_t n);

  int64_t size() const { return n; }
  HadamardSplit split() const { return {k, m}; }

  /// x <- H_n x, or x <- H_n^T x (= H_n^{-1} x) when `transpose`.
  /// Requires x.size() == size().
  void apply(llvm::MutableArrayRef<double> x, bool transpose = false) const;
  void apply(llvm::MutableArrayRef<float> x, bool transpose = false) const;

  /// Transforms every length-n row of the row-major `rows` (size a multiple of
  /// n): X <- X H_n^T, or X <- X H_n when `transpose`.
  void applyRows(llvm::MutableArrayRef<double> rows,
                 bool transpose = false) const;
  void applyRows(llvm::MutableArrayRef<float> rows,
                 bool transpose = false) const;

private:
  FastHadamardTransform(int64_t n, HadamardSplit split);

  int64_t n;
  int64_t k;
  int m;
  std::vector<double> factor;       ///< K x K, row-major, +-1
  std::vector<float> factorFloat;   ///< the same as floats
};

/// One-shot convenience: x <- H_n x with n = x.size().
llvm::Error fastHadamardTransform(llvm::MutableArrayRef<double> x,
                                  bool transpose = false);
llvm::Error fastHadamardTransform(llvm::MutableArrayRef<float> x,
                                  bool transpose = false);

} // namespace respin

#endif // RESPIN_NUMERICS_FASTHADAMARD_H
