//===- CompiledWeights.h - Weights a compiled model reads ------*- C++ -*-===//
//
// The tensors the generated code receives as its `weights` table, in table
// order: archive parameters converted to the dtype the kernels read (f32 or
// packed int8 blobs), and tensors derived at compile time (folded dense
// transitions, adapter bases). Writes them as one safetensors archive and
// describes them in the manifest the loader validates the archive against.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_PASSES_CONVERSION_TFMTORUNTIME_COMPILEDWEIGHTS_H
#define RESPIN_PASSES_CONVERSION_TFMTORUNTIME_COMPILEDWEIGHTS_H

#include "respin/Formats/OutputSet.h"
#include "respin/Formats/Tensor.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::tfm {

class CompiledWeights {
public:
  struct Entry {
    std::string name;
    respin::DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };

  /// Index of `name`, or -1.
  int64_t find(llvm::StringRef name) const;
  /// Adds a tensor and returns its table index.
  int64_t add(Entry entry);

  llvm::ArrayRef<Entry> entries() const { return list; }

  /// The manifest lines describing the table ("weight <index> <name>
  /// <dtype> <bytes> <d0>x<d1>...").
  std::string manifestLines() const;

  /// Writes the archive (staged in `outputs` when given), with the
  /// tokenizer's JSON in the metadata when not empty.
  llvm::Error write(llvm::StringRef path, llvm::StringRef model,
                    llvm::StringRef tokenizerJson,
                    respin::OutputSet *outputs) const;

private:
  std::vector<Entry> list;
  llvm::StringMap<int64_t> index;
};

} // namespace mlir::tfm

#endif
