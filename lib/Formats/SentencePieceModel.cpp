//===- SentencePieceModel.cpp - tokenizer.model (SentencePiece) -----------===//
//
// Protobuf wire format: a message is a sequence of (key, value) with key =
// field_number << 3 | wire_type; wire types 0 varint, 1 fixed64, 2 length-
// delimited, 5 fixed32 (3/4, the deprecated groups, are refused).
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/SentencePieceModel.h"

#include "llvm/ADT/Twine.h"
#include <string>
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstring>

using namespace respin;

namespace {

enum WireType { Varint = 0, Fixed64 = 1, Length = 2, Fixed32 = 5 };

/// SentencePiece's TrainerSpec.ModelType.
constexpr uint64_t kModelTypeBPE = 2;

/// One field of a message.
struct Field {
  uint32_t number = 0;
  WireType type = Varint;
  uint64_t value = 0;    ///< varint / fixed values
  llvm::StringRef bytes; ///< length-delimited payload
};

/// Reads the fields of one message; every read is bounds-checked.
class MessageReader {
public:
  MessageReader(llvm::StringRef bytes, llvm::StringRef source,
                std::string message)
      : bytes(bytes), source(source), message(std::move(message)) {}

  bool atEnd() const { return pos == bytes.size(); }

  llvm::Expected<Field> next() {
    size_t start = pos;
    uint64_t key;
    if (!readVarint(key))
      return error(start, "truncated field key");
    Field field;
    field.number = uint32_t(key >> 3);
    if ((key >> 3) == 0 || (key >> 3) > (uint64_t(1) << 29))
      return error(start, "invalid field number " + llvm::Twine(key >> 3));
    switch (key & 7) {
    case Varint:
      field.type = Varint;
      if (!readVarint(field.value))
        return error(start, "truncated varint");
      return field;
    case Fixed64:
      field.type = Fixed64;
      if (!readFixed(8, field.value))
        return error(start, "truncated 64-bit value");
      return field;
    case Fixed32:
      field.type = Fixed32;
      if (!readFixed(4, field.value))
        return error(start, "truncated 32-bit value");
      return field;
    case Length: {
      field.type = Length;
      uint64_t length;
      if (!readVarint(length))
        return error(start, "truncated length");
      if (length > bytes.size() - pos)
        return error(start, "field " + llvm::Twine(field.number) +
                                " of length " + llvm::Twine(length) +
                                " runs past the end of its message (" +
                                llvm::Twine(bytes.size() - pos) +
                                " bytes left)");
      field.bytes = bytes.substr(pos, length);
      pos += length;
      return field;
    }
    default:
      return error(start, "unsupported wire type " + llvm::Twine(key & 7));
    }
  }

  llvm::Error error(size_t at, const llvm::Twine &what) const {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "%s: malformed SentencePiece model "
                                   "(%s, offset %zu): %s",
                                   source.str().c_str(), message.c_str(),
                                   at, what.str().c_str());
  }

private:
  bool readVarint(uint64_t &value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.size())
        return false;
      uint8_t byte = uint8_t(bytes[pos++]);
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        return true;
    }
    return false; // more than 10 bytes
  }
  bool readFixed(size_t size, uint64_t &value) {
    if (bytes.size() - pos < size)
      return false;
    value = 0;
    std::memcpy(&value, bytes.data() + pos, size); // little-endian host
    pos += size;
    return true;
  }

  llvm::StringRef bytes, source;
  std::string message; ///< owned: callers build it from temporaries
  size_t pos = 0;
};

llvm::Error fail(llvm::StringRef source, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: %s",
                                 source.str().c_str(), what.str().c_str());
}

/// A protobuf int32 (varint, negative values sign-extended to 64 bits).
int64_t asInt32(uint64_t value) { return int64_t(int32_t(uint32_t(value))); }

struct TrainerSpec {
  uint64_t modelType = 1; // UNIGRAM is the protobuf default
  int64_t unkId = 0, bosId = 1, eosId = 2;
};

struct NormalizerSpec {
  std::string name;
  bool addDummyPrefix = true;
  bool removeExtraWhitespaces = true;
};

llvm::Error readPiece(llvm::StringRef bytes, llvm::StringRef source,
                      size_t index, TokenizerData &data) {
  MessageReader reader(bytes, source, "pieces[" + std::to_string(index) + "]");
  std::string piece;
  float score = 0.0f;
  int32_t type = 1; // NORMAL
  while (!reader.atEnd()) {
    auto field = reader.next();
    if (!field)
      return field.takeError();
    if (field->number == 1 && field->type == Length)
      piece = field->bytes.str();
    else if (field->number == 2 && field->type == Fixed32) {
      uint32_t raw = uint32_t(field->value);
      std::memcpy(&score, &raw, 4);
    } else if (field->number == 3 && field->type == Varint)
      type = int32_t(field->value);
  }
  if (type < 1 || type > 6)
    return fail(source, "piece " + llvm::Twine(index) + " has unknown type " +
                            llvm::Twine(type));
  if (!std::isfinite(score))
    return fail(source,
                "piece " + llvm::Twine(index) + " has a non-finite score");
  data.tokens.push_back(std::move(piece));
  data.scores.push_back(score);
  data.tokenTypes.push_back(type);
  return llvm::Error::success();
}

