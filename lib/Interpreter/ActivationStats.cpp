//===- ActivationStats.cpp - Outlier statistics of linear inputs ----------===//

#include "respin/Interpreter/ActivationStats.h"
#include "respin/Executor/Session.h"

#include <cmath>
#include <map>

namespace respin {
namespace {
/// Power sums of one input, accumulated in double.
struct Moments {
  LinearInputStats stats;
  double sum = 0, sum2 = 0, sum3 = 0, sum4 = 0, maxAbs = 0;

  void add(const exec::RowMatrix &rows) {
    for (Eigen::Index i = 0; i < rows.size(); ++i) {
      double x = rows.data()[i], x2 = x * x;
      sum += x;
      sum2 += x2;
      sum3 += x2 * x;
      sum4 += x2 * x2;
      maxAbs = std::max(maxAbs, std::abs(x));
    }
    stats.count += rows.size();
  }

  LinearInputStats finish() const {
    LinearInputStats result = stats;
    double n = double(stats.count);
    double mean = sum / n, meanSquare = sum2 / n;
    double variance = meanSquare - mean * mean;
    // Fourth central moment from the raw power sums.
    double central4 = sum4 / n - 4 * mean * sum3 / n +
                      6 * mean * mean * meanSquare - 3 * std::pow(mean, 4);
    result.kurtosis = variance > 0 ? central4 / (variance * variance) : 0;
    result.maxOverRms = meanSquare > 0 ? maxAbs / std::sqrt(meanSquare) : 0;
    return result;
  }
};
} // namespace

llvm::Expected<std::vector<LinearInputStats>>
measureLinearInputs(const LoadedModel &model, llvm::StringRef text,
                    int64_t contextLength, int64_t windows) {
  if (!model.tokenizer)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the model has no tokenizer");
  auto tokens = tokenizeStories(*model.tokenizer, text);
  if (!tokens)
    return tokens.takeError();

  // Linears reading the same value (q, k, v) share one entry.
  std::map<int, Moments> byInput;
  std::vector<int> order;
  exec::Session session(model.program);
  session.setLinearInputObserver(
      [&](const exec::Instruction &inst, const exec::RowMatrix &input) {
        int value = inst.operands[0];
        auto [it, inserted] = byInput.try_emplace(value);
        Moments &moments = it->second;
        if (inserted) {
          order.push_back(value);
          moments.stats.origin = inst.origin;
          moments.stats.width = input.cols();
        }
        const std::string &name = inst.weight->name;
        if (moments.stats.readers.find(name) == std::string::npos)
          moments.stats.readers +=
              (moments.stats.readers.empty() ? "" : ", ") + name;
        // Count each input once even when several linears read it.
        if (moments.stats.readers.rfind(name, 0) == 0)
          moments.add(input);
      });
  int64_t total = int64_t(tokens->size());
  for (int64_t w = 0; w < windows && w * contextLength < total; ++w) {
    int64_t begin = w * contextLength;
    int64_t end = std::min(begin + contextLength, total);
    session.reset();
    auto logits = session.forward(
        llvm::ArrayRef<int32_t>(tokens->data() + begin, end - begin));
    if (!logits)
      return logits.takeError();
  }
  std::vector<LinearInputStats> result;
  for (int value : order)
    result.push_back(byInput[value].finish());
  return result;
}

} // namespace respin
