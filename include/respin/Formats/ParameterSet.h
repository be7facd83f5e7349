//===- ParameterSet.h - Layered parameter archives -------------*- C++ -*-===//
//
// The weights a tfm module refers to by name. A module's `tfm.parameters`
// lists one or more archives; later archives override earlier ones (a pass
// pipeline writes only the tensors it changed into a new archive layered on
// top of the imported one, so an 8B model is never copied to change a few
// matrices). Tensors created in memory by passes are "pending" until they
// are written out; lookups see pending tensors first.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_PARAMETERSET_H
#define RESPIN_FORMATS_PARAMETERSET_H

#include "respin/Formats/Checkpoint.h"
#include "respin/Formats/OutputSet.h"

#include <map>
#include <memory>

namespace respin {

class ParameterSet {
public:
  /// Directory against which relative archive paths are resolved.
  void setBaseDirectory(llvm::StringRef directory) { baseDir = directory.str(); }
  llvm::StringRef getBaseDirectory() const { return baseDir; }

  /// Maps the archive at `path` (relative to the base directory) on top of
  /// the ones already present; an archive already present is not reloaded.
  llvm::Error addArchive(llvm::StringRef path);
  /// Layers an in-memory checkpoint (e.g. a fresh import) on top.
  void addCheckpoint(Checkpoint checkpoint);
  /// Archive paths in layering order, as given to addArchive.
  llvm::ArrayRef<std::string> archivePaths() const { return paths; }

  /// The layer added as archive `path` (as given to addArchive), or null.
  const Checkpoint *archive(llvm::StringRef path) const;

  /// The `index`-th layer (0: bottom).
  const Checkpoint *checkpoint(size_t index) const {
    return index < layers.size() ? layers[index].get() : nullptr;
  }

  /// The tensor named `name`: pending first, then the newest archive.
  const TensorView *lookup(llvm::StringRef name) const;

  /// Creates or replaces the pending tensor `name`.
  void setPending(llvm::StringRef name, DType dtype,
                  llvm::ArrayRef<int64_t> shape, std::vector<uint8_t> bytes);
  /// Same from float32 or float64 values.
  void setPending(llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                  llvm::ArrayRef<float> values);
  void setPending(llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                  llvm::ArrayRef<double> values);
  bool hasPending() const { return !pending.empty(); }
  std::vector<std::string> pendingNames() const;

  /// Writes the pending tensors (only those in `keep`, when given) as a
  /// parameter archive at `path`, carrying the config of the bottom archive;
  /// atomically, or staged in `outputs` when given. With `withTopArchive`
  /// With `carry` (one of the layers) the archive also holds every tensor
  /// (and the tokenizer) of that layer that no written tensor replaces, so
  /// that it can take that layer's place.
  llvm::Error writePending(llvm::StringRef path,
                           const std::vector<std::string> *keep = nullptr,
                           OutputSet *outputs = nullptr,
                           const Checkpoint *carry = nullptr) const;

  /// Model config and tokenizer of the bottom-most archive that has them.
  const ModelConfig *config() const;
  const TokenizerData *tokenizer() const;

private:
  struct PendingTensor {
    TensorView view;
    std::vector<uint8_t> bytes;
  };
  std::string baseDir;
  std::vector<std::string> paths;
  std::vector<std::unique_ptr<Checkpoint>> layers;
  std::map<std::string, std::unique_ptr<PendingTensor>> pending;
};

} // namespace respin

#endif // RESPIN_FORMATS_PARAMETERSET_H
