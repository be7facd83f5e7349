//===- ModelComparison.cpp - A model against its float reference ----------===//

#include "respin/Interpreter/ModelComparison.h"
#include "respin/Executor/Session.h"
#include "respin/Interpreter/Evaluation.h"

#include "llvm/Support/FormatVariadic.h"

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

namespace respin {

double DivergenceStats::meanKL() const {
  return positions > 0 ? sumKL / double(positions) : 0.0;
}
double DivergenceStats::top1Agreement() const {
  return positions > 0 ? double(top1Agreements) / double(positions) : 0.0;
}
double DivergenceStats::perplexity() const {
  return std::exp(positions > 0 ? sumNLL / double(positions) : 0.0);
}
double DivergenceStats::referencePerplexity() const {
  return std::exp(positions > 0 ? sumReferenceNLL / double(positions) : 0.0);
}
double DivergenceStats::perplexityRatio() const {
  return perplexity() / referencePerplexity();
}
double DivergenceStats::relativeLogitDifference() const {
  return maxAbsLogit > 0.0 ? maxAbsDifference / maxAbsLogit : 0.0;
}

void DivergenceStats::merge(const DivergenceStats &other) {
  positions += other.positions;
  sumKL += other.sumKL;
  maxKL = std::max(maxKL, other.maxKL);
  top1Agreements += other.top1Agreements;
  sumNLL += other.sumNLL;
  sumReferenceNLL += other.sumReferenceNLL;
  maxAbsDifference = std::max(maxAbsDifference, other.maxAbsDifference);
  maxAbsLogit = std::max(maxAbsLogit, other.maxAbsLogit);
}

namespace {
/// log softmax of a row, in double.
Eigen::VectorXd logSoftmax(const Eigen::Ref<const Eigen::RowVectorXf> &row) {
  Eigen::VectorXd x = row.transpose().cast<double>();
  double maxValue = x.maxCoeff();
  double logSum = std::log((x.array() - maxValue).exp().sum()) + maxValue;
  return x.array() - logSum;
}
} // namespace

DivergenceStats
comparePosition(const Eigen::Ref<const Eigen::RowVectorXf> &logits,
                const Eigen::Ref<const Eigen::RowVectorXf> &reference,
                int32_t target) {
  DivergenceStats stats;
  Eigen::VectorXd logP = logSoftmax(reference), logQ = logSoftmax(logits);
  // KL >= 0; a last-bit negative value from rounding is clamped.
  double kl = (logP.array().exp() * (logP - logQ).array()).sum();
  stats.positions = 1;
  stats.sumKL = stats.maxKL = std::max(0.0, kl);
  Eigen::Index best, referenceBest;
  logits.maxCoeff(&best);
  reference.maxCoeff(&referenceBest);
  stats.top1Agreements = best == referenceBest ? 1 : 0;
  stats.sumNLL = -logQ(target);
  stats.sumReferenceNLL = -logP(target);
  return stats;
}

llvm::Expected<ModelComparison> compareModels(const LoadedModel &model,
                                              const LoadedModel &reference,
                                              llvm::StringRef text,
                                              const CompareOptions &options) {
  if (!model.tokenizer || !reference.tokenizer)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "both models need a tokenizer");
  if (options.contextLength < 2)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the context length must be at least 2");
  if (model.program.vocabSize != reference.program.vocabSize)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the models have different vocabularies (%lld and %lld tokens)",
        (long long)model.program.vocabSize,
        (long long)reference.program.vocabSize);
  ModelComparison result;
  auto tokens = tokenizeStories(*reference.tokenizer, text, &result.stories);
  if (!tokens)
    return tokens.takeError();
  result.tokens = int64_t(tokens->size());
  int64_t ctx = options.contextLength;
  int64_t windows = (result.tokens + ctx - 1) / ctx;
  if (result.tokens % ctx == 1) // a last window of one token scores nothing
    --windows;
  if (options.maxWindows > 0)
    windows = std::min(windows, options.maxWindows);
  result.windows.resize(windows);

  std::atomic<int64_t> next{0}, done{0};
  std::mutex mutex;
  std::string firstError;
  auto worker = [&]() {
    exec::Session session(model.program), referenceSession(reference.program);
    for (int64_t w = next++; w < windows; w = next++) {
      int64_t begin = w * ctx, end = std::min(begin + ctx, result.tokens);
      llvm::ArrayRef<int32_t> window(tokens->data() + begin, end - begin);
      session.reset();
      referenceSession.reset();
      auto logits = session.forward(window);
      auto expected = referenceSession.forward(window);
      bool ok = bool(logits), referenceOk = bool(expected);
      if (!ok || !referenceOk) {
        std::lock_guard<std::mutex> lock(mutex);
        std::string message = !ok ? llvm::toString(logits.takeError())
                                  : llvm::toString(expected.takeError());
        if (!ok && !referenceOk)
          llvm::consumeError(expected.takeError());
        if (firstError.empty())
          firstError = "window " + std::to_string(w) + ": " + message;
        return;
      }
      DivergenceStats &stats = result.windows[w];
      for (int64_t t = 0; t + 1 < int64_t(window.size()); ++t)
        stats.merge(
            comparePosition(logits->row(t), expected->row(t), window[t + 1]));
      stats.maxAbsDifference = (*logits - *expected).cwiseAbs().maxCoeff();
      stats.maxAbsLogit = expected->cwiseAbs().maxCoeff();
      int64_t finished = ++done;
      if (options.progress) {
        std::lock_guard<std::mutex> lock(mutex);
        options.progress(finished, windows);
      }
    }
  };
  unsigned threads = options.threads
                         ? options.threads
                         : std::max(1u, std::thread::hardware_concurrency());
  threads = unsigned(std::min<int64_t>(threads, std::max<int64_t>(windows, 1)));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back(worker);
  worker();
  for (std::thread &thread : pool)
    thread.join();
  if (!firstError.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                   firstError.c_str());
  for (const DivergenceStats &stats : result.windows)
    result.total.merge(stats);
  return result;
}

std::string contextLengthWarning(const LoadedModel &model,
                                 int64_t contextLength) {
  const ModelConfig *config = model.parameters().config();
  if (!config || config->maxPositions <= 0 ||
      contextLength <= config->maxPositions)
    return "";
  return llvm::formatv("--ctx {0} exceeds the {1} positions the model was "
                       "trained with (max_position_embeddings); positions "
                       "past {1} are extrapolated and perplexity there is not "
                       "meaningful",
                       contextLength, config->maxPositions)
      .str();
}

} // namespace respin
