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

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <array>
#include <memory>
#include <unordered_map>

namespace respin {

class Tokenizer {
public:
  /// How ByteLevelBPE text is split before BPE (TokenizerData::preTokenizer
  /// "llama3", "qwen2", "gpt2" or "smollm"; see preTokenizeByteLevel).
  enum class PreTokenizer { Llama3, Qwen2, GPT2, SmolLM };

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
  llvm::Error initSentencePiece();
  llvm::Error initByteLevel();
  void encodeSentencePiece(llvm::StringRef text,
                           std::vector<int32_t> &ids) const;
  void encodeSentencePieceSegment(llvm::StringRef segment,
                                  std::vector<int32_t> &ids) const;
  void encodeByteLevel(llvm::StringRef text, std::vector<int32_t> &ids) const;
  void encodeByteLevelSegment(
      llvm::StringRef segment, std::vector<int32_t> &ids,
      std::unordered_map<std::string, std::vector<int32_t>> &cache) const;
  /// Id of `token` if the encoder may produce it from text, else -1.
  int32_t lookupMergeable(llvm::StringRef token) const;
  bool isControl(int32_t id) const;

  TokenizerData data;
  std::unordered_map<std::string, int32_t> tokenIds;
  std::unordered_map<std::string, int32_t> mergeRanks;
  /// The tokens the encoder may produce from text (normal or user-defined;
  /// not control, unknown, byte or unused ones), keyed for allocation-free
  /// lookups on the hot path.
  llvm::StringMap<int32_t> mergeableIds;
  /// Per id: the text it decodes to (SentencePiece U+2581 already turned
  /// into ' ', byte tokens as their raw byte, control tokens empty).
  std::vector<std::string> pieces;
  /// SentencePieceBPE: every pair of adjacent characters (code points,
  /// first << 32 | second) inside some mergeable token. No merge can join
  /// two characters that are not such a pair, so the text is encoded in
  /// independent segments split there (small heaps, fast).
  llvm::DenseSet<uint64_t> joinablePairs;
  /// SentencePieceBPE byte-fallback ids for <0x00>..<0xFF>; -1 if absent.
  std::array<int32_t, 256> byteTokens;
  /// ByteLevelBPE tokens matched literally in the input (added tokens),
  /// grouped by first byte, longest first.
  std::array<std::vector<int32_t>, 256> literalTokens;
  PreTokenizer preTokenizer = PreTokenizer::GPT2;
};

/// Splits `text` into the pre-tokens of a byte-level BPE tokenizer whose
/// pre-tokenizer is `kind` ("llama3", "qwen2", "gpt2" or "smollm"; llama.cpp's
/// "llama-bpe", "gpt-2" and "default" are accepted too, anything else splits as
/// "gpt2"); the pieces are consecutive and cover `text`. Exposed for tests;
/// `steps` receives the number of code points the scans examined (linear in
/// the text: at most a small multiple of its length).
std::vector<llvm::StringRef> preTokenizeByteLevel(llvm::StringRef text,
                                                  llvm::StringRef kind,
                                                  size_t *steps = nullptr);

/// Splits an evaluation corpus into stories as the perplexity protocol of
/// EVALUATION.md does: on "<|endoftext|>", each story trimmed of surrounding
/// whitespace, empty stories dropped. Each story is then encoded with BOS
/// (tinystories-eval.txt: 333 stories, 123,910 tokens with stories260K's
/// vocabulary, as the independent reference counts).
std::vector<std::string> splitStories(llvm::StringRef text);

} // namespace respin

#endif // RESPIN_FORMATS_TOKENIZER_H
