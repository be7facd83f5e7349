//===- GPTQTest.cpp - GPTQ on synthetic layers ----------------------------===//
//
// Properties that must hold whatever the data: an identity Hessian makes
// GPTQ plain RTN; correlated inputs make it beat RTN on the output error it
// minimizes; dead columns and indefinite Hessians are survived and reported;
// non-finite inputs are refused. (The real-model check is in
// QuantizedModelTest.cpp.)
//
//===----------------------------------------------------------------------===//

#include "respin/Quantization/GPTQ.h"

#include <gtest/gtest.h>

#include <random>

using namespace respin::quant;

namespace {

Eigen::MatrixXd randomMatrix(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd m(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      m(r, c) = float(normal(rng)); // representable in float
  return m;
}

/// Inputs with strongly correlated features (4 latent factors mixed by a
/// fixed matrix, plus a little noise) and one heavy feature, as real
/// activations have. `sampleSeed` draws new tokens of the same law.
Eigen::MatrixXf correlatedInputs(int64_t tokens, int64_t cols, uint64_t seed,
                                 uint64_t sampleSeed = 0) {
  Eigen::MatrixXd latent = randomMatrix(tokens, 4, seed + 1000 * sampleSeed);
  Eigen::MatrixXd mix = randomMatrix(4, cols, seed + 1);
  Eigen::MatrixXd x =
      latent * mix +
      0.1 * randomMatrix(tokens, cols, seed + 2 + 1000 * sampleSeed);
  x.col(3) *= 8.0;
  return x.cast<float>();
}

Eigen::MatrixXd hessianOf(const Eigen::MatrixXf &x) {
  using RowMajor =
      Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMajor rows = x;
  HessianAccumulator acc(x.cols());
  acc.add(rows.data(), rows.rows());
  return acc.hessian();
}

WeightQuantSpec spec(int bits, int64_t group = 0, bool sym = true) {
  return WeightQuantSpec{bits, group, sym};
}

std::vector<float> toFloat(const Eigen::MatrixXd &m) {
  std::vector<float> v(m.size());
  for (int64_t r = 0; r < m.rows(); ++r)
    for (int64_t c = 0; c < m.cols(); ++c)
      v[r * m.cols() + c] = float(m(r, c));
  return v;
}

/// ||X W^T - X Q^T||_F^2 on inputs x.
double outputError(const Eigen::MatrixXf &x, const Eigen::MatrixXd &w,
                   const QuantizedWeight &q) {
  std::vector<float> deq = q.dequantize();
  Eigen::MatrixXd qm(q.rows, q.cols);
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c)
      qm(r, c) = deq[r * q.cols + c];
  return (x.cast<double>() * (w - qm).transpose()).squaredNorm();
}

} // namespace

TEST(HessianAccumulator, IsTwiceTheMeanOuterProduct) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6}; // 3 tokens of 2 features
  HessianAccumulator acc(2);
  acc.add(x.data(), 2);
  acc.add(x.data() + 4, 1);
  Eigen::MatrixXd h = acc.hessian();
  // X^T X = [[35, 44], [44, 56]], times 2/3.
  EXPECT_DOUBLE_EQ(h(0, 0), 35.0 * 2 / 3);
  EXPECT_DOUBLE_EQ(h(0, 1), 44.0 * 2 / 3);
  EXPECT_DOUBLE_EQ(h(1, 0), 44.0 * 2 / 3);
  EXPECT_DOUBLE_EQ(h(1, 1), 56.0 * 2 / 3);
  EXPECT_EQ(acc.count(), 3);
}

TEST(GPTQ, IdentityHessianIsRoundToNearest) {
  // No correlation between inputs: no error is worth passing on.
  Eigen::MatrixXd w = randomMatrix(6, 32, 1);
  Eigen::MatrixXd h = Eigen::MatrixXd::Identity(32, 32);
  for (int64_t group : {int64_t(0), int64_t(8)}) {
    GPTQOptions options;
    options.blockSize = 5; // blocks that do not divide the width
    auto gptq = quantizeGPTQ("w", w, h, spec(4, group), options);
    auto rtn =
        quantizeRTN("w", toFloat(w), 6, 32, spec(4, group), options.clip);
    ASSERT_TRUE(gptq && rtn);
    EXPECT_EQ(gptq->codes, rtn->codes);
    EXPECT_EQ(gptq->scales, rtn->scales);
  }
}

