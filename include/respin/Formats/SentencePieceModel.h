//===- SentencePieceModel.h - tokenizer.model (SentencePiece) --*- C++ -*-===//
//
// Reads the SentencePiece model protobuf (tokenizer.model of Llama-2,
// Mistral and TinyLlama checkpoints) into SentencePieceBPE TokenizerData,
// with a small protobuf wire-format reader of just the fields respin needs
// rather than libprotobuf: the schema has not changed in years, the reader
// is ~200 lines without a generated-code build step or a new dependency for
// CI, and every length and offset is bounds-checked (fuzz-tested).
//
// Fields read: ModelProto.pieces (piece, score, type), trainer_spec
// (model_type, unk/bos/eos ids, byte_fallback), normalizer_spec (name,
// add_dummy_prefix, remove_extra_whitespaces). Unigram models and
// normalizers other than "identity" are refused (the encoder is BPE and does
// not normalize); unknown fields are skipped.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_SENTENCEPIECEMODEL_H
#define RESPIN_FORMATS_SENTENCEPIECEMODEL_H

#include "respin/Formats/TokenizerData.h"

namespace respin {

/// Parses the bytes of a tokenizer.model; errors name `source`.
llvm::Expected<TokenizerData> parseSentencePieceModel(llvm::StringRef bytes,
                                                      llvm::StringRef source);

/// Reads and parses the file at `path`.
llvm::Expected<TokenizerData> loadSentencePieceModel(llvm::StringRef path);

} // namespace respin

#endif // RESPIN_FORMATS_SENTENCEPIECEMODEL_H
