//===- CompiledModel.cpp - A model compiled by respin-compile -------------===//

#include "respin/Interpreter/CompiledModel.h"

#include "respin/Formats/Safetensors.h"
#include "respin/Formats/TokenizerData.h"
#include "respin/Runtime/respin_model.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <dlfcn.h>

using namespace respin;

namespace {
llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}
} // namespace

CompiledLibrary::~CompiledLibrary() {
  if (handle)
    dlclose(handle);
}

namespace {

class CompiledSequence : public Sequence {
public:
  CompiledSequence(const CompiledLibrary &library, respin_model *model)
      : library(library), model(model) {}
  ~CompiledSequence() override { library.destroy(model); }

  llvm::Expected<exec::RowMatrix>
  forward(llvm::ArrayRef<int32_t> tokens) override {
    exec::RowMatrix logits(int64_t(tokens.size()), library.vocabSize(model));
    if (tokens.empty())
      return logits;
    if (library.prefill(model, tokens.data(), int64_t(tokens.size()),
                        logits.data()) != RESPIN_MODEL_OK)
      return makeError(llvm::Twine("compiled model: ") + library.lastError());
    return logits;
  }
  void reset() override { library.reset(model); }

private:
  const CompiledLibrary &library;
  respin_model *model;
};

template <typename T>
bool lookup(void *handle, const std::string &name, T &out) {
  out = reinterpret_cast<T>(dlsym(handle, name.c_str()));
  return out != nullptr;
}

} // namespace

CompiledModel::~CompiledModel() = default;

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::load(llvm::StringRef sharedObject,
                    const CompiledModelOptions &options) {
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  model->maxSeq = options.maxSeq;
  std::string stem = llvm::sys::path::stem(sharedObject).str();
  std::string name = options.name.empty() ? stem : options.name;
  if (options.weights.empty()) {
    llvm::SmallString<256> path(sharedObject);
    llvm::sys::path::remove_filename(path);
    llvm::sys::path::append(path, stem + ".weights.safetensors");
    model->weights = std::string(path);
  } else {
    model->weights = options.weights;
  }

  auto library = CompiledLibrary::open(sharedObject, name);
  if (!library)
    return library.takeError();
  model->library = std::move(*library);

  // Validate the weights once up front so errors name the file early.
  auto sequence = model->newSequence();
  if (!sequence)
    return sequence.takeError();

  auto archive = SafetensorsFile::open(model->weights);
  if (!archive)
    return archive.takeError();
  auto tokenizer = (*archive)->metadata().find(RESPIN_MODEL_TOKENIZER_KEY);
  if (tokenizer != (*archive)->metadata().end()) {
    auto data = TokenizerData::fromJson(
        tokenizer->second, model->weights + ": " RESPIN_MODEL_TOKENIZER_KEY);
    if (!data)
      return data.takeError();
    auto created = Tokenizer::create(*data);
    if (!created)
      return created.takeError();
    model->tokenizerPtr = std::move(*created);
  }
  return std::move(model);
}

llvm::Expected<std::unique_ptr<CompiledLibrary>>
CompiledLibrary::open(llvm::StringRef sharedObject, llvm::StringRef name) {
  auto library = std::make_unique<CompiledLibrary>();
  // A path without a slash would make dlopen search the library path.
  llvm::SmallString<256> absolute(sharedObject);
  llvm::sys::fs::make_absolute(absolute);
  library->handle = dlopen(absolute.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library->handle)
    return makeError(sharedObject + ": cannot load the compiled model: " +
                     dlerror());
  std::string prefix = name.str();
  if (!lookup(library->handle, prefix + "_manifest", library->manifest) ||
      !lookup(library->handle, prefix + "_forward", library->forward))
    return makeError(sharedObject + ": no compiled model named '" + name +
                     "' (symbols " + name + "_manifest/" + name +
                     "_forward); pass the --name it was compiled with");
  if (!lookup(library->handle, "respin_model_create", library->create) ||
      !lookup(library->handle, "respin_model_destroy", library->destroy) ||
      !lookup(library->handle, "respin_model_reset", library->reset) ||
      !lookup(library->handle, "respin_model_prefill", library->prefill) ||
      !lookup(library->handle, "respin_model_decode", library->decode) ||
      !lookup(library->handle, "respin_model_vocab_size",
              library->vocabSize) ||
      !lookup(library->handle, "respin_model_state_bytes",
              library->stateBytes) ||
      !lookup(library->handle, "respin_model_weights_bytes",
              library->weightsBytes) ||
      !lookup(library->handle, "respin_model_set_num_threads",
              library->setThreads) ||
      !lookup(library->handle, "respin_model_last_error", library->lastError))
    return makeError(sharedObject +
                     ": the shared object does not carry respin_rt "
                     "(compile it with --emit=shared)");
  return std::move(library);
}

llvm::Expected<std::unique_ptr<Sequence>> CompiledModel::newSequence() const {
  respin_model *context = nullptr;
  if (library->create(library->manifest, library->forward, weights.c_str(),
                      maxSeq, &context) != RESPIN_MODEL_OK)
    return makeError(llvm::Twine(library->lastError()));
  return std::make_unique<CompiledSequence>(*library, context);
}