TEST(GPTQ, BeatsRoundToNearestOnCorrelatedInputs) {
  const int64_t rows = 16, cols = 48;
  Eigen::MatrixXd w = randomMatrix(rows, cols, 5);
  Eigen::MatrixXf calib = correlatedInputs(512, cols, 10);
  Eigen::MatrixXf heldOut = correlatedInputs(512, cols, 10, /*sample=*/1);
  Eigen::MatrixXd h = hessianOf(calib);
  struct Case {
    int bits;
    int64_t group;
    bool sym, actOrder;
  };
  for (Case c : {Case{4, 0, true, false}, Case{3, 0, true, true},
                 Case{4, 16, true, false}, Case{4, 16, true, true},
                 Case{3, 0, false, false}, Case{2, 16, false, true}}) {
    GPTQOptions options;
    options.actOrder = c.actOrder;
    options.blockSize = 16;
    GPTQReport report;
    auto gptq =
        quantizeGPTQ("w", w, h, spec(c.bits, c.group, c.sym), options, &report);
    ASSERT_TRUE(bool(gptq)) << llvm::toString(gptq.takeError());
    auto rtn = quantizeRTN("w", toFloat(w), rows, cols,
                           spec(c.bits, c.group, c.sym), options.clip);
    ASSERT_TRUE(bool(rtn));
    SCOPED_TRACE(testing::Message()
                 << "bits " << c.bits << " group " << c.group << " sym "
                 << c.sym << " act-order " << c.actOrder);
    EXPECT_FALSE(report.fellBackToRTN);
    EXPECT_EQ(report.deadColumns, 0);
    // The proxy is exactly the calibration output error / tokens * 2.
    EXPECT_NEAR(report.proxyError * rows,
                2.0 * outputError(calib, w, *gptq) / 512,
                1e-9 * report.proxyError * rows);
    EXPECT_LT(report.proxyError, 0.8 * report.proxyErrorRTN);
    EXPECT_LT(outputError(heldOut, w, *gptq), outputError(heldOut, w, *rtn));
    // Codes stay in the integer range.
    int lo = -(1 << (c.bits - 1)), hi = (1 << (c.bits - 1)) - 1;
    for (int8_t code : gptq->codes)
      ASSERT_TRUE(code >= lo && code <= hi);
    // Act-order with groups uses static groups: the scales of the
    // original weights, so the groups stay contiguous.
    if (c.actOrder && c.group > 0) {
      EXPECT_EQ(gptq->scales, rtn->scales);
    }
  }
}

TEST(GPTQ, DeadColumnsAreRoundedAndReported) {
  const int64_t rows = 8, cols = 16;
  Eigen::MatrixXd w = randomMatrix(rows, cols, 21);
  Eigen::MatrixXf x = correlatedInputs(256, cols, 22);
  x.col(2).setZero();
  x.col(9).setZero();
  GPTQReport report;
  auto q = quantizeGPTQ("w", w, hessianOf(x), spec(4), GPTQOptions(), &report);
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(report.deadColumns, 2);
  EXPECT_FALSE(report.fellBackToRTN);
  // A dead column receives no error feedback: its codes are RTN's.
  auto rtn = quantizeRTN("w", toFloat(w), rows, cols, spec(4), ClipSearch());
  ASSERT_TRUE(bool(rtn));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c : {2, 9})
      EXPECT_EQ(q->codes[r * cols + c], rtn->codes[r * cols + c]);
  // An all-zero Hessian (no calibration data) degrades to RTN entirely.
  auto none = quantizeGPTQ("w", w, Eigen::MatrixXd::Zero(cols, cols), spec(4),
                           GPTQOptions(), &report);
  ASSERT_TRUE(bool(none));
  EXPECT_EQ(report.deadColumns, cols);
  EXPECT_EQ(none->codes, rtn->codes);
}

