//===- ParameterSet.cpp - Layered parameter archives ----------------------===//

#include "respin/Formats/ParameterSet.h"
#include "respin/Formats/ParameterArchive.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

namespace respin {

llvm::Error ParameterSet::addArchive(llvm::StringRef path) {
  if (llvm::is_contained(paths, path))
    return llvm::Error::success();
  llvm::SmallString<256> resolved(path);
  if (llvm::sys::path::is_relative(resolved) && !baseDir.empty()) {
    resolved = baseDir;
    llvm::sys::path::append(resolved, path);
  }
  auto archive = loadParameterArchive(resolved);
  if (!archive)
    return archive.takeError();
  layers.push_back(std::make_unique<Checkpoint>(std::move(*archive)));
  paths.push_back(path.str());
  return llvm::Error::success();
}

void ParameterSet::addCheckpoint(Checkpoint checkpoint) {
  layers.push_back(std::make_unique<Checkpoint>(std::move(checkpoint)));
  paths.push_back("<in-memory>");
}

const Checkpoint *ParameterSet::archive(llvm::StringRef path) const {
  for (size_t i = 0; i < paths.size(); ++i)
    if (paths[i] == path)
      return layers[i].get();
  return nullptr;
}

const TensorView *ParameterSet::lookup(llvm::StringRef name) const {
  auto found = pending.find(name.str());
  if (found != pending.end())
    return &found->second->view;
  for (const auto &layer : llvm::reverse(layers)) {
    auto it = layer->tensors.find(name.str());
    if (it != layer->tensors.end())
      return &it->second;
  }
  return nullptr;
}

void ParameterSet::setPending(llvm::StringRef name, DType dtype,
                              llvm::ArrayRef<int64_t> shape,
                              std::vector<uint8_t> bytes) {
  auto tensor = std::make_unique<PendingTensor>();
  tensor->bytes = std::move(bytes);
  tensor->view.name = name.str();
  tensor->view.dtype = dtype;
  tensor->view.shape.assign(shape.begin(), shape.end());
  tensor->view.data = tensor->bytes.data();
  tensor->view.numBytes = tensor->bytes.size();
  pending[name.str()] = std::move(tensor);
}

template <typename T>
static std::vector<uint8_t> bytesOf(llvm::ArrayRef<T> values) {
  const auto *begin = reinterpret_cast<const uint8_t *>(values.data());
  return std::vector<uint8_t>(begin, begin + values.size() * sizeof(T));
}

void ParameterSet::setPending(llvm::StringRef name,
                              llvm::ArrayRef<int64_t> shape,
                              llvm::ArrayRef<float> values) {
  setPending(name, DType::F32, shape, bytesOf(values));
}

void ParameterSet::setPending(llvm::StringRef name,
                              llvm::ArrayRef<int64_t> shape,
                              llvm::ArrayRef<double> values) {
  setPending(name, DType::F64, shape, bytesOf(values));
}

std::vector<std::string> ParameterSet::pendingNames() const {
  std::vector<std::string> names;
  for (const auto &entry : pending)
    names.push_back(entry.first);
  return names;
}

llvm::Error ParameterSet::writePending(llvm::StringRef path,
                                       const std::vector<std::string> *keep,
                                       OutputSet *outputs,
                                       const Checkpoint *carry) const {
  Checkpoint out;
  if (const ModelConfig *base = config())
    out.config = *base;
  for (const auto &[name, tensor] : pending)
    if (!keep || llvm::is_contained(*keep, name))
      out.tensors[name] = tensor->view;
  if (carry) {
    for (const auto &[name, tensor] : carry->tensors)
      out.tensors.emplace(name, tensor); // written pending ones stay
    out.tokenizer = carry->tokenizer;
  }
  return writeParameterArchive(out, path, outputs);
}

const ModelConfig *ParameterSet::config() const {
  return layers.empty() ? nullptr : &layers.front()->config;
}

const TokenizerData *ParameterSet::tokenizer() const {
  for (const auto &layer : layers)
    if (layer->tokenizer)
      return &*layer->tokenizer;
  return nullptr;
}

} // namespace respin
