//===- NumericsHadamardTest.cpp - Hadamard factors and dense matrices -----===//
//
// Every K x K factor is +-1 with H H^T = K I in exact integer arithmetic; the
// Sylvester, Paley I/II, doubling and Williamson constructions have their
// structural properties; the size-split rule and its diagnostics; and the
// normalized dense H_n is orthogonal and equals (H_K kron H_{2^m}) / sqrt(n).
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/Hadamard.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace respin;

namespace {

using IntMatrix = std::vector<int8_t>;

/// Whether every entry is +-1 and H H^T = order * I exactly.
bool isHadamard(const IntMatrix &h, int64_t order) {
  if (int64_t(h.size()) != order * order)
    return false;
  for (int8_t v : h)
    if (v != 1 && v != -1)
      return false;
  for (int64_t i = 0; i < order; ++i)
    for (int64_t j = 0; j < order; ++j) {
      int64_t dot = 0;
      for (int64_t l = 0; l < order; ++l)
        dot += int64_t(h[i * order + l]) * h[j * order + l];
      if (dot != (i == j ? order : 0))
        return false;
    }
  return true;
}

int at(const IntMatrix &h, int64_t order, int64_t i, int64_t j) {
  return h[i * order + j];
}

const std::vector<int64_t> kExpectedOrders = {
    1, 12, 20, 28, 36, 40, 44, 52, 60, 76, 108, 140, 156, 172};

} // namespace

//===----------------------------------------------------------------------===//
// Factors
//===----------------------------------------------------------------------===//

TEST(HadamardFactors, TableListsTheDesignSizes) {
  std::vector<int64_t> orders;
  for (const HadamardFactorInfo &info : hadamardFactorTable())
    orders.push_back(info.order);
  EXPECT_EQ(orders, kExpectedOrders);
  EXPECT_EQ(supportedHadamardFactorList(),
            "{1, 12, 20, 28, 36, 40, 44, 52, 60, 76, 108, 140, 156, 172}");
  EXPECT_EQ(findHadamardFactor(28)->construction, HadamardConstruction::PaleyI);
  EXPECT_EQ(findHadamardFactor(28)->parameter, 27);
  EXPECT_EQ(findHadamardFactor(172)->construction,
            HadamardConstruction::Williamson);
  EXPECT_EQ(findHadamardFactor(24), nullptr);
  EXPECT_TRUE(hadamardFactor(24).empty());
}

TEST(HadamardFactors, EveryFactorIsHadamardExactly) {
  for (int64_t order : kExpectedOrders) {
    IntMatrix h = hadamardFactor(order);
    EXPECT_TRUE(isHadamard(h, order)) << "K = " << order;
  }
}

TEST(HadamardFactors, CheckerRejectsANonHadamardMatrix) {
  // Guards the test helper itself: one flipped entry must be caught.
  IntMatrix h = hadamardFactor(12);
  h[5 * 12 + 7] = int8_t(-h[5 * 12 + 7]);
  EXPECT_FALSE(isHadamard(h, 12));
}

TEST(HadamardFactors, SylvesterStructure) {
  for (int m = 0; m <= 6; ++m) {
    int64_t n = int64_t(1) << m;
    IntMatrix h = sylvesterHadamard(m);
    ASSERT_TRUE(isHadamard(h, n)) << "m = " << m;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        EXPECT_EQ(at(h, n, i, j), at(h, n, j, i)); // symmetric
        EXPECT_EQ(at(h, n, i, j), __builtin_popcountll(i & j) % 2 ? -1 : 1);
      }
  }
  // Natural order: H_{2n} = [[H_n, H_n], [H_n, -H_n]].
  EXPECT_EQ(sylvesterHadamard(4), doubleHadamard(sylvesterHadamard(3), 8));
}

