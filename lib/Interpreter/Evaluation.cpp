//===- Evaluation.cpp - Perplexity and generation on loaded models --------===//

#include "respin/Interpreter/Evaluation.h"
#include "respin/Executor/Session.h"

#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

namespace respin {

double PerplexityResult::perplexity() const { return std::exp(meanNLL); }

namespace {
class ExecutorSequence : public Sequence {
public:
  explicit ExecutorSequence(const exec::Program &program) : session(program) {}
  llvm::Expected<exec::RowMatrix>
  forward(llvm::ArrayRef<int32_t> tokens) override {
    return session.forward(tokens);
  }
  void reset() override { session.reset(); }

private:
  exec::Session session;
};

class ExecutorModel : public SequenceModel {
public:
  explicit ExecutorModel(const LoadedModel &model) : model(model) {}
  llvm::Expected<std::unique_ptr<Sequence>> newSequence() const override {
    return std::make_unique<ExecutorSequence>(model.program);
  }
  const Tokenizer *tokenizer() const override { return model.tokenizer.get(); }
  unsigned parallelSequences() const override {
    return std::max(1u, std::thread::hardware_concurrency());
  }

private:
  const LoadedModel &model;
};
} // namespace

std::unique_ptr<SequenceModel> executorModel(const LoadedModel &model) {
  return std::make_unique<ExecutorModel>(model);
}

llvm::Expected<PerplexityResult>
evaluatePerplexity(const LoadedModel &model, llvm::StringRef text,
                   const PerplexityOptions &options) {
  return evaluatePerplexity(*executorModel(model), text, options);
}

llvm::Expected<std::vector<int32_t>> generate(const LoadedModel &model,
                                              llvm::StringRef prompt,
                                              const GenerateOptions &options) {
  return generate(*executorModel(model), prompt, options);
}

llvm::Expected<std::vector<int32_t>>
tokenizeStories(const Tokenizer &tokenizer, llvm::StringRef text,
                int64_t *numStories) {
  std::vector<int32_t> tokens;
  std::vector<std::string> stories = splitStories(text);
  for (const std::string &story : stories) {
    std::vector<int32_t> ids = tokenizer.encode(story, /*addBos=*/true);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
  }
  if (numStories)
    *numStories = int64_t(stories.size());
  if (tokens.size() < 2)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the text has fewer than two tokens");
  return tokens;
}

llvm::Expected<PerplexityResult>
evaluatePerplexity(const SequenceModel &model, llvm::StringRef text,
                   const PerplexityOptions &options) {
  if (!model.tokenizer())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the model has no tokenizer");
  if (options.contextLength < 2)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the context length must be at least 2");
  PerplexityResult result;
  auto tokens = tokenizeStories(*model.tokenizer(), text, &result.stories);
  if (!tokens)
    return tokens.takeError();
  result.tokens = int64_t(tokens->size());

  int64_t ctx = options.contextLength;
  int64_t windows = (result.tokens + ctx - 1) / ctx;
  // A final window of a single token has nothing to score.
  if (result.tokens % ctx == 1)
    --windows;
  if (options.maxWindows > 0)
    windows = std::min(windows, options.maxWindows);

  std::vector<double> windowNLL(windows, 0.0);
  std::vector<int64_t> windowCount(windows, 0);
  std::atomic<int64_t> next{0}, done{0};
  std::mutex errorMutex, progressMutex;
  std::string firstError;

  auto worker = [&]() {
    auto sequence = model.newSequence();
    if (!sequence) {
      std::lock_guard<std::mutex> lock(errorMutex);
      firstError = llvm::toString(sequence.takeError());
      return;
    }
    for (int64_t w = next++; w < windows; w = next++) {
      int64_t begin = w * ctx;
      int64_t end = std::min(begin + ctx, result.tokens);
      (*sequence)->reset();
      auto logits = (*sequence)->forward(
          llvm::ArrayRef<int32_t>(tokens->data() + begin, end - begin));
      if (!logits) {
        std::lock_guard<std::mutex> lock(errorMutex);
        firstError = llvm::toString(logits.takeError());
        return;
      }
      double sum = 0.0;
      for (int64_t t = begin + 1; t < end; ++t)
        sum += exec::tokenNLL(logits->row(t - 1 - begin), (*tokens)[t]);
      windowNLL[w] = sum;
      windowCount[w] = end - begin - 1;
      int64_t finished = ++done;
      if (options.progress) {
        std::lock_guard<std::mutex> lock(progressMutex);
        options.progress(finished, windows);
      }
    }
  };
  unsigned threads =
      options.threads ? options.threads : model.parallelSequences();
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

  double total = 0.0;
  for (int64_t w = 0; w < windows; ++w) {
    total += windowNLL[w];
    result.scoredTokens += windowCount[w];
  }
  result.windows = windows;
  result.meanNLL = total / double(result.scoredTokens);
  return result;
}

llvm::Expected<LogitComparison>
compareLogits(const LoadedModel &model, const LoadedModel &reference,
              llvm::StringRef text, int64_t contextLength, int64_t windows) {
  if (!model.tokenizer || !reference.tokenizer)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "both models need a tokenizer");
  auto tokens = tokenizeStories(*reference.tokenizer, text);
  if (!tokens)
    return tokens.takeError();
  LogitComparison result;
  exec::Session session(model.program), referenceSession(reference.program);
  int64_t total = int64_t(tokens->size());
  for (int64_t w = 0; w < windows && w * contextLength < total; ++w) {
    llvm::ArrayRef<int32_t> window(tokens->data() + w * contextLength,
                                   std::min(contextLength,
                                            total - w * contextLength));
    session.reset();
    referenceSession.reset();
    auto logits = session.forward(window);
    if (!logits)
      return logits.takeError();
    auto expected = referenceSession.forward(window);
    if (!expected)
      return expected.takeError();
    if (logits->cols() != expected->cols())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "the models have different vocabularies");
    result.maxAbsDifference =
        std::max<double>(result.maxAbsDifference,
                         (*logits - *expected).cwiseAbs().maxCoeff());
    result.maxAbsLogit = std::max<double>(result.maxAbsLogit,
                                          expected->cwiseAbs().maxCoeff());
    result.tokens += int64_t(window.size());
  }
  return result;
}

