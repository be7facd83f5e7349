//===- ActivationStats.h - Outlier statistics of linear inputs -*- C++ -*-===//
//
// Rotations exist to remove outliers from the activations that quantized
// linears read. This measures them: for every distinct linear input, over
// all tokens of the evaluated windows, the kurtosis of its values
// (E[(x-mu)^4] / sigma^4; 3 for a Gaussian) and max|x| / RMS(x).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_INTERPRETER_ACTIVATIONSTATS_H
#define RESPIN_INTERPRETER_ACTIVATIONSTATS_H

#include "respin/Interpreter/Evaluation.h"

namespace respin {

struct LinearInputStats {
  std::string readers; ///< weights of the linears reading this input
  std::string origin;  ///< location of the first reader
  int64_t width = 0;
  int64_t count = 0;   ///< values seen
  double kurtosis = 0;
  double maxOverRms = 0;
};

/// Runs the first `windows` windows of `contextLength` tokens of `text`
/// (the perplexity protocol's windows) and gathers the statistics of every
/// linear input, in program order.
llvm::Expected<std::vector<LinearInputStats>>
measureLinearInputs(const LoadedModel &model, llvm::StringRef text,
                    int64_t contextLength, int64_t windows);

} // namespace respin

#endif // RESPIN_INTERPRETER_ACTIVATIONSTATS_H
