//===- HadamardFactors.h - Integer +-1 Hadamard factors ---------*- C++ -*-===//
//
// The K x K (+-1) Hadamard factors behind every Hadamard transform in respin,
// and the rule that splits a transform size n into K * 2^m. Everything here is
// exact integer arithmetic with no dependency beyond the standard library, so
// that the float runtime can compile or link this file on its own and both
// sides use the very same matrices.
//
// Conventions: matrices are row-major std::vector<int8_t> of entries +-1.
// The normalized transform of size n = K * 2^m is (H_K kron H_{2^m}) / sqrt(n)
// with H_{2^m} the Sylvester matrix in natural order.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_NUMERICS_HADAMARDFACTORS_H
#define RESPIN_NUMERICS_HADAMARDFACTORS_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace respin {

/// How a K x K factor is built.
enum class HadamardConstruction {
  Sylvester,  ///< K = 1 (and every power of two).
  PaleyI,     ///< K = q + 1, q = 3 (mod 4) a prime power.
  PaleyII,    ///< K = 2(q + 1), q = 1 (mod 4) a prime power.
  Doubling,   ///< K = 2 * K', [[H, H], [H, -H]] of a supported K'.
  Williamson, ///< K = 4n from four symmetric circulants of odd order n.
};

/// One supported factor order and how it is built. `parameter` is q for the
/// Paley constructions, K' for doubling, n for Williamson, 0 for Sylvester.
struct HadamardFactorInfo {
  int64_t order;
  HadamardConstruction construction;
  int64_t parameter;
};

/// Every supported factor, ascending by order:
/// 1, 12, 20, 28, 36, 40, 44, 52, 60, 76, 108, 140, 156, 172.
const std::vector<HadamardFactorInfo> &hadamardFactorTable();

/// The table entry for `order`, or nullptr when that order is unsupported.
const HadamardFactorInfo *findHadamardFactor(int64_t order);

/// A transform size written as n = k * 2^m.
struct HadamardSplit {
  int64_t k = 1;
  int m = 0;
};

/// Splits n = K * 2^m with K the largest supported order for which n / K is a
/// power of two (so 5120 = 40 * 2^7, not 20 * 2^8, as in the QuaRot/SpinQuant
/// reference code). std::nullopt when n <= 0 or no supported K fits.
std::optional<HadamardSplit> splitHadamardSize(int64_t n);

/// The diagnostic for a size that splitHadamardSize rejects, e.g.
/// "no Hadamard matrix of size 1000 = 125·2^3: supported sizes are K·2^m
/// with K in {1, 12, ..., 172}".
std::string unsupportedHadamardSizeMessage(int64_t n);

/// The supported orders as "{1, 12, 20, ..., 172}".
std::string supportedHadamardFactorList();

/// The K x K +-1 factor for a supported order (row-major), or an empty vector
/// when `order` is not in hadamardFactorTable(). H * H^T = K * I exactly.
std::vector<int8_t> hadamardFactor(int64_t order);

//===----------------------------------------------------------------------===//
// Building blocks (exposed for tests and for anyone who wants the pieces)
//===----------------------------------------------------------------------===//

/// Sylvester matrix of order 2^m in natural order: H[i][j] = (-1)^popcount(i&j).
std::vector<int8_t> sylvesterHadamard(int m);

/// Whether q = p^k for a prime p and k >= 1; sets `prime` and `power`.
bool isPrimePower(int64_t q, int64_t &prime, int &power);

/// Jacobsthal matrix of GF(q) (q an odd prime power, at most 4096):
/// Q[i][j] = chi(x_i - x_j), chi the quadratic character, with field elements
/// x_i numbered by their base-p coefficient digits. Empty if q is not an odd
/// prime power in range. Q Q^T = q I - J; Q is skew-symmetric for q = 3 (mod 4)
/// and symmetric for q = 1 (mod 4).
std::vector<int8_t> jacobsthalMatrix(int64_t q);

/// Paley I Hadamard matrix of order q + 1 (q = 3 mod 4): I + S with the
/// skew-symmetric S = [[0, 1^T], [-1, Q]]. Empty if q does not qualify.
std::vector<int8_t> paleyIHadamard(int64_t q);

/// Paley II Hadamard matrix of order 2(q + 1) (q = 1 mod 4), symmetric:
/// C kron [[1, 1], [1, -1]] + I kron [[1, -1], [-1, -1]] with the symmetric
/// conference matrix C = [[0, 1^T], [1, Q]]. Empty if q does not qualify.
std::vector<int8_t> paleyIIHadamard(int64_t q);

/// [[H, H], [H, -H]] for a k x k matrix H.
std::vector<int8_t> doubleHadamard(const std::vector<int8_t> &h, int64_t k);

/// First rows of stored Williamson matrices A, B, C, D of odd order n (each n
/// entries of +-1; the circulants are symmetric). Empty for orders we do not
/// store (only 39 and 43).
std::vector<std::vector<int8_t>> williamsonFirstRows(int64_t n);

/// Williamson's array [[A, B, C, D], [-B, A, -D, C], [-C, D, A, -B],
/// [-D, -C, B, A]] of order 4n built from the circulants with the given first
/// rows (n each). Returns a Hadamard matrix only if the rows really are
/// Williamson rows; the unit tests check that for the stored ones.
std::vector<int8_t>
williamsonArray(const std::vector<std::vector<int8_t>> &firstRows);

} // namespace respin

#endif // RESPIN_NUMERICS_HADAMARDFACTORS_H
