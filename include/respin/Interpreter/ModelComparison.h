//===- ModelComparison.h - A model against its float reference -*- C++ -*-===//
//
// How far a (quantized) model's next-token distributions are from a reference
// model's on the perplexity protocol's windows, as llama.cpp users measure it
// (llama-perplexity --kl-divergence): at every scored position (every token
// after the first of a window), KL(P_ref || P_model) in nats, whether the two
// argmax tokens agree, and both models' NLL of the actual next token (their
// perplexity ratio); also the largest logit difference, the exactness measure
// of float-preserving passes. Windows run in parallel on independent sessions
// and are summed in window order: results do not depend on the thread count.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_INTERPRETER_MODELCOMPARISON_H
#define RESPIN_INTERPRETER_MODELCOMPARISON_H

#include "respin/Interpreter/ModelLoader.h"

#include <functional>

namespace respin {

/// One window's (or the total's) statistics.
struct DivergenceStats {
  int64_t positions = 0; ///< scored positions
  double sumKL = 0.0;    ///< sum over positions of KL(ref || model)
  double maxKL = 0.0;
  int64_t top1Agreements = 0; ///< positions whose argmax tokens agree
  double sumNLL = 0.0;        ///< model's NLL of the actual next tokens
  double sumReferenceNLL = 0.0;
  double maxAbsDifference = 0.0; ///< max |logit - reference logit|
  double maxAbsLogit = 0.0;      ///< max |reference logit|

  double meanKL() const;
  double top1Agreement() const; ///< fraction in [0, 1]
  double perplexity() const;
  double referencePerplexity() const;
  double perplexityRatio() const; ///< model / reference
  double relativeLogitDifference() const;
  /// Adds another window's statistics.
  void merge(const DivergenceStats &other);
};

struct ModelComparison {
  int64_t stories = 0;
  int64_t tokens = 0; ///< all tokens of the tokenized text
  std::vector<DivergenceStats> windows;
  DivergenceStats total;
};

struct CompareOptions {
  int64_t contextLength = 512;
  int64_t maxWindows = 0; ///< 0: all windows
  unsigned threads = 0;   ///< 0: one per hardware thread
  /// Called after each finished window with (done, total).
  std::function<void(int64_t, int64_t)> progress;
};

/// Statistics of one position: KL(softmax(reference) || softmax(logits))
/// and the rest, in double precision. `target` is the actual next token.
DivergenceStats
comparePosition(const Eigen::Ref<const Eigen::RowVectorXf> &logits,
                const Eigen::Ref<const Eigen::RowVectorXf> &reference,
                int32_t target);

/// Runs both models (which must share the tokenizer and vocabulary) on the
/// windows of `text` and compares them. The reference's tokenizer is used.
llvm::Expected<ModelComparison> compareModels(const LoadedModel &model,
                                              const LoadedModel &reference,
                                              llvm::StringRef text,
                                              const CompareOptions &options);

/// A warning when `contextLength` exceeds the context the model was trained
/// with (its config's max_position_embeddings), else an empty string.
std::string contextLengthWarning(const LoadedModel &model,
                                 int64_t contextLength);

} // namespace respin

#endif // RESPIN_INTERPRETER_MODELCOMPARISON_H
