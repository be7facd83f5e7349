//===- SequenceModel.h - Anything that runs token sequences ----*- C++ -*-===//
//
// The evaluation protocols (perplexity, generation) need only this: fresh
// sequence states that take tokens and return their logits, and the
// tokenizer. The reference executor and compiled models both provide it, so
// one protocol implementation scores both.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_INTERPRETER_SEQUENCEMODEL_H
#define RESPIN_INTERPRETER_SEQUENCEMODEL_H

#include "respin/Executor/Program.h"
#include "respin/Formats/Tokenizer.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace respin {

/// One sequence: its KV cache grows with every forward call.
class Sequence {
public:
  virtual ~Sequence() = default;
  /// Logits of `tokens`, which follow the tokens already run.
  virtual llvm::Expected<exec::RowMatrix>
  forward(llvm::ArrayRef<int32_t> tokens) = 0;
  /// Forgets the tokens run so far.
  virtual void reset() = 0;
};

class SequenceModel {
public:
  virtual ~SequenceModel() = default;
  virtual llvm::Expected<std::unique_ptr<Sequence>> newSequence() const = 0;
  /// Null when the model has no tokenizer.
  virtual const Tokenizer *tokenizer() const = 0;
  /// Sequences worth running in parallel (1 when the model threads its own
  /// kernels).
  virtual unsigned parallelSequences() const = 0;
};

} // namespace respin

#endif