llvm::Expected<TrainerSpec> readTrainerSpec(llvm::StringRef bytes,
                                            llvm::StringRef source) {
  MessageReader reader(bytes, source, "trainer_spec");
  TrainerSpec spec;
  while (!reader.atEnd()) {
    auto field = reader.next();
    if (!field)
      return field.takeError();
    if (field->type != Varint)
      continue;
    switch (field->number) {
    case 3:
      spec.modelType = field->value;
      break;
    case 40:
      spec.unkId = asInt32(field->value);
      break;
    case 41:
      spec.bosId = asInt32(field->value);
      break;
    case 42:
      spec.eosId = asInt32(field->value);
      break;
    default:
      break;
    }
  }
  return spec;
}

llvm::Expected<NormalizerSpec> readNormalizerSpec(llvm::StringRef bytes,
                                                  llvm::StringRef source) {
  MessageReader reader(bytes, source, "normalizer_spec");
  NormalizerSpec spec;
  while (!reader.atEnd()) {
    auto field = reader.next();
    if (!field)
      return field.takeError();
    if (field->number == 1 && field->type == Length)
      spec.name = field->bytes.str();
    else if (field->number == 3 && field->type == Varint)
      spec.addDummyPrefix = field->value != 0;
    else if (field->number == 4 && field->type == Varint)
      spec.removeExtraWhitespaces = field->value != 0;
  }
  return spec;
}

} // namespace

llvm::Expected<TokenizerData>
respin::parseSentencePieceModel(llvm::StringRef bytes, llvm::StringRef source) {
  MessageReader reader(bytes, source, "ModelProto");
  TokenizerData data;
  data.kind = TokenizerData::Kind::SentencePieceBPE;
  TrainerSpec trainer;
  NormalizerSpec normalizer;
  while (!reader.atEnd()) {
    auto field = reader.next();
    if (!field)
      return field.takeError();
    if (field->type != Length)
      continue;
    if (field->number == 1) {
      if (llvm::Error error =
              readPiece(field->bytes, source, data.tokens.size(), data))
        return std::move(error);
    } else if (field->number == 2) {
      auto spec = readTrainerSpec(field->bytes, source);
      if (!spec)
        return spec.takeError();
      trainer = *spec;
    } else if (field->number == 3) {
      auto spec = readNormalizerSpec(field->bytes, source);
      if (!spec)
        return spec.takeError();
      normalizer = *spec;
    }
  }
  if (data.tokens.empty())
    return fail(source, "the SentencePiece model has no pieces (is this a "
                        "tokenizer.model file?)");
  if (trainer.modelType != kModelTypeBPE)
    return fail(source, "SentencePiece model_type " +
                            llvm::Twine(trainer.modelType) +
                            " is not supported (only BPE = 2; unigram "
                            "models such as T5's are not)");
  if (!normalizer.name.empty() && normalizer.name != "identity")
    return fail(source, "SentencePiece normalizer '" + normalizer.name +
                            "' is not supported (only 'identity')");
  if (normalizer.removeExtraWhitespaces)
    return fail(source, "SentencePiece remove_extra_whitespaces=true is not "
                        "supported (the encoder keeps every space)");
  int64_t size = int64_t(data.tokens.size());
  const std::pair<int64_t, const char *> ids[] = {{trainer.unkId, "unk_id"},
                                                  {trainer.bosId, "bos_id"},
                                                  {trainer.eosId, "eos_id"}};
  for (auto [id, what] : ids)
    if (id < -1 || id >= size)
      return fail(source, llvm::Twine(what) + " " + llvm::Twine(id) +
                              " is outside the " + llvm::Twine(size) +
                              " pieces");
  data.unkId = int32_t(trainer.unkId);
  data.bosId = int32_t(trainer.bosId);
  data.eosId = int32_t(trainer.eosId);
  data.addBos = data.bosId >= 0;
  data.addDummyPrefix = normalizer.addDummyPrefix;
  return data;
}

llvm::Expected<TokenizerData>
respin::loadSentencePieceModel(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, "cannot read tokenizer: " + buffer.getError().message());
  return parseSentencePieceModel((*buffer)->getBuffer(), path);
}
