//===- Llama2c.h - llama2.c checkpoint and tokenizer reader ----*- C++ -*-===//
//
// llama2.c "v0" checkpoints: seven int32 (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate
// classifier follows), then float32 tensors in this order: token embedding
// [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim],
// wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim],
// w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
// freq_cis_real/imag [seq, head_dim/2] (unused: RoPE is computed), and
// wcls [vocab, dim] when not shared. The file size must match exactly.
//
// llama2.c tokenizer.bin: int32 max_token_length, then per token: float32
// score, int32 byte length, the bytes (spaces are spelled as ' ').
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_LLAMA2C_H
#define RESPIN_FORMATS_LLAMA2C_H

#include "respin/Formats/Checkpoint.h"

namespace respin {

/// Loads a llama2.c checkpoint; when `tokenizerPath` is non-empty, also the
/// tokenizer (its vocabulary size must equal the model's).
llvm::Expected<Checkpoint> loadLlama2cCheckpoint(llvm::StringRef path,
                                                 llvm::StringRef tokenizerPath);

/// Reads a llama2.c tokenizer.bin holding `vocabSize` tokens. Token spelling is
/// converted to SentencePiece form (' ' -> U+2581) and ids follow the llama
/// convention (0 <unk>, 1 <s>, 2 </s>, 3..258 byte tokens <0x00>..<0xFF>).
llvm::Expected<TokenizerData> loadLlama2cTokenizer(llvm::StringRef path,
                                                   int64_t vocabSize);

} // namespace respin

#endif // RESPIN_FORMATS_LLAMA2C_H