namespace {
/// Samples from softmax(logits / temperature) with a portable generator
/// (mt19937_64 and our own uniform mapping, so every platform agrees).
int32_t sample(const Eigen::RowVectorXf &logits, double temperature,
               std::mt19937_64 &rng) {
  if (temperature <= 0.0) {
    Eigen::Index best;
    logits.maxCoeff(&best);
    return int32_t(best);
  }
  double maxLogit = logits.maxCoeff();
  std::vector<double> weights(logits.size());
  double total = 0.0;
  for (Eigen::Index i = 0; i < logits.size(); ++i)
    total += weights[i] = std::exp((logits[i] - maxLogit) / temperature);
  double u = double(rng() >> 11) * 0x1.0p-53 * total;
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    u -= weights[i];
    if (u < 0.0)
      return int32_t(i);
  }
  return int32_t(logits.size() - 1);
}
} // namespace

llvm::Expected<std::vector<int32_t>> generate(const SequenceModel &model,
                                              llvm::StringRef prompt,
                                              const GenerateOptions &options) {
  if (!model.tokenizer())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the model has no tokenizer");
  const Tokenizer &tokenizer = *model.tokenizer();
  std::vector<int32_t> context = tokenizer.encode(prompt, /*addBos=*/true);
  auto sequence = model.newSequence();
  if (!sequence)
    return sequence.takeError();
  std::mt19937_64 rng(options.seed);
  std::vector<int32_t> generated;
  auto logits = (*sequence)->forward(context);
  if (!logits)
    return logits.takeError();
  int32_t previous = context.back();
  for (int64_t step = 0; step < options.maxTokens; ++step) {
    Eigen::RowVectorXf last = logits->row(logits->rows() - 1);
    int32_t next = sample(last, options.temperature, rng);
    if (next == tokenizer.eosId() || next == tokenizer.bosId())
      break;
    generated.push_back(next);
    if (options.onText)
      options.onText(tokenizer.decodeToken(previous, next));
    previous = next;
    logits = (*sequence)->forward({next});
    if (!logits)
      return logits.takeError();
  }
  return generated;
}

} // namespace respin
