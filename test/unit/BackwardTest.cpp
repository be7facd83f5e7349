//===- BackwardTest.cpp - Backward twins against finite differences -------===//
//
// Every differentiable twin of Backward.h is checked in float64 against
// central finite differences of its own forward function: for a random
// upstream gradient dy and random direction v of each input,
// <dy, f(x + e v) - f(x - e v)> / 2e must equal <dx, v>. The forward twins
// are themselves checked against the float executor kernels (Kernels.h), and
// the straight-through estimator on a hand-built case.
//
//===----------------------------------------------------------------------===//

#include "respin/Executor/Backward.h"
#include "respin/Executor/Kernels.h"
#include "respin/Numerics/RandomOrthogonal.h"

#include <gtest/gtest.h>

#include <functional>

using namespace respin;
using namespace respin::exec;

namespace {

using MatrixD = Matrix<double>;

/// Central differences in float64 with this step have truncation error
/// ~e^2 |f'''| ~ 1e-10 and rounding ~1e-16 / e ~ 1e-11 for O(1) functions:
/// a relative error of 1e-6 leaves a wide margin and still catches any wrong
/// term (those are O(1) off).
constexpr double kStep = 1e-5;
constexpr double kRelative = 1e-6;

MatrixD randomMatrix(int64_t rows, int64_t cols, uint64_t seed) {
  SeededRandom random(seed);
  MatrixD m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i)
    m.data()[i] = random.nextNormal();
  return m;
}

double dot(const MatrixD &a, const MatrixD &b) {
  return (a.array() * b.array()).sum();
}

/// Checks the analytic gradient `analytic` of s(x) = <dy, f(x)> at `x`.
void expectGradient(const std::function<MatrixD(const MatrixD &)> &f,
                    const MatrixD &x, const MatrixD &dy,
                    const MatrixD &analytic, uint64_t seed, const char *what) {
  MatrixD v = randomMatrix(x.rows(), x.cols(), seed);
  double numeric =
      (dot(dy, f(x + kStep * v)) - dot(dy, f(x - kStep * v))) / (2 * kStep);
  double exact = dot(analytic, v);
  EXPECT_NEAR(exact, numeric, kRelative * std::max(1.0, std::abs(numeric)))
      << what;
}

TEST(BackwardTwins, RMSNormWithAndWithoutGain) {
  MatrixD x = randomMatrix(5, 12, 1), gain = randomMatrix(12, 1, 2);
  MatrixD dy = randomMatrix(5, 12, 3);
  for (bool withGain : {false, true}) {
    const MatrixD *g = withGain ? &gain : nullptr;
    auto f = [&](const MatrixD &in) {
      MatrixD y;
      std::vector<double> r;
      twin::rmsNorm(in, g, 1e-5, y, r);
      return y;
    };
    auto fGain = [&](const MatrixD &gIn) {
      MatrixD y;
      std::vector<double> r;
      twin::rmsNorm(x, &gIn, 1e-5, y, r);
      return y;
    };
    MatrixD y, dx, dGain = MatrixD::Zero(12, 1);
    std::vector<double> r;
    twin::rmsNorm(x, g, 1e-5, y, r);
    twin::rmsNormBackward(x, g, r, dy, dx, withGain ? &dGain : nullptr);
    expectGradient(f, x, dy, dx, 4, "dx");
    if (withGain)
      expectGradient(fGain, gain, dy, dGain, 5, "dgain");
  }
}

TEST(BackwardTwins, LinearWithBias) {
  MatrixD x = randomMatrix(6, 7, 1), w = randomMatrix(4, 7, 2),
          b = randomMatrix(4, 1, 3), dy = randomMatrix(6, 4, 4);
  MatrixD dx, dW = MatrixD::Zero(4, 7), db = MatrixD::Zero(4, 1);
  twin::linearBackward(x, w, dy, &dx, &dW, &db);
  auto run = [](const MatrixD &in, const MatrixD &weight, const MatrixD &bias) {
    MatrixD y;
    twin::linear(in, weight, &bias, y);
    return y;
  };
  expectGradient([&](const MatrixD &in) { return run(in, w, b); }, x, dy, dx, 5,
                 "dx");
  expectGradient([&](const MatrixD &in) { return run(x, in, b); }, w, dy, dW, 6,
                 "dW");
  expectGradient([&](const MatrixD &in) { return run(x, w, in); }, b, dy, db, 7,
                 "db");
}

