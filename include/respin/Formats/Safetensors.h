//===- Safetensors.h - safetensors reader and writer -----------*- C++ -*-===//
//
// The safetensors format: an 8-byte little-endian header length N, N bytes of
// UTF-8 JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then the data section. The reader maps
// the file and validates every field (offsets inside the data section, no
// overlaps, byte size == elements * dtype size, no overflow); the writer
// streams tensors to a temporary file and renames it into place.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_SAFETENSORS_H
#define RESPIN_FORMATS_SAFETENSORS_H

#include "respin/Formats/OutputSet.h"
#include "respin/Formats/Tensor.h"

#include "llvm/Support/MemoryBuffer.h"

#include <functional>
#include <map>
#include <memory>

namespace respin {

/// A validated, memory-mapped safetensors file.
class SafetensorsFile {
public:
  /// Maps and validates `path`. Errors name the file and the offending
  /// tensor or field.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);

  llvm::StringRef path() const { return filePath; }
  /// Tensors in file order.
  llvm::ArrayRef<TensorView> tensors() const { return tensorList; }
  /// nullptr when absent.
  const TensorView *lookup(llvm::StringRef name) const;
  const std::map<std::string, std::string> &metadata() const { return meta; }
  /// Hands the mapping to a longer-lived owner (e.g. a Checkpoint); the
  /// TensorViews stay valid.
  std::unique_ptr<llvm::MemoryBuffer> takeBuffer() { return std::move(buffer); }

private:
  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorView> tensorList;
  std::map<std::string, size_t> tensorIndex; ///< name -> tensorList index
  std::map<std::string, std::string> meta;
};

/// Collects tensors and writes a safetensors file atomically (temp + rename).
/// Tensor bytes are not copied: the caller keeps them alive until write().
class SafetensorsWriter {
public:
  void setMetadata(llvm::StringRef key, llvm::StringRef value);
  /// Adds a tensor whose bytes live elsewhere. Names must be unique.
  void addTensor(llvm::StringRef name, DType dtype,
                 llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<uint8_t> bytes);
  /// Adds a tensor whose bytes the writer owns.
  void addTensor(llvm::StringRef name, DType dtype,
                 llvm::ArrayRef<int64_t> shape, std::vector<uint8_t> bytes);
  /// Writes the file; on failure the previous file at `path` is untouched.
  llvm::Error write(llvm::StringRef path) const;
  /// Stages the file in `outputs` (committed with the run's other outputs).
  llvm::Error write(llvm::StringRef path, OutputSet &outputs,
                    llvm::StringRef role) const;

private:
  /// Checks the entries, then streams the file to `os`.
  llvm::Error writeTo(llvm::StringRef path, llvm::raw_ostream &os) const;

  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    llvm::ArrayRef<uint8_t> bytes;
    std::shared_ptr<std::vector<uint8_t>> owned;
  };
  void addEntry(Entry entry);

  std::vector<Entry> entries;
  std::map<std::string, std::string> meta;
  /// First name added twice; reported by write() (addTensor cannot fail).
  std::string duplicateName;
};

} // namespace respin

#endif // RESPIN_FORMATS_SAFETENSORS_H
