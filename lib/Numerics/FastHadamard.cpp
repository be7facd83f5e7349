//===- FastHadamard.cpp - In-place O(n (m + K)) Hadamard transform --------===//
//
// View x as a K x 2^m row-major matrix X. Then (H_K kron H_{2^m}) x is
// H_K X H_{2^m}^T: an unnormalized FWHT of every row of X (m butterfly stages),
// then the K x K factor mixing the rows, then one scaling by 1/sqrt(n).
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/FastHadamard.h"

#include "respin/Numerics/Hadamard.h"

#include <cassert>
#include <cmath>

using namespace respin;

FastHadamardTransform::FastHadamardTransform(int64_t n, HadamardSplit split)
    : n(n), k(split.k), m(split.m) {
  std::vector<int8_t> h = hadamardFactor(k);
  factor.assign(h.begin(), h.end());
  factorFloat.assign(h.begin(), h.end());
}

llvm::Expected<FastHadamardTransform>
FastHadamardTransform::create(int64_t n) {
  llvm::Expected<HadamardSplit> split = getHadamardSplit(n);
  if (!split)
    return split.takeError();
  return FastHadamardTransform(n, *split);
}

/// Transforms one vector of length k * 2^m in place; `scratch` holds n values.
template <typename T>
static void transformOne(T *x, int64_t k, int m, const T *factor,
                         bool transpose, T scale, T *scratch) {
  const int64_t p = int64_t(1) << m;
  // Sylvester factor: natural-order butterflies on each row of X.
  for (int64_t a = 0; a < k; ++a) {
    T *row = x + a * p;
    for (int64_t half = 1; half < p; half *= 2)
      for (int64_t i = 0; i < p; i += 2 * half)
        for (int64_t j = i; j < i + half; ++j) {
          T u = row[j], v = row[j + half];
          row[j] = u + v;
          row[j + half] = u - v;
        }
  }
  if (k == 1) {
    for (int64_t i = 0; i < p; ++i)
      x[i] *= scale;
    return;
  }
  // K factor: out row a = sum_c H[a][c] * row c (H^T: H[c][a]); rows are
  // contiguous, so the inner loop streams over 2^m values.
  for (int64_t a = 0; a < k; ++a) {
    T *out = scratch + a * p;
    for (int64_t j = 0; j < p; ++j)
      out[j] = 0;
    for (int64_t c = 0; c < k; ++c) {
      const T h = transpose ? factor[c * k + a] : factor[a * k + c];
      const T *in = x + c * p;
      for (int64_t j = 0; j < p; ++j)
        out[j] += h * in[j];
    }
  }
  for (int64_t i = 0; i < k * p; ++i)
    x[i] = scratch[i] * scale;
}

template <typename T>
static void transformRows(llvm::MutableArrayRef<T> data, int64_t n, int64_t k,
                          int m, const std::vector<T> &factor,
                          bool transpose) {
  assert(n > 0 && data.size() % size_t(n) == 0 &&
         "data length must be a multiple of the transform size");
  const T scale = T(1.0 / std::sqrt(double(n)));
  std::vector<T> scratch(k > 1 ? n : 0);
  for (size_t offset = 0; offset < data.size(); offset += size_t(n))
    transformOne(data.data() + offset, k, m, factor.data(), transpose, scale,
                 scratch.data());
}

void FastHadamardTransform::apply(llvm::MutableArrayRef<double> x,
                                  bool transpose) const {
  assert(int64_t(x.size()) == n && "vector length must equal the size");
  transformRows(x, n, k, m, factor, transpose);
}

void FastHadamardTransform::apply(llvm::MutableArrayRef<float> x,
                                  bool transpose) const {
  assert(int64_t(x.size()) == n && "vector length must equal the size");
  transformRows(x, n, k, m, factorFloat, transpose);
}

void FastHadamardTransform::applyRows(llvm::MutableArrayRef<double> rows,
                                      bool transpose) const {
  transformRows(rows, n, k, m, factor, transpose);
}

void FastHadamardTransform::applyRows(llvm::MutableArrayRef<float> rows,
                                      bool transpose) const {
  transformRows(rows, n, k, m, factorFloat, transpose);
}

template <typename T>
static llvm::Error transformOnce(llvm::MutableArrayRef<T> x, bool transpose) {
  llvm::Expected<FastHadamardTransform> transform =
      FastHadamardTransform::create(int64_t(x.size()));
  if (!transform)
    return transform.takeError();
  transform->apply(x, transpose);
  return llvm::Error::success();
}

llvm::Error respin::fastHadamardTransform(llvm::MutableArrayRef<double> x,
                                          bool transpose) {
  return transformOnce(x, transpose);
}

llvm::Error respin::fastHadamardTransform(llvm::MutableArrayRef<float> x,
                                          bool transpose) {
  return transformOnce(x, transpose);
}
