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
#include "respin/Runtime/respin_model.h"

#include "llvm/ADT/StringRef.h"

namespace respin {

/// The respin_model C ABI as found in one shared object (each object
/// carries its own copy of the runtime, so its entry points are looked up
/// in it rather than linked).
struct CompiledLibrary {
  void *handle = nullptr;
  const char *manifest = nullptr;
  respin_model_forward_fn forward = nullptr;
  decltype(&respin_model_create) create = nullptr;
  decltype(&respin_model_destroy) destroy = nullptr;
  decltype(&respin_model_reset) reset = nullptr;
  decltype(&respin_model_prefill) prefill = nullptr;
  decltype(&respin_model_decode) decode = nullptr;
  decltype(&respin_model_vocab_size) vocabSize = nullptr;
  decltype(&respin_model_state_bytes) stateBytes = nullptr;
  decltype(&respin_model_weights_bytes) weightsBytes = nullptr;
  decltype(&respin_model_set_num_threads) setThreads = nullptr;
  decltype(&respin_model_last_error) lastError = nullptr;

  /// dlopens `sharedObject` and finds `<name>_manifest`, `<name>_forward`
  /// and the runtime's respin_model_* functions.
  static llvm::Expected<std::unique_ptr<CompiledLibrary>>
  open(llvm::StringRef sharedObject, llvm::StringRef name);
  CompiledLibrary() = default;
  CompiledLibrary(const CompiledLibrary &) = delete;
  CompiledLibrary &operator=(const CompiledLibrary &) = delete;
  ~CompiledLibrary();
};

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

private:
  CompiledModel() = default;
  std::unique_ptr<CompiledLibrary> library;
  std::unique_ptr<Tokenizer> tokenizerPtr;
  std::string weights;
  int64_t maxSeq = 0;
};

} // namespace respin

#endif