TEST(GPTQ, IndefiniteHessianRetriesDampingThenFallsBack) {
  const int64_t cols = 8;
  Eigen::MatrixXd w = randomMatrix(4, cols, 31);
  // Slightly indefinite (one eigenvalue -0.005 * mean diagonal): 1% damping
  // fixes it on the first try.
  Eigen::MatrixXd h = Eigen::MatrixXd::Identity(cols, cols);
  Eigen::VectorXd v = Eigen::VectorXd::Ones(cols).normalized();
  Eigen::MatrixXd mild = h - 1.005 * v * v.transpose();
  GPTQReport report;
  auto q = quantizeGPTQ("w", w, mild, spec(4), GPTQOptions(), &report);
  ASSERT_TRUE(bool(q));
  EXPECT_FALSE(report.fellBackToRTN);
  EXPECT_EQ(report.dampingRetries, 0);
  // Zero damping on the same matrix fails, and the retries (10x each from
  // 0.1%) find 1%.
  GPTQOptions undamped;
  undamped.dampRatio = 0.0;
  q = quantizeGPTQ("w", w, mild, spec(4), undamped, &report);
  ASSERT_TRUE(bool(q));
  EXPECT_FALSE(report.fellBackToRTN);
  EXPECT_EQ(report.dampingRetries, 1);
  EXPECT_DOUBLE_EQ(report.dampRatioUsed, 0.01);
  // Negative definite: no damping proportional to the (negative) mean
  // diagonal helps; GPTQ falls back to RTN and says so.
  q = quantizeGPTQ("w", w, -h, spec(4), GPTQOptions(), &report);
  ASSERT_TRUE(bool(q));
  EXPECT_TRUE(report.fellBackToRTN);
  EXPECT_EQ(report.dampingRetries, kMaxDampingRetries);
  EXPECT_NE(report.fallbackReason.find("not positive definite"),
            std::string::npos);
  auto rtn = quantizeRTN("w", toFloat(w), 4, cols, spec(4), ClipSearch());
  ASSERT_TRUE(bool(rtn));
  EXPECT_EQ(q->codes, rtn->codes);
}

TEST(GPTQ, NonFiniteInputsAndBadShapesAreRefused) {
  Eigen::MatrixXd w = randomMatrix(2, 4, 41);
  Eigen::MatrixXd h = Eigen::MatrixXd::Identity(4, 4);
  h(1, 2) = std::numeric_limits<double>::quiet_NaN();
  auto q = quantizeGPTQ("layers.3.down", w, h, spec(4), GPTQOptions());
  ASSERT_FALSE(bool(q));
  EXPECT_EQ(llvm::toString(q.takeError()),
            "layers.3.down: the calibration Hessian has NaN/Inf entries "
            "(non-finite activations); cannot run GPTQ");
  h(1, 2) = 0.0;
  w(1, 3) = std::numeric_limits<double>::infinity();
  q = quantizeGPTQ("w", w, h, spec(4), GPTQOptions());
  ASSERT_FALSE(bool(q));
  EXPECT_EQ(llvm::toString(q.takeError()),
            "w: element [1, 3] is Inf; cannot quantize");
  w(1, 3) = 0.0;
  q = quantizeGPTQ("w", w, Eigen::MatrixXd::Identity(3, 3), spec(4),
                   GPTQOptions());
  ASSERT_FALSE(bool(q));
  EXPECT_EQ(llvm::toString(q.takeError()),
            "w: Hessian is 3 x 3, expected 4 x 4");
  q = quantizeGPTQ("w", w, Eigen::MatrixXd::Identity(4, 4), spec(4, 3),
                   GPTQOptions());
  ASSERT_FALSE(bool(q));
  EXPECT_EQ(llvm::toString(q.takeError()),
            "w: group size 3 does not divide its 4 input columns");
}
