//===- TokenizerData.h - Serialisable tokenizer description ----*- C++ -*-===//
//
// The data a tokenizer is built from, as found in GGUF metadata, llama2.c
// tokenizer.bin files or Hugging Face tokenizer.json files. It is stored in
// respin parameter archives (as JSON in the safetensors metadata) so that an
// imported model carries its own tokenizer.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_TOKENIZERDATA_H
#define RESPIN_FORMATS_TOKENIZERDATA_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace respin {

struct TokenizerData {
  enum class Kind {
    /// SentencePiece-style BPE with scores and <0xXX> byte fallback
    /// (LLaMA-1/2, TinyLlama, stories*). Tokens spell spaces as U+2581.
    SentencePieceBPE,
    /// GPT-2 style byte-level BPE with merges (Llama-3, Qwen2, SmolLM).
    ByteLevelBPE,
  };
  Kind kind = Kind::SentencePieceBPE;
  std::vector<std::string> tokens;
  std::vector<float> scores;       ///< SentencePieceBPE: merge priority
  std::vector<int32_t> tokenTypes; ///< GGUF token types (1 normal, 2 unknown,
                                   ///< 3 control, 4 user defined, 6 byte)
  std::vector<std::string> merges; ///< ByteLevelBPE: "a b" in rank order
  std::string preTokenizer;        ///< ByteLevelBPE: "llama3", "qwen2", "gpt2"
  int32_t bosId = -1;
  int32_t eosId = -1;
  int32_t unkId = -1;
  bool addBos = true;
  /// SentencePieceBPE: prepend U+2581 to the text before encoding (and drop
  /// the first piece's leading space when decoding), SentencePiece's
  /// add_dummy_prefix / Metaspace's prepend_scheme other than "never".
  bool addDummyPrefix = true;

  /// JSON encoding used inside parameter archives.
  std::string toJson() const;
  static llvm::Expected<TokenizerData> fromJson(llvm::StringRef json,
                                                llvm::StringRef source);
};

} // namespace respin

#endif // RESPIN_FORMATS_TOKENIZERDATA_H
