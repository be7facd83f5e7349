//===- NumericsFastHadamardTest.cpp - Fast transform vs dense matrix ------===//
//
// The O(n (m + K)) in-place transform must equal multiplication by the dense
// hadamardMatrix(n) (and its transpose), for vectors and for the rows of a
// row-major matrix, in double and in float, including non-power-of-two sizes
// where the Kronecker order of the two factors matters.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/FastHadamard.h"
#include "respin/Numerics/Hadamard.h"
#include "respin/Numerics/RandomOrthogonal.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace respin;

namespace {

/// Sizes covering K = 1 and every kind of factor, with m = 0 and m > 0.
const int64_t kSizes[] = {1,  2,   8,   64,  12,  24,  40,  80,
                          56, 112, 72,  52,  208, 60,  76,  152,
                          108, 280, 156, 172, 344, 688};

Eigen::VectorXd randomVector(int64_t n, uint64_t seed) {
  SeededRandom random(seed);
  Eigen::VectorXd x(n);
  for (int64_t i = 0; i < n; ++i)
    x(i) = random.nextNormal();
  return x;
}

} // namespace

TEST(FastHadamard, DoubleMatchesDenseMatrix) {
  for (int64_t n : kSizes) {
    llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(n);
    ASSERT_TRUE(bool(h)) << llvm::toString(h.takeError());
    llvm::Expected<FastHadamardTransform> fast =
        FastHadamardTransform::create(n);
    ASSERT_TRUE(bool(fast)) << llvm::toString(fast.takeError());
    EXPECT_EQ(fast->size(), n);
    for (bool transpose : {false, true}) {
      Eigen::VectorXd x = randomVector(n, uint64_t(n) * 2 + transpose);
      Eigen::VectorXd expected = transpose ? Eigen::VectorXd(h->transpose() * x)
                                           : Eigen::VectorXd(*h * x);
      std::vector<double> y(x.data(), x.data() + n);
      fast->apply(y, transpose);
      double error = 0;
      for (int64_t i = 0; i < n; ++i)
        error = std::max(error, std::abs(y[i] - expected(i)));
      // Both sides are sums of n terms of size |x_i| / sqrt(n); rounding is
      // ~1e-15 * ||x||, so 1e-12 * ||x|| is loose but catches any wrong entry.
      EXPECT_LT(error, 1e-12 * x.norm()) << "n = " << n << " T=" << transpose;
    }
  }
}

TEST(FastHadamard, TransposeIsTheInverse) {
  for (int64_t n : {24, 156, 172 * 4, 1024}) {
    llvm::Expected<FastHadamardTransform> fast =
        FastHadamardTransform::create(n);
    ASSERT_TRUE(bool(fast));
    Eigen::VectorXd x = randomVector(n, 7);
    std::vector<double> y(x.data(), x.data() + n);
    fast->apply(y);
    fast->apply(y, /*transpose=*/true);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(y[i], x(i), 1e-12 * x.norm());
  }
}

TEST(FastHadamard, PaleyIFactorIsNotSymmetricSoTransposeMatters) {
  // Guards the transpose flag: for K = 12 (skew-Hadamard) H != H^T.
  llvm::Expected<FastHadamardTransform> fast = FastHadamardTransform::create(24);
  ASSERT_TRUE(bool(fast));
  Eigen::VectorXd x = randomVector(24, 3);
  std::vector<double> a(x.data(), x.data() + 24), b = a;
  fast->apply(a, false);
  fast->apply(b, true);
  double difference = 0;
  for (int i = 0; i < 24; ++i)
    difference = std::max(difference, std::abs(a[i] - b[i]));
  EXPECT_GT(difference, 1e-3);
}

TEST(FastHadamard, RowsOfRowMajorMatrix) {
  for (int64_t n : {8, 40, 108, 344}) {
    const int64_t rows = 5;
    llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(n);
    llvm::Expected<FastHadamardTransform> fast =
        FastHadamardTransform::create(n);
    ASSERT_TRUE(h && fast);
    using RowMajor =
        Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMajor x(rows, n);
    SeededRandom random(n);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j)
        x(i, j) = random.nextNormal();
    for (bool transpose : {false, true}) {
      // Each row r becomes H r (X H^T), or H^T r (X H) when transposed.
      RowMajor expected = transpose ? RowMajor(x * *h)
                                    : RowMajor(x * h->transpose());
      RowMajor y = x;
      fast->applyRows(llvm::MutableArrayRef<double>(y.data(), rows * n),
                      transpose);
      EXPECT_LT((y - expected).cwiseAbs().maxCoeff(), 1e-12 * x.norm())
          << "n = " << n;
    }
  }
}