TEST(HadamardFactors, PrimePowers) {
  int64_t p = 0;
  int k = 0;
  ASSERT_TRUE(isPrimePower(27, p, k));
  EXPECT_EQ(p, 3);
  EXPECT_EQ(k, 3);
  ASSERT_TRUE(isPrimePower(25, p, k));
  EXPECT_EQ(p, 5);
  EXPECT_EQ(k, 2);
  ASSERT_TRUE(isPrimePower(139, p, k));
  EXPECT_EQ(p, 139);
  EXPECT_EQ(k, 1);
  EXPECT_FALSE(isPrimePower(1, p, k));
  EXPECT_FALSE(isPrimePower(12, p, k));
  EXPECT_FALSE(isPrimePower(155, p, k));
}

TEST(HadamardFactors, JacobsthalMatricesOverPrimeAndPrimePowerFields) {
  // Q Q^T = q I - J and Q J = 0 hold only if the field arithmetic (including
  // the GF(25) and GF(27) multiplication) and the character are right.
  for (int64_t q : {3, 5, 7, 9, 11, 13, 17, 19, 25, 27, 37, 43, 59, 107, 139}) {
    IntMatrix jac = jacobsthalMatrix(q);
    ASSERT_EQ(int64_t(jac.size()), q * q) << "q = " << q;
    int symmetry = q % 4 == 1 ? 1 : -1;
    for (int64_t i = 0; i < q; ++i) {
      EXPECT_EQ(at(jac, q, i, i), 0);
      int64_t rowSum = 0;
      for (int64_t j = 0; j < q; ++j) {
        rowSum += at(jac, q, i, j);
        EXPECT_EQ(at(jac, q, j, i), symmetry * at(jac, q, i, j));
        int64_t dot = 0;
        for (int64_t l = 0; l < q; ++l)
          dot += at(jac, q, i, l) * at(jac, q, j, l);
        EXPECT_EQ(dot, i == j ? q - 1 : -1) << "q = " << q;
      }
      EXPECT_EQ(rowSum, 0);
    }
  }
  EXPECT_TRUE(jacobsthalMatrix(15).empty());
  EXPECT_TRUE(jacobsthalMatrix(8).empty()); // characteristic 2
  EXPECT_TRUE(jacobsthalMatrix(1).empty());
}

