//===- Checkpoint.h - Format-independent LLaMA-family checkpoint -*- C++ -*-===//
//
// Every importer (GGUF, llama2.c, Hugging Face directories, respin parameter
// archives) produces a Checkpoint: the architecture hyper-parameters, the
// tokenizer when the file carries one, and the weights under canonical
// Hugging Face names ("model.layers.3.self_attn.q_proj.weight", ...).
//
// Weight layout convention (all formats are normalised to it):
//   linear weights are [out_features, in_features] row-major (y = W x);
//   embeddings are [vocab, dim]; norm gains are [dim]; biases are [out].
// RoPE layout is recorded, not converted: GGUF and llama2.c keep the
// interleaved (adjacent pair) layout, HF checkpoints the half-split layout.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_CHECKPOINT_H
#define RESPIN_FORMATS_CHECKPOINT_H

#include "respin/Formats/Tensor.h"
#include "respin/Formats/TokenizerData.h"

#include "llvm/Support/MemoryBuffer.h"

#include <map>
#include <memory>

namespace respin {

/// How RoPE pairs the rotary dimensions of a head.
enum class RopeLayout {
  /// (x[2i], x[2i+1]) rotate together: Meta/llama2.c/GGUF "normal" mode.
  Interleaved,
  /// (x[i], x[i + rot/2]) rotate together: Hugging Face `rotate_half`.
  HalfSplit,
};

/// Llama-3 style frequency scaling ("rope_type": "llama3").
struct RopeScaling {
  double factor = 8.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 8192;
};

/// Hyper-parameters of a LLaMA-family decoder.
struct ModelConfig {
  std::string architecture = "llama"; ///< "llama", "mistral", "qwen2", ...
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t vocabSize = 0;
  int64_t maxPositions = 0; ///< training context; 0 when unknown
  double ropeTheta = 10000.0;
  int64_t rotaryDim = 0; ///< usually headDim
  RopeLayout ropeLayout = RopeLayout::Interleaved;
  std::optional<RopeScaling> ropeScaling;
  double rmsNormEps = 1e-5;
  bool tiedEmbeddings = false; ///< lm_head shares model.embed_tokens.weight
  bool attentionBias = false;  ///< q/k/v projections carry biases (Qwen2)

  /// Checks internal consistency (positive sizes, heads divide, rotary dim
  /// even and <= head dim); the error names `source` and the bad field.
  llvm::Error validate(llvm::StringRef source) const;
};

/// Canonical tensor names for layer `layer` (Hugging Face naming).
namespace names {
std::string embedTokens();                      // model.embed_tokens.weight
std::string finalNorm();                        // model.norm.weight
std::string lmHead();                           // lm_head.weight
std::string layer(int64_t layer, llvm::StringRef suffix);
// suffixes: input_layernorm.weight, self_attn.{q,k,v,o}_proj.weight,
// self_attn.{q,k,v}_proj.bias, post_attention_layernorm.weight,
// mlp.{gate,up,down}_proj.weight
} // namespace names

/// A loaded checkpoint. Tensor bytes point into `storage`.
struct Checkpoint {
  /// File or directory the checkpoint was loaded from (for diagnostics).
  std::string source;
  ModelConfig config;
  std::optional<TokenizerData> tokenizer;
  std::map<std::string, TensorView> tensors;
  /// Keeps the mapped files and converted buffers alive.
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> mappedFiles;
  std::vector<std::vector<uint8_t>> ownedBuffers;

  /// Looks up a tensor; error names the tensor and `source` when missing.
  llvm::Expected<const TensorView *> get(llvm::StringRef name) const;

  /// Checks that every tensor the config requires exists with the expected
  /// shape, that no unexpected tensor is left over, and that all values are
  /// finite. Errors name the tensor, the expected and the actual shape.
  llvm::Error validate(llvm::StringRef source) const;
};

} // namespace respin

#endif // RESPIN_FORMATS_CHECKPOINT_H