TEST(BackwardTwins, RopeBothLayoutsMatchKernelAndInvert) {
  for (bool interleaved : {true, false}) {
    RopeParams params;
    params.numHeads = 3;
    params.headDim = 8;
    params.rotaryDim = 6; // a partial rotary dimension
    params.interleaved = interleaved;
    params.inverseFrequencies = Program::ropeInverseFrequencies(6, 10000.0, {});
    MatrixD x = randomMatrix(9, 24, 1), dy = randomMatrix(9, 24, 2);
    MatrixD y, dx;
    twin::rope(x, params, false, y);
    // The float kernel computes the same rotation.
    RowMatrix xf = x.cast<float>(), yf;
    std::vector<int32_t> positions(9);
    std::iota(positions.begin(), positions.end(), 0);
    rope(xf, positions, params, yf);
    EXPECT_LT((yf.cast<double>() - y).cwiseAbs().maxCoeff(), 1e-5);
    twin::rope(dy, params, true, dx);
    expectGradient(
        [&](const MatrixD &in) {
          MatrixD out;
          twin::rope(in, params, false, out);
          return out;
        },
        x, dy, dx, 3, interleaved ? "interleaved" : "half_split");
  }
}

TEST(BackwardTwins, CausalGroupedQueryAttention) {
  AttentionParams params;
  params.numHeads = 4;
  params.numKVHeads = 2;
  params.headDim = 3;
  params.scale = float(1 / std::sqrt(3.0));
  MatrixD q = randomMatrix(7, 12, 1), k = randomMatrix(7, 6, 2),
          v = randomMatrix(7, 6, 3), dy = randomMatrix(7, 12, 4);
  auto run = [&](const MatrixD &qi, const MatrixD &ki, const MatrixD &vi) {
    MatrixD out;
    std::vector<MatrixD> p;
    twin::attention(qi, ki, vi, params, out, p);
    return out;
  };
  // Forward against the float kernel.
  RowMatrix qf = q.cast<float>(), kf = k.cast<float>(), vf = v.cast<float>(),
            outf;
  attention(qf, kf.data(), vf.data(), 0, params, outf);
  EXPECT_LT((outf.cast<double>() - run(q, k, v)).cwiseAbs().maxCoeff(), 1e-5);

  MatrixD out, dq, dk, dv;
  std::vector<MatrixD> p;
  twin::attention(q, k, v, params, out, p);
  twin::attentionBackward(q, k, v, params, p, dy, dq, dk, dv);
  expectGradient([&](const MatrixD &in) { return run(in, k, v); }, q, dy, dq, 5,
                 "dq");
  expectGradient([&](const MatrixD &in) { return run(q, in, v); }, k, dy, dk, 6,
                 "dk");
  expectGradient([&](const MatrixD &in) { return run(q, k, in); }, v, dy, dv, 7,
                 "dv");
  // Causality: the first query row sees only the first key.
  EXPECT_DOUBLE_EQ(p[0](0, 0), 1.0);
}

TEST(BackwardTwins, SiluMul) {
  MatrixD gate = randomMatrix(4, 9, 1), up = randomMatrix(4, 9, 2),
          dy = randomMatrix(4, 9, 3);
  MatrixD dGate, dUp;
  twin::siluMulBackward(gate, up, dy, dGate, dUp);
  auto run = [](const MatrixD &g, const MatrixD &u) {
    MatrixD y;
    twin::siluMul(g, u, y);
    return y;
  };
  expectGradient([&](const MatrixD &in) { return run(in, up); }, gate, dy,
                 dGate, 4, "dgate");
  expectGradient([&](const MatrixD &in) { return run(gate, in); }, up, dy, dUp,
                 5, "dup");
}

TEST(BackwardTwins, BlockRotationAndItsMatrix) {
  for (bool transpose : {false, true}) {
    MatrixD x = randomMatrix(5, 12, 1), r = randomMatrix(4, 4, 2),
            dy = randomMatrix(5, 12, 3);
    MatrixD dx, dR = MatrixD::Zero(4, 4);
    twin::rotateBackward(x, r, 3, transpose, dy, dx, &dR);
    auto run = [&](const MatrixD &in, const MatrixD &rot) {
      MatrixD y;
      twin::rotate(in, rot, 3, transpose, y);
      return y;
    };
    expectGradient([&](const MatrixD &in) { return run(in, r); }, x, dy, dx, 4,
                   "dx");
    expectGradient([&](const MatrixD &in) { return run(x, in); }, r, dy, dR, 5,
                   "dR");
  }
}

