//===- Evaluation.h - Perplexity and generation on loaded models -*- C++ -*-===//
//
// The perplexity protocol of EVALUATION.md: split the text into stories on
// "<|endoftext|>", tokenize each with BOS, concatenate, cut into
// non-overlapping windows of `contextLength` tokens, and score every token
// after the first of each window: PPL = exp(mean NLL). Windows run on
// independent sessions in parallel and their sums are added in window order,
// so the result does not depend on the thread count.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_INTERPRETER_EVALUATION_H
#define RESPIN_INTERPRETER_EVALUATION_H

#include "respin/Interpreter/ModelLoader.h"
#include "respin/Interpreter/SequenceModel.h"

#include <functional>

namespace respin {

struct PerplexityOptions {
  int64_t contextLength = 512;
  int64_t maxWindows = 0; ///< 0: all windows
  unsigned threads = 0;   ///< 0: one per hardware thread
  /// Called after each finished window with (done, total).
  std::function<void(int64_t, int64_t)> progress;
};

struct PerplexityResult {
  int64_t stories = 0;
  int64_t tokens = 0;       ///< all tokens of the tokenized text
  int64_t windows = 0;      ///< windows scored
  int64_t scoredTokens = 0; ///< tokens whose NLL entered the mean
  double meanNLL = 0.0;
  double perplexity() const;
};

/// Token ids of `text` under the protocol (each story with BOS).
llvm::Expected<std::vector<int32_t>>
tokenizeStories(const Tokenizer &tokenizer, llvm::StringRef text,
                int64_t *numStories = nullptr);

/// The reference executor on `model` as a SequenceModel.
std::unique_ptr<SequenceModel> executorModel(const LoadedModel &model);

llvm::Expected<PerplexityResult>
evaluatePerplexity(const SequenceModel &model, llvm::StringRef text,
                   const PerplexityOptions &options);
llvm::Expected<PerplexityResult>
evaluatePerplexity(const LoadedModel &model, llvm::StringRef text,
                   const PerplexityOptions &options);

/// How far apart the logits of two models are on the same windows.
struct LogitComparison {
  int64_t tokens = 0;
  double maxAbsDifference = 0; ///< max |a - b|
  double maxAbsLogit = 0;      ///< max |a|
  double relative() const {
    return maxAbsLogit > 0 ? maxAbsDifference / maxAbsLogit : 0;
  }
};

/// Runs the first `windows` protocol windows of `text` through both models
/// (which must share a tokenizer) and compares their logits.
llvm::Expected<LogitComparison>
compareLogits(const LoadedModel &model, const LoadedModel &reference,
              llvm::StringRef text, int64_t contextLength, int64_t windows);

struct GenerateOptions {
  int64_t maxTokens = 64;
  double temperature = 0.0; ///< 0: greedy
  uint64_t seed = 0;
  /// Receives each decoded piece as it is produced.
  std::function<void(llvm::StringRef)> onText;
};

/// Continues `prompt` (BOS prepended) with KV-cache decoding until EOS/BOS
/// or maxTokens. Returns the generated token ids (prompt excluded).
llvm::Expected<std::vector<int32_t>> generate(const SequenceModel &model,
                                              llvm::StringRef prompt,
                                              const GenerateOptions &options);
llvm::Expected<std::vector<int32_t>> generate(const LoadedModel &model,
                                              llvm::StringRef prompt,
                                              const GenerateOptions &options);

} // namespace respin

#endif // RESPIN_INTERPRETER_EVALUATION_H
