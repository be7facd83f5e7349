//===- CompiledModel.h - A model compiled by respin-compile ----*- C++ -*-===//
//
// Loads a shared object written by `respin-compile --emit=shared` with
// dlopen and runs it through its C ABI (respin_model.h), as a SequenceModel
// so that the perplexity and generation protocols score it exactly as they
// score the reference executor. The tokenizer comes from the compiled
// weights archive.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_INTERPRETER_COMPILEDMODEL_H
#define RESPIN_INTERPRETER_COMPILEDMODEL_H

#include "respin/Interpreter/SequenceModel.h"

#include "llvm/ADT/StringRef.h"

namespace respin {

struct CompiledModelOptions {
  std::string weights; ///< default: <dir>/<stem>.weights.safetensors
  std::string name;    ///< symbol prefix; default: the file's stem
  int64_t maxSeq = 0;  ///< KV cache positions per sequence (0: 2048)
};

class CompiledModel : public SequenceModel {
public:
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  load(llvm::StringRef sharedObject, const CompiledModelOptions &options);
  ~CompiledModel() override;

  llvm::Expected<std::unique_ptr<Sequence>> newSequence() const override;
  const Tokenizer *tokenizer() const override { return tokenizerPtr.get(); }
  /// The compiled kernels thread themselves.
  unsigned parallelSequences() const override { return 1; }

  struct Library;

private:
  CompiledModel() = default;
  std::unique_ptr<Library> library;
  std::unique_ptr<Tokenizer> tokenizerPtr;
  std::string weights;
  int64_t maxSeq = 0;
};

} // namespace respin

#endif
