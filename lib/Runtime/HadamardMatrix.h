//===- HadamardMatrix.h - K x K Hadamard factors ------------------*- C++ -*-===//
//
// The +-1 matrices H_K used as the non-power-of-two factor of the online
// Hadamard transform: those of the shared table in
// respin/Numerics/HadamardFactors.h (RespinHadamardFactors), built once on
// first use, split by its rule (largest K).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_LIB_RUNTIME_HADAMARDMATRIX_H
#define RESPIN_LIB_RUNTIME_HADAMARDMATRIX_H

#include <cstdint>

namespace respin::rt {

/// Row-major K x K matrix for a supported K, else null.
const int8_t *hadamardMatrix(int64_t k);
/// The same matrix as floats, transposed: signsT[j * K + a] = H[a][j].
const float *hadamardSignsTransposed(int64_t k);
/// n = k * pow2 with the largest supported k; false when none fits.
bool hadamardFactor(int64_t n, int64_t &k, int64_t &pow2);
/// "1,12,20,..." (ascending).
const char *hadamardSizes();
/// The shared diagnostic for an unsupported size n (thread-local storage).
const char *unsupportedSizeMessage(int64_t n);
/// The supported orders as "{1, 12, ..., 172}".
const char *supportedFactorList();

} // namespace respin::rt

#endif // RESPIN_LIB_RUNTIME_HADAMARDMATRIX_H
