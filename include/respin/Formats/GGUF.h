//===- GGUF.h - GGUF (v2/v3) model file reader -----------------*- C++ -*-===//
//
// Reads the GGUF container used by llama.cpp: magic "GGUF", version 2 or 3,
// tensor count, metadata key/values (all scalar types, strings, arrays), the
// tensor infos, and the aligned data section (general.alignment, default 32).
// Only F32, F16 and BF16 tensors are supported; quantized tensors are reported
// as "unsupported GGUF tensor type Q4_K" naming the tensor.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_GGUF_H
#define RESPIN_FORMATS_GGUF_H

#include "respin/Formats/Checkpoint.h"

#include <variant>

namespace respin {

/// One GGUF metadata value. Arrays hold homogeneous element values.
struct GGUFValue {
  using Array = std::vector<GGUFValue>;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> value;

  std::optional<int64_t> asInt() const;    ///< any integer type in range
  std::optional<double> asFloat() const;   ///< float or integer
  const std::string *asString() const;
  const Array *asArray() const;
};

/// A validated, memory-mapped GGUF file.
class GGUFFile {
public:
  static llvm::Expected<std::unique_ptr<GGUFFile>> open(llvm::StringRef path);

  llvm::StringRef path() const { return filePath; }
  uint32_t version() const { return fileVersion; }
  const std::map<std::string, GGUFValue> &metadata() const { return meta; }
  const GGUFValue *lookup(llvm::StringRef key) const;
  /// Tensors in file order, shapes in row-major order (GGUF ne[] reversed,
  /// so a weight with ne = [in, out] becomes [out, in]).
  llvm::ArrayRef<TensorView> tensors() const { return tensorList; }
  std::unique_ptr<llvm::MemoryBuffer> takeBuffer() { return std::move(buffer); }

private:
  std::string filePath;
  uint32_t fileVersion = 0;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::map<std::string, GGUFValue> meta;
  std::vector<TensorView> tensorList;
};

/// Loads a llama-architecture GGUF model (general.architecture "llama",
/// "mistral", "qwen2"...) into canonical form, with its tokenizer
/// (tokenizer.ggml.model "llama" -> SentencePieceBPE, "gpt2" -> ByteLevelBPE).
/// RoPE layout: Interleaved for llama-style GGUFs (llama.cpp's converter
/// permutes Q/K into that layout), HalfSplit for qwen2 ("neox" rope).
llvm::Expected<Checkpoint> loadGGUFCheckpoint(llvm::StringRef path);

} // namespace respin

#endif // RESPIN_FORMATS_GGUF_H