TEST(BackwardTwins, HadamardBackwardIsItsTranspose) {
  auto transform = FastHadamardTransform::create(12);
  ASSERT_TRUE(bool(transform));
  MatrixD x = randomMatrix(3, 24, 1), dy = randomMatrix(3, 24, 2);
  for (bool transpose : {false, true}) {
    MatrixD dx;
    twin::hadamard(dy, *transform, !transpose, dx);
    expectGradient(
        [&](const MatrixD &in) {
          MatrixD y;
          twin::hadamard(in, *transform, transpose, y);
          return y;
        },
        x, dy, dx, 3, "dx");
  }
}

TEST(BackwardTwins, ResidualAdapter) {
  MatrixD h = randomMatrix(5, 8, 1), q = randomMatrix(8, 2, 2),
          m = randomMatrix(2, 2, 3), dy = randomMatrix(5, 8, 4);
  MatrixD dh, dQ = MatrixD::Zero(8, 2), dM = MatrixD::Zero(2, 2);
  twin::residualAdapterBackward(h, q, m, dy, dh, &dQ, &dM);
  auto run = [](const MatrixD &hi, const MatrixD &qi, const MatrixD &mi) {
    MatrixD y;
    twin::residualAdapter(hi, qi, mi, y);
    return y;
  };
  expectGradient([&](const MatrixD &in) { return run(in, q, m); }, h, dy, dh, 5,
                 "dh");
  expectGradient([&](const MatrixD &in) { return run(h, in, m); }, q, dy, dQ, 6,
                 "dQ");
  expectGradient([&](const MatrixD &in) { return run(h, q, in); }, m, dy, dM, 7,
                 "dM");
}

TEST(BackwardTwins, NextTokenCrossEntropy) {
  MatrixD logits = randomMatrix(6, 10, 1);
  std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9};
  MatrixD dLogits;
  double loss = nextTokenCrossEntropy<double>(logits, tokens, 1.0, &dLogits);
  // By hand for row 0 -> token 1: logsumexp(row) - row[1].
  double byHand = 0;
  for (int t = 0; t < 5; ++t)
    byHand +=
        std::log(logits.row(t).array().exp().sum()) - logits(t, tokens[t + 1]);
  EXPECT_NEAR(loss, byHand, 1e-12);
  EXPECT_EQ(dLogits.row(5).cwiseAbs().maxCoeff(), 0.0);
  MatrixD v = randomMatrix(6, 10, 2);
  double numeric =
      (nextTokenCrossEntropy<double>(logits + kStep * v, tokens, 1.0, nullptr) -
       nextTokenCrossEntropy<double>(logits - kStep * v, tokens, 1.0,
                                     nullptr)) /
      (2 * kStep);
  EXPECT_NEAR(dot(dLogits, v), numeric, kRelative);
}

// The STE by hand: with clip 0.5 the asymmetric range of the row
// [-4, -1, 0.5, 1, 2] is [0.5 * -4, 0.5 * 2] = [-2, 1]: -4 and 2 are clipped
// (gradient 0), the others pass unchanged. With clip 1 everything passes.
TEST(BackwardTwins, StraightThroughEstimatorPassesInsideTheClipRange) {
  MatrixD x(2, 5);
  x << -4, -1, 0.5, 1, 2,  //
      3, -3, 0.1, -0.2, 1; // symmetric group below: range |x| <= 1.5
  MatrixD dy = MatrixD::Constant(2, 5, 1.0);
  FakeQuantParams asym;
  asym.bits = 4;
  asym.clip = 0.5f;
  MatrixD dx;
  twin::fakeQuantBackward(x, asym, dy, dx);
  EXPECT_EQ(dx.row(0), (Eigen::RowVectorXd(5) << 0, 1, 1, 1, 0).finished());
  // Row 1 asymmetric: [0.5 * -3, 0.5 * 3] = [-1.5, 1.5].
  EXPECT_EQ(dx.row(1), (Eigen::RowVectorXd(5) << 0, 0, 1, 1, 1).finished());
  FakeQuantParams sym = asym;
  sym.symmetric = true;
  sym.groupSize = 5;
  twin::fakeQuantBackward(x, sym, dy, dx);
  // Row 0 symmetric: |x| <= 0.5 * 4 = 2.
  EXPECT_EQ(dx.row(0), (Eigen::RowVectorXd(5) << 0, 1, 1, 1, 1).finished());
  FakeQuantParams full = asym;
  full.clip = 1.0f;
  twin::fakeQuantBackward(x, full, dy, dx);
  EXPECT_EQ(dx, dy);
  // The forward is the runtime quantizer's (bit-identical to the kernel).
  RowMatrix xf = x.cast<float>(), yf;
  fakeQuant(xf, asym, yf);
  MatrixD y;
  twin::fakeQuant(x, asym, y);
  EXPECT_EQ(y.cast<float>(), yf);
}

} // namespace
