//===- CompiledWeights.cpp - Weights a compiled model reads ---------------===//

#include "CompiledWeights.h"

#include "respin/Formats/Safetensors.h"
#include "respin/Runtime/respin_model.h"

using namespace mlir::tfm;

int64_t CompiledWeights::find(llvm::StringRef name) const {
  auto it = index.find(name);
  return it == index.end() ? -1 : it->second;
}

int64_t CompiledWeights::add(Entry entry) {
  int64_t at = int64_t(list.size());
  index[entry.name] = at;
  list.push_back(std::move(entry));
  return at;
}

std::string CompiledWeights::manifestLines() const {
  std::string text;
  for (size_t i = 0; i < list.size(); ++i) {
    const Entry &entry = list[i];
    text += "weight " + std::to_string(i) + " " + entry.name + " " +
            respin::dtypeName(entry.dtype).str() + " " +
            std::to_string(entry.bytes.size()) + " ";
    for (size_t d = 0; d < entry.shape.size(); ++d)
      text += (d ? "x" : "") + std::to_string(entry.shape[d]);
    text += "\n";
  }
  return text;
}

llvm::Error CompiledWeights::write(llvm::StringRef path, llvm::StringRef model,
                                   llvm::StringRef tokenizerJson,
                                   respin::OutputSet *outputs) const {
  respin::SafetensorsWriter writer;
  writer.setMetadata("format", RESPIN_MODEL_WEIGHTS_FORMAT);
  writer.setMetadata("model", model);
  if (!tokenizerJson.empty())
    writer.setMetadata(RESPIN_MODEL_TOKENIZER_KEY, tokenizerJson);
  for (const Entry &entry : list)
    writer.addTensor(entry.name, entry.dtype, entry.shape,
                     llvm::ArrayRef<uint8_t>(entry.bytes));
  if (outputs)
    return writer.write(path, *outputs, "compiled weights");
  return writer.write(path);
}