TEST(FastHadamard, FloatMatchesDenseMatrix) {
  for (int64_t n : kSizes) {
    llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(n);
    llvm::Expected<FastHadamardTransform> fast =
        FastHadamardTransform::create(n);
    ASSERT_TRUE(h && fast);
    HadamardSplit split = fast->split();
    for (bool transpose : {false, true}) {
      Eigen::VectorXd x = randomVector(n, uint64_t(n) + 100 * transpose);
      std::vector<float> y(n), rows(3 * n);
      for (int64_t i = 0; i < n; ++i)
        y[i] = float(x(i));
      Eigen::VectorXd xf(n); // the float input, exactly, in double
      for (int64_t i = 0; i < n; ++i)
        xf(i) = y[i];
      Eigen::VectorXd expected = transpose ? Eigen::VectorXd(h->transpose() * xf)
                                           : Eigen::VectorXd(*h * xf);
      for (int r = 0; r < 3; ++r)
        std::copy(y.begin(), y.end(), rows.begin() + r * n);
      fast->apply(y, transpose);
      fast->applyRows(rows, transpose);
      // Each output is a sum over the m butterfly levels (pairwise) and then
      // K terms (sequential) of values bounded by sum_i |x_i| <= sqrt(n)
      // ||x||, scaled by 1/sqrt(n): the standard summation bound gives
      // |error| <= (m + K + 1) * 2^-24 * ||x||. For K = 172 that is ~1e-5
      // relative to ||x||; a wrong entry or order would be O(||x||/sqrt(n)).
      double bound = double(split.m + split.k + 1) * std::ldexp(1.0, -24) *
                     xf.norm();
      double error = 0;
      for (int64_t i = 0; i < n; ++i) {
        error = std::max(error, std::abs(y[i] - expected(i)));
        for (int r = 0; r < 3; ++r)
          EXPECT_EQ(rows[r * n + i], y[i]); // rows use the same routine
      }
      EXPECT_LE(error, bound) << "n = " << n;
    }
  }
}

TEST(FastHadamard, ManyRowsMatchOneRowAtATimeBitForBit) {
  // applyRows pushes several rows through the K factor together (so that
  // K = n, e.g. 172, vectorizes); every output must keep the summation order
  // of the one-vector transform, so the results are identical, not close.
  // 77 rows: more than one batch for every 2^m here, and not a multiple.
  for (int64_t n : {12, 24, 172, 344, 688, 160, 1024}) {
    llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(n);
    llvm::Expected<FastHadamardTransform> fast =
        FastHadamardTransform::create(n);
    ASSERT_TRUE(h && fast);
    const int64_t rows = 77;
    std::vector<float> data(rows * n);
    SeededRandom random(uint64_t(n) * 31);
    for (float &value : data)
      value = float(random.nextNormal());
    for (bool transpose : {false, true}) {
      std::vector<float> batched = data;
      fast->applyRows(batched, transpose);
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> one(data.begin() + r * n,
                               data.begin() + (r + 1) * n);
        fast->apply(one, transpose);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(batched[r * n + i], one[i])
              << "n = " << n << " row " << r << " index " << i;
      }
      // And the batch is the matrix product (bound as in
      // FloatMatchesDenseMatrix, per row).
      HadamardSplit split = fast->split();
      for (int64_t r : {int64_t(0), int64_t(33), rows - 1}) {
        Eigen::VectorXd x(n);
        for (int64_t i = 0; i < n; ++i)
          x(i) = data[r * n + i];
        Eigen::VectorXd expected = transpose
                                       ? Eigen::VectorXd(h->transpose() * x)
                                       : Eigen::VectorXd(*h * x);
        double bound =
            double(split.m + split.k + 1) * std::ldexp(1.0, -24) * x.norm();
        for (int64_t i = 0; i < n; ++i)
          EXPECT_LE(std::abs(batched[r * n + i] - expected(i)), bound)
              << "n = " << n << " row " << r;
      }
    }
  }
}

TEST(FastHadamard, UnsupportedSizes) {
  llvm::Expected<FastHadamardTransform> fast =
      FastHadamardTransform::create(1000);
  ASSERT_FALSE(bool(fast));
  EXPECT_EQ(llvm::toString(fast.takeError()),
            unsupportedHadamardSizeMessage(1000));
  std::vector<double> x(6, 1.0);
  llvm::Error error = fastHadamardTransform(x);
  ASSERT_TRUE(bool(error));
  EXPECT_NE(llvm::toString(std::move(error))
                .find("no Hadamard matrix of size 6 = 3·2^1"),
            std::string::npos);
  // One-shot helper on a supported size agrees with the prepared transform.
  std::vector<float> ones(12, 1.0f);
  ASSERT_FALSE(bool(fastHadamardTransform(ones)));
  Eigen::MatrixXd h = *hadamardMatrix(12);
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(ones[i], h.row(i).sum(), 1e-6);
}