TEST(HadamardFactors, PaleyIIsSkewHadamard) {
  int checked = 0;
  for (const HadamardFactorInfo &info : hadamardFactorTable()) {
    if (info.construction != HadamardConstruction::PaleyI)
      continue;
    int64_t k = info.order;
    IntMatrix h = hadamardFactor(k);
    EXPECT_EQ(h, paleyIHadamard(info.parameter));
    for (int64_t i = 0; i < k; ++i) {
      EXPECT_EQ(at(h, k, 0, i), 1); // normalized first row
      EXPECT_EQ(at(h, k, i, i), 1);
      for (int64_t j = 0; j < k; ++j) {
        if (i != j) { // H - I is skew-symmetric
          EXPECT_EQ(at(h, k, i, j), -at(h, k, j, i)) << "K = " << k;
        }
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 7); // 12, 20, 28, 44, 60, 108, 140
  EXPECT_TRUE(paleyIHadamard(13).empty()); // 13 = 1 (mod 4)
  EXPECT_TRUE(paleyIHadamard(15).empty()); // not a prime power
}

TEST(HadamardFactors, PaleyIIIsSymmetricWithConferenceCore) {
  int checked = 0;
  for (const HadamardFactorInfo &info : hadamardFactorTable()) {
    if (info.construction != HadamardConstruction::PaleyII)
      continue;
    int64_t k = info.order;
    IntMatrix h = hadamardFactor(k);
    EXPECT_EQ(h, paleyIIHadamard(info.parameter));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        EXPECT_EQ(at(h, k, i, j), at(h, k, j, i)) << "K = " << k;
    // Diagonal 2x2 blocks come from the conference matrix's zero diagonal.
    for (int64_t i = 0; i < k / 2; ++i) {
      EXPECT_EQ(at(h, k, 2 * i, 2 * i), 1);
      EXPECT_EQ(at(h, k, 2 * i, 2 * i + 1), -1);
      EXPECT_EQ(at(h, k, 2 * i + 1, 2 * i + 1), -1);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 3); // 36, 52, 76
  EXPECT_TRUE(paleyIIHadamard(11).empty());
  // Paley II also works for other q = 1 (mod 4), e.g. q = 13 gives order 28.
  EXPECT_TRUE(isHadamard(paleyIIHadamard(13), 28));
}

TEST(HadamardFactors, FortyIsSylvesterDoublingOfTwenty) {
  IntMatrix h20 = hadamardFactor(20), h40 = hadamardFactor(40);
  for (int64_t i = 0; i < 20; ++i)
    for (int64_t j = 0; j < 20; ++j) {
      int v = at(h20, 20, i, j);
      EXPECT_EQ(at(h40, 40, i, j), v);
      EXPECT_EQ(at(h40, 40, i, 20 + j), v);
      EXPECT_EQ(at(h40, 40, 20 + i, j), v);
      EXPECT_EQ(at(h40, 40, 20 + i, 20 + j), -v);
    }
  EXPECT_TRUE(doubleHadamard({1, 1, 1}, 2).empty());
}

TEST(HadamardFactors, WilliamsonRowsAndArray) {
  for (int64_t n : {39, 43}) {
    std::vector<IntMatrix> rows = williamsonFirstRows(n);
    ASSERT_EQ(rows.size(), 4u);
    for (const IntMatrix &row : rows) {
      ASSERT_EQ(int64_t(row.size()), n);
      for (int64_t j = 1; j < n; ++j) // symmetric circulant
        EXPECT_EQ(row[j], row[n - j]) << "n = " << n;
    }
    // A^2 + B^2 + C^2 + D^2 = 4n I: the periodic autocorrelations cancel.
    for (int64_t s = 0; s < n; ++s) {
      int64_t sum = 0;
      for (const IntMatrix &row : rows)
        for (int64_t j = 0; j < n; ++j)
          sum += row[j] * row[(j + s) % n];
      EXPECT_EQ(sum, s == 0 ? 4 * n : 0) << "n = " << n << ", shift " << s;
    }
    IntMatrix h = hadamardFactor(4 * n);
    EXPECT_EQ(h, williamsonArray(rows));
    // Block structure: top-left block is the circulant of A, block (1, 0)
    // is -B.
    int64_t k = 4 * n;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        EXPECT_EQ(at(h, k, i, j), rows[0][(j - i + n) % n]);
        EXPECT_EQ(at(h, k, n + i, j), -rows[1][(j - i + n) % n]);
      }
  }
  EXPECT_TRUE(williamsonFirstRows(41).empty());
}

TEST(HadamardFactors, WilliamsonArrayNeedsWilliamsonRows) {
  // Flipping one symmetric pair of entries breaks the PAF condition, and the
  // array is then not Hadamard: the stored rows are what make it work.
  std::vector<IntMatrix> rows = williamsonFirstRows(39);
  rows[2][5] = int8_t(-rows[2][5]);
  rows[2][39 - 5] = int8_t(-rows[2][39 - 5]);
  EXPECT_FALSE(isHadamard(williamsonArray(rows), 156));
  EXPECT_TRUE(williamsonArray({{1, 1}, {1, 1}, {1}, {1, 1}}).empty());
}

//===----------------------------------------------------------------------===//
// Sizes and diagnostics
//===----------------------------------------------------------------------===//

TEST(HadamardSizes, SplitPicksTheLargestFactor) {
  struct Case {
    int64_t n, k;
    int m;
  } cases[] = {{1, 1, 0},      {2, 1, 1},     {4096, 1, 12}, {12, 12, 0},
               {24, 12, 1},    {20, 20, 0},   {40, 40, 0},   {80, 40, 1},
               {5120, 40, 7},  {3072, 12, 8}, {11008, 172, 6},
               {13824, 108, 7}, {14336, 28, 9}, {28672, 28, 10},
               {156, 156, 0},  {624, 156, 2}};
  for (const Case &c : cases) {
    std::optional<HadamardSplit> split = splitHadamardSize(c.n);
    ASSERT_TRUE(split.has_value()) << c.n;
    EXPECT_EQ(split->k, c.k) << c.n;
    EXPECT_EQ(split->m, c.m) << c.n;
    EXPECT_TRUE(isSupportedHadamardSize(c.n));
  }
  for (int64_t n : {0, -4, 3, 6, 10, 336, 1000, 11008 * 3})
    EXPECT_FALSE(splitHadamardSize(n).has_value()) << n;
}

TEST(HadamardSizes, UnsupportedSizeMessages) {
  const std::string expected =
      "no Hadamard matrix of size 1000 = 125·2^3: supported sizes are K·2^m "
      "with K in {1, 12, 20, 28, 36, 40, 44, 52, 60, 76, 108, 140, 156, 172}";
  EXPECT_EQ(unsupportedHadamardSizeMessage(1000), expected);
  llvm::Expected<HadamardSplit> split = getHadamardSplit(1000);
  ASSERT_FALSE(bool(split));
  EXPECT_EQ(llvm::toString(split.takeError()), expected);
  llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(1000);
  ASSERT_FALSE(bool(h));
  EXPECT_EQ(llvm::toString(h.takeError()), expected);

  EXPECT_EQ(unsupportedHadamardSizeMessage(7).rfind(
                "no Hadamard matrix of size 7 = 7·2^0: supported", 0),
            0u);
  EXPECT_NE(unsupportedHadamardSizeMessage(0).find("must be positive"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Dense normalized matrices
//===----------------------------------------------------------------------===//

TEST(HadamardMatrix, OrthogonalAndKroneckerForEveryFactor) {
  for (int64_t order : kExpectedOrders) {
    for (int shift : {0, 1, 3}) {
      int64_t n = order << shift;
      if (n > 1400)
        continue; // keeps the O(n^3) check fast; K = 172 still gets m = 3
      // 20 * 2^m with m > 0 is split as 40 * 2^(m-1): use the split's K.
      std::optional<HadamardSplit> split = splitHadamardSize(n);
      ASSERT_TRUE(split.has_value());
      const int64_t k = split->k;
      const int m = split->m, p = 1 << m;
      Eigen::MatrixXd factor = hadamardFactorMatrix(k);
      llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(n);
      ASSERT_TRUE(bool(h)) << llvm::toString(h.takeError());
      ASSERT_EQ(h->rows(), n);
      Eigen::MatrixXd gram = h->transpose() * *h;
      double error =
          (gram - Eigen::MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff();
      EXPECT_LT(error, 1e-12) << "n = " << n;
      // Block (a, c) is H_K[a][c] * H_{2^m} / sqrt(n).
      IntMatrix sylvester = sylvesterHadamard(m);
      double scale = 1.0 / std::sqrt(double(n));
      double mismatch = 0;
      for (int64_t a = 0; a < k; ++a)
        for (int64_t c = 0; c < k; ++c)
          for (int64_t b = 0; b < p; ++b)
            for (int64_t d = 0; d < p; ++d)
              mismatch = std::max(
                  mismatch, std::abs((*h)(a * p + b, c * p + d) -
                                     factor(a, c) * sylvester[b * p + d] *
                                         scale));
      EXPECT_EQ(mismatch, 0.0) << "n = " << n;
    }
  }
}

TEST(HadamardMatrix, PowersOfTwoAreSymmetricInvolutions) {
  for (int m = 0; m <= 8; ++m) {
    int64_t n = int64_t(1) << m;
    llvm::Expected<Eigen::MatrixXd> h = hadamardMatrix(n);
    ASSERT_TRUE(bool(h));
    EXPECT_EQ((*h - h->transpose()).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_LT((*h * *h - Eigen::MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff(),
              1e-12);
  }
}
