//===- Session.h - Running a program with a key/value cache ----*- C++ -*-===//
//
// A Session holds the key/value caches of one sequence. forward() appends
// tokens at the next positions and returns their logits, so a whole
// sequence in one call and the same sequence one token at a time compute the
// same thing (the KV-cache decoding path). Sessions are independent: one per
// thread.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_EXECUTOR_SESSION_H
#define RESPIN_EXECUTOR_SESSION_H

#include "respin/Executor/Program.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <vector>

namespace respin::exec {

class Session {
public:
  /// Sees the input of every linear as it is computed (calibration,
  /// activation statistics): the instruction and its input rows.
  using LinearInputObserver =
      std::function<void(const Instruction &, const RowMatrix &)>;

  explicit Session(const Program &program);

  void setLinearInputObserver(LinearInputObserver observer) {
    linearInputObserver = std::move(observer);
  }

  /// Logits [tokens.size(), vocab] of `tokens` placed at positions
  /// cachedLength() ... Fails on token ids outside the vocabulary.
  llvm::Expected<RowMatrix> forward(llvm::ArrayRef<int32_t> tokens);

  /// Runs instructions [begin, end) of the forward pass of `tokens` as a
  /// fresh sequence (caches cleared, positions 0 ... n-1) on `values`, a
  /// value table of program.numValues entries in which every value the range
  /// reads but does not compute holds what the earlier instructions gave.
  /// Advancing a sequence range by range computes exactly what forward()
  /// computes in one call (calibration keeps many sequences part-way through
  /// the program). Fails on token ids outside the vocabulary.
  llvm::Error runRange(llvm::ArrayRef<int32_t> tokens, size_t begin, size_t end,
                       std::vector<RowMatrix> &values);

  /// Tokens held by the caches.
  int64_t cachedLength() const { return cacheLength; }
  /// Forgets the cached sequence.
  void reset();

private:
  struct KVCache {
    std::vector<float> keys;   ///< [cacheLength, kvWidth]
    std::vector<float> values; ///< [cacheLength, kvWidth]
  };
  llvm::Error checkTokens(llvm::ArrayRef<int32_t> tokens) const;
  void execute(const Instruction &inst, llvm::ArrayRef<int32_t> tokens,
               llvm::ArrayRef<int32_t> positions,
               std::vector<RowMatrix> &values);

  const Program &program;
  LinearInputObserver linearInputObserver;
  std::vector<KVCache> caches;
  int64_t cacheLength = 0;
};

/// Negative log-likelihood (natural log) of `target` under `logits`,
/// computed in double precision.
double tokenNLL(const Eigen::Ref<const Eigen::RowVectorXf> &logits,
                int32_t target);

} // namespace respin::exec

#endif // RESPIN_EXECUTOR_SESSION_H
