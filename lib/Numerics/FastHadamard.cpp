//===- FastHadamard.cpp - In-place O(n (m + K)) Hadamard transform --------===//
//
// View x as a K x 2^m row-major matrix X. Then (H_K kron H_{2^m}) x is
// H_K X H_{2^m}^T: an unnormalized FWHT of every row of X (m butterfly stages),
// then the K x K factor mixing the rows, then one scaling by 1/sqrt(n).
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/FastHadamard.h"

#include "respin/Numerics/Hadamard.h"

#include <algorithm>
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

/// Unnormalized FWHT (natural-order butterflies) of each of the k rows of
/// length 2^m of one vector.
template <typename T> static void sylvesterRows(T *x, int64_t k, int m) {
  const int64_t p = int64_t(1) << m;
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
}

/// The K factor applied to `count` consecutive vectors at once. Their
/// 2^m-long rows are gathered into a K x (count * 2^m) panel so that the
/// inner loop streams over count * 2^m values even when 2^m is 1 (K = n,
/// e.g. the 172-wide down_proj input of a small model). Each output is still
/// the sum over c = 0, 1, ..., K-1 in that order of +-1 times the input, so
/// the result does not depend on `count`.
template <typename T>
static void kFactorVectors(T *x, int64_t count, int64_t k, int m,
                           const T *factor, bool transpose, T scale,
                           std::vector<T> &scratch) {
  const int64_t p = int64_t(1) << m, n = k * p, width = count * p;
  scratch.resize(2 * k * width);
  T *in = scratch.data(), *out = in + k * width;
  for (int64_t v = 0; v < count; ++v)
    for (int64_t c = 0; c < k; ++c)
      for (int64_t j = 0; j < p; ++j)
        in[c * width + v * p + j] = x[v * n + c * p + j];
  for (int64_t a = 0; a < k; ++a) {
    T *result = out + a * width;
    for (int64_t j = 0; j < width; ++j)
      result[j] = 0;
    for (int64_t c = 0; c < k; ++c) {
      const T h = transpose ? factor[c * k + a] : factor[a * k + c];
      const T *source = in + c * width;
      for (int64_t j = 0; j < width; ++j)
        result[j] += h * source[j];
    }
  }
  for (int64_t v = 0; v < count; ++v)
    for (int64_t a = 0; a < k; ++a)
      for (int64_t j = 0; j < p; ++j)
        x[v * n + a * p + j] = out[a * width + v * p + j] * scale;
}

/// Panel width (values per K-factor row) that keeps the panel in L1 for the
/// largest K while giving the inner loop enough values to vectorize.
constexpr int64_t kPanelWidth = 32;

template <typename T>
static void transformRows(llvm::MutableArrayRef<T> data, int64_t n, int64_t k,
                          int m, const std::vector<T> &factor,
                          bool transpose) {
  assert(n > 0 && data.size() % size_t(n) == 0 &&
         "data length must be a multiple of the transform size");
  const T scale = T(1.0 / std::sqrt(double(n)));
  const int64_t vectors = int64_t(data.size()) / n;
  const int64_t p = int64_t(1) << m;
  const int64_t batch = std::max<int64_t>(1, kPanelWidth / p);
  std::vector<T> scratch;
  for (int64_t first = 0; first < vectors; first += batch) {
    int64_t count = std::min(batch, vectors - first);
    T *x = data.data() + first * n;
    for (int64_t v = 0; v < count; ++v)
      sylvesterRows(x + v * n, k, m);
    if (k == 1) {
      for (int64_t i = 0; i < count * n; ++i)
        x[i] *= scale;
      continue;
    }
    kFactorVectors(x, count, k, m, factor.data(), transpose, scale, scratch);
  }
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
