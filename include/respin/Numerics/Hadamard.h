//===- Hadamard.h - Dense normalized Hadamard matrices ----------*- C++ -*-===//
//
// Float64 Hadamard matrices of every supported size n = K * 2^m, normalized so
// they are orthogonal: H_n = (H_K kron H_{2^m}) / sqrt(n), with H_K the factor
// from HadamardFactors.h and H_{2^m} the natural-order Sylvester matrix. This
// is the matrix that FastHadamardTransform applies.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_HADAMARD_H
#define RESPIN_NUMERICS_HADAMARD_H

#include "respin/Numerics/HadamardFactors.h"

#include "llvm/Support/Error.h"

#include <Eigen/Dense>

namespace respin {

/// Whether n = K * 2^m for a supported factor order K.
bool isSupportedHadamardSize(int64_t n);

/// The split n = K * 2^m, or an error carrying
/// unsupportedHadamardSizeMessage(n) ("no Hadamard matrix of size 1000 =
/// 125·2^3: supported sizes are K·2^m with K in {1, 12, ...}").
llvm::Expected<HadamardSplit> getHadamardSplit(int64_t n);

/// The K x K +-1 factor of a supported order as doubles (not normalized).
/// Asserts that `order` is supported.
Eigen::MatrixXd hadamardFactorMatrix(int64_t order);

/// The normalized n x n Hadamard matrix H_n = (H_K kron H_{2^m}) / sqrt(n),
/// orthogonal to rounding. Dense: it holds n^2 doubles, so use
/// FastHadamardTransform for large n. Errors for unsupported n as above.
llvm::Expected<Eigen::MatrixXd> hadamardMatrix(int64_t n);

} // namespace respin

#endif // RESPIN_NUMERICS_HADAMARD_H
