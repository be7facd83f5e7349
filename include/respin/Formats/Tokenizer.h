//===- Tokenizer.h - Text <-> token ids ------------------------*- C++ -*-===//
//
// Encodes and decodes text for a TokenizerData:
//  - SentencePieceBPE: the SentencePiece BPE algorithm as LLaMA uses it:
//    spaces become U+2581, a U+2581 dummy prefix is prepended, every UTF-8
//    character becomes its token (or its <0xXX> byte tokens when absent), then
//    the adjacent pair whose merged string is a token with the highest score
//    is merged (leftmost on ties) until no pair merges.
//  - ByteLevelBPE: GPT-2 byte-to-unicode mapping, regex pre-tokenisation,
//    rank-ordered merges.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_TOKENIZER_H
#define RESPIN_FORMATS_TOKENIZER_H

#include "respin/Formats/TokenizerData.h"

#include <memory>
#include <unordered_map>

namespace respin {

class Tokenizer {
public:
  /// Validates the data (ids in range, byte tokens present for
  /// SentencePieceBPE, merges well formed for ByteLevelBPE).
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  create(TokenizerData data);

  /// Token ids of `text`, with BOS first when `addBos`.
  std::vector<int32_t> encode(llvm::StringRef text, bool addBos) const;
  /// Text of `ids` (byte tokens reassembled into UTF-8, leading dummy space of
  /// the first piece dropped, control tokens skipped).
  std::string decode(llvm::ArrayRef<int32_t> ids) const;
  /// Text that token `id` adds when it follows `previous` (for streaming).
  std::string decodeToken(int32_t previous, int32_t id) const;

  int32_t bosId() const { return data.bosId; }
  int32_t eosId() const { return data.eosId; }
  int64_t vocabSize() const { return (int64_t)data.tokens.size(); }
  const TokenizerData &getData() const { return data; }

private:
  explicit Tokenizer(TokenizerData data);
  TokenizerData data;
  std::unordered_map<std::string, int32_t> tokenIds;
  std::unordered_map<std::string, int32_t> mergeRanks;
};

} // namespace respin

#endif // RESPIN_FORMATS_TOKENIZER_H
