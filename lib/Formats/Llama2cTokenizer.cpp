//===- Llama2cTokenizer.cpp - llama2.c tokenizer.bin reader ---------------===//
//
// Reads llama2.c's tokenizer.bin (int32 max_token_length, then per token a
// float32 score, an int32 byte length and the bytes) into SentencePiece form:
// the spelling, ids and token types that GGUF files carry for the same
// vocabulary, so both sources give identical TokenizerData.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/Llama2c.h"
#include "respin/Formats/InputFile.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace respin;

namespace {

/// SentencePiece spells the space as U+2581 LOWER ONE EIGHTH BLOCK.
constexpr llvm::StringLiteral kSpaceMark = "\xE2\x96\x81";

/// Longest token length accepted in the header; llama2.c vocabularies use
/// tens of bytes, so anything larger means a corrupt or foreign file.
constexpr int32_t kMaxTokenLength = 1 << 16;

llvm::Error fileError(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: %s",
                                 path.str().c_str(), what.str().c_str());
}

/// Little-endian reader over the file that reports truncation.
class Reader {
public:
  explicit Reader(llvm::StringRef bytes) : bytes(bytes) {}
  size_t offset() const { return pos; }
  size_t remaining() const { return bytes.size() - pos; }
  template <typename T> bool read(T &value) {
    if (remaining() < sizeof(T))
      return false;
    std::memcpy(&value, bytes.data() + pos, sizeof(T));
    pos += sizeof(T);
    return true;
  }
  bool readBytes(size_t n, llvm::StringRef &out) {
    if (remaining() < n)
      return false;
    out = bytes.substr(pos, n);
    pos += n;
    return true;
  }

private:
  llvm::StringRef bytes;
  size_t pos = 0;
};

/// "<0xXX>" byte-fallback spelling.
bool isByteToken(llvm::StringRef token) {
  return token.size() == 6 && token.starts_with("<0x") &&
         token.ends_with(">") && llvm::isHexDigit(token[3]) &&
         llvm::isHexDigit(token[4]);
}

/// llama2.c stores BOS/EOS as "\n<s>\n" and "\n</s>\n"; GGUF as "<s>"/"</s>".
std::string normaliseSpelling(llvm::StringRef raw, int64_t id) {
  if ((id == 1 && raw == "\n<s>\n") || (id == 2 && raw == "\n</s>\n"))
    return raw.trim("\n").str();
  std::string token;
  token.reserve(raw.size());
  for (char c : raw) {
    if (c == ' ')
      token += kSpaceMark;
    else
      token += c;
  }
  return token;
}

/// GGUF token type for the llama id convention.
int32_t tokenTypeOf(llvm::StringRef token, int64_t id) {
  if (id == 0)
    return 2; // unknown
  if (id == 1 || id == 2)
    return 3; // control
  return isByteToken(token) ? 6 : 1;
}

} // namespace

llvm::Expected<TokenizerData>
respin::loadLlama2cTokenizer(llvm::StringRef path, int64_t vocabSize) {
  if (vocabSize < 3 || vocabSize > INT32_MAX)
    return fileError(path, "invalid vocabulary size " +
                               llvm::Twine(vocabSize) +
                               " for a llama2.c tokenizer");
  auto buffer = readInputFile(path);
  if (!buffer)
    return buffer.takeError();
  Reader reader((*buffer)->getBuffer());

  int32_t maxTokenLength = 0;
  if (!reader.read(maxTokenLength))
    return fileError(path, "truncated tokenizer header (max_token_length)");
  if (maxTokenLength <= 0 || maxTokenLength > kMaxTokenLength)
    return fileError(path, "implausible max_token_length " +
                               llvm::Twine(maxTokenLength));

  TokenizerData data;
  data.kind = TokenizerData::Kind::SentencePieceBPE;
  data.tokens.reserve(vocabSize);
  data.scores.reserve(vocabSize);
  data.tokenTypes.reserve(vocabSize);
  for (int64_t id = 0; id < vocabSize; ++id) {
    float score = 0;
    int32_t length = 0;
    llvm::StringRef raw;
    if (!reader.read(score) || !reader.read(length))
      return fileError(path, "truncated at token " + llvm::Twine(id) +
                                 " of " + llvm::Twine(vocabSize) +
                                 " (offset " + llvm::Twine(reader.offset()) +
                                 ")");
    if (length < 0 || length > maxTokenLength)
      return fileError(path, "token " + llvm::Twine(id) + " of " +
                                 llvm::Twine(vocabSize) + " has length " +
                                 llvm::Twine(length) +
                                 " outside [0, max_token_length " +
                                 llvm::Twine(maxTokenLength) + "]");
    if (!reader.readBytes(length, raw))
      return fileError(path, "token " + llvm::Twine(id) + " of " +
                                 llvm::Twine(vocabSize) + " (length " +
                                 llvm::Twine(length) +
                                 ") runs past the end of the file");
    std::string token = normaliseSpelling(raw, id);
    data.tokenTypes.push_back(tokenTypeOf(token, id));
    data.tokens.push_back(std::move(token));
    data.scores.push_back(score);
  }
  if (reader.remaining() != 0)
    return fileError(path, llvm::Twine(reader.remaining()) +
                               " trailing bytes after " +
                               llvm::Twine(vocabSize) +
                               " tokens (vocabulary size mismatch?)");
  data.unkId = 0;
  data.bosId = 1;
  data.eosId = 2;
  data.addBos = true;
  return data;
}
