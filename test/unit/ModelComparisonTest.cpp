//===- ModelComparisonTest.cpp - KL divergence, top-1, perplexity ratio ---===//
//
// One position against hand-computed values, and whole comparisons on the
// real stories260K against independent expectations: a model against itself
// (KL 0, full agreement, ratio 1), the perplexities against the perplexity
// protocol's own evaluator, and thread-count independence.
//
//===----------------------------------------------------------------------===//

#include "StoriesTestSupport.h"

#include "respin/Interpreter/ModelComparison.h"

#include <cmath>

using namespace respin;
using namespace respin::testing;

TEST(ModelComparison, OnePositionByHand) {
  // Reference p = softmax(ln 3, 0) = (3/4, 1/4); model q = (1/2, 1/2).
  Eigen::RowVectorXf reference(2), logits(2);
  reference << float(std::log(3.0)), 0.0f;
  logits << 0.0f, 0.0f;
  DivergenceStats stats = comparePosition(logits, reference, /*target=*/1);
  double kl = 0.75 * std::log(0.75 / 0.5) + 0.25 * std::log(0.25 / 0.5);
  // The reference logit ln 3 is rounded to float: 1e-7 relative.
  EXPECT_NEAR(stats.sumKL, kl, 1e-7);
  EXPECT_NEAR(stats.sumNLL, std::log(2.0), 1e-12);
  EXPECT_NEAR(stats.sumReferenceNLL, std::log(4.0), 1e-7);
  EXPECT_EQ(stats.top1Agreements, 1); // both argmax at index 0 (a tie: first)
  EXPECT_EQ(stats.positions, 1);

  // Swapped preferences: no agreement, KL of the swapped pair.
  Eigen::RowVectorXf other(2);
  other << 0.0f, float(std::log(3.0));
  DivergenceStats swapped = comparePosition(other, reference, 0);
  EXPECT_EQ(swapped.top1Agreements, 0);
  EXPECT_NEAR(swapped.sumKL, 0.5 * std::log(3.0), 1e-6); // (3/4-1/4) ln 3
}

TEST(ModelComparison, ModelAgainstItselfIsIdentical) {
  auto model = loadStories();
  ASSERT_TRUE(model);
  std::string text = readDataText("text/tinystories-eval.txt");
  CompareOptions options;
  options.maxWindows = 3;
  auto result = compareModels(*model, *model, text, options);
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());
  ASSERT_EQ(result->windows.size(), 3u);
  EXPECT_EQ(result->total.positions, 3 * 511);
  EXPECT_EQ(result->total.sumKL, 0.0);
  EXPECT_EQ(result->total.top1Agreements, result->total.positions);
  EXPECT_EQ(result->total.perplexityRatio(), 1.0);
  EXPECT_EQ(result->total.maxAbsDifference, 0.0);
}

TEST(ModelComparison, QuantizedModelAgainstFloat) {
  auto reference = loadStories();
  auto model = loadStories();
  ASSERT_TRUE(reference && model);
  ASSERT_TRUE(runPipeline(*model, "tfm-quantize-weights{bits=3}"));
  std::string text = readDataText("text/tinystories-eval.txt");
  CompareOptions options;
  options.maxWindows = 4;
  options.threads = 1;
  auto result = compareModels(*model, *reference, text, options);
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());

  // Both perplexities are the perplexity protocol's (an independent code
  // path): the same windows, the same NLL sums up to summation order.
  PerplexityOptions pplOptions;
  pplOptions.maxWindows = 4;
  auto pplModel = evaluatePerplexity(*model, text, pplOptions);
  auto pplReference = evaluatePerplexity(*reference, text, pplOptions);
  ASSERT_TRUE(pplModel && pplReference);
  EXPECT_EQ(result->total.positions, pplModel->scoredTokens);
  EXPECT_NEAR(result->total.perplexity(), pplModel->perplexity(),
              1e-9 * pplModel->perplexity());
  EXPECT_NEAR(result->total.referencePerplexity(), pplReference->perplexity(),
              1e-9 * pplReference->perplexity());
  // 3-bit RTN weights visibly move the distribution.
  EXPECT_GT(result->total.meanKL(), 1e-3);
  EXPECT_LT(result->total.top1Agreement(), 1.0);
  EXPECT_GT(result->total.top1Agreement(), 0.3);
  EXPECT_GT(result->total.perplexityRatio(), 1.0);
  EXPECT_GE(result->total.maxKL, result->windows[2].maxKL);

  // Windows are independent and summed in order: any thread count gives
  // the same bits.
  options.threads = 3;
  auto threaded = compareModels(*model, *reference, text, options);
  ASSERT_TRUE(bool(threaded));
  EXPECT_EQ(threaded->total.sumKL, result->total.sumKL);
  EXPECT_EQ(threaded->total.sumNLL, result->total.sumNLL);
  EXPECT_EQ(threaded->total.top1Agreements, result->total.top1Agreements);
}
