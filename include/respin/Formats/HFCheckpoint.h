//===- HFCheckpoint.h - Hugging Face checkpoint directories ----*- C++ -*-===//
//
// A Hugging Face model directory: config.json (model_type llama, mistral,
// qwen2, ... with hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, head_dim, rms_norm_eps,
// rope_theta, rope_scaling {rope_type: llama3, ...}, tie_word_embeddings,
// vocab_size, max_position_embeddings), weights in model.safetensors or in
// shards listed by model.safetensors.index.json ("weight_map"), and optionally
// tokenizer.json (byte-level BPE) or tokenizer.model.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_HFCHECKPOINT_H
#define RESPIN_FORMATS_HFCHECKPOINT_H

#include "respin/Formats/Checkpoint.h"

namespace respin {

/// Loads an HF checkpoint directory. RoPE layout is HalfSplit. Qwen2 gets
/// attentionBias = true (its q/k/v biases are required).
llvm::Expected<Checkpoint> loadHFCheckpoint(llvm::StringRef directory);

/// Parses an HF config.json text into a ModelConfig (errors name `source`
/// and the missing or ill-typed field).
llvm::Expected<ModelConfig> parseHFConfig(llvm::StringRef json,
                                          llvm::StringRef source);

/// Loads tokenizer.json (model.type "BPE" with byte-level pre-tokenizer).
llvm::Expected<TokenizerData> loadHFTokenizerJson(llvm::StringRef path);

} // namespace respin

#endif // RESPIN_FORMATS_HFCHECKPOINT_H
