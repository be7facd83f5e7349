//===- TokenizerTest.cpp - Tokenizer readers, encode/decode, JSON ---------===//
//
// SentencePiece BPE against the real llama2.c tokenizers (tok512.bin, the
// vocabulary of stories260K, and the 32000-token Llama-2 one): known ids,
// round trips, the EVALUATION.md token count and encoding speed. Byte-level
// BPE against small tokenizer.json files written here, its pre-tokenizers
// against expectations produced with the reference regexes. TokenizerData
// JSON round trips, and errors for malformed inputs.
//
// Expected id sequences were cross-checked outside this project: Llama-2
// ones with SentencePiece's spm_encode on llama2_tokenizer.model, tok512 ones
// with a naive quadratic re-implementation of llama2.c's encoder.
//
//===----------------------------------------------------------------------===//

#include "FormatsTestUtil.h"

#include "respin/Formats/GGUF.h"
#include "respin/Formats/HFCheckpoint.h"
#include "respin/Formats/Llama2c.h"
#include "respin/Formats/Tokenizer.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <limits>

using namespace respin;
using namespace respin::test;

namespace {

constexpr const char *kSpaceMark = "\xE2\x96\x81"; // U+2581

std::unique_ptr<Tokenizer> makeTokenizer(TokenizerData data) {
  auto tokenizer = Tokenizer::create(std::move(data));
  if (!tokenizer) {
    ADD_FAILURE() << llvm::toString(tokenizer.takeError());
    return nullptr;
  }
  return std::move(*tokenizer);
}

/// The llama2.c tokenizers, loaded once per process.
const Tokenizer &tok512() {
  static std::unique_ptr<Tokenizer> tokenizer = [] {
    auto data = loadLlama2cTokenizer(dataPath("tokenizers/tok512.bin"), 512);
    EXPECT_TRUE(!!data) << llvm::toString(data.takeError());
    return makeTokenizer(std::move(*data));
  }();
  return *tokenizer;
}

const Tokenizer &llama2() {
  static std::unique_ptr<Tokenizer> tokenizer = [] {
    auto data = loadLlama2cTokenizer(
        dataPath("tokenizers/llama2_tokenizer.bin"), 32000);
    EXPECT_TRUE(!!data) << llvm::toString(data.takeError());
    return makeTokenizer(std::move(*data));
  }();
  return *tokenizer;
}

std::string readText(llvm::StringRef relative) {
  auto buffer = llvm::MemoryBuffer::getFile(dataPath(relative));
  EXPECT_TRUE(!!buffer) << dataPath(relative);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

/// Token strings of `ids`, concatenated.
std::string spell(const Tokenizer &tokenizer, llvm::ArrayRef<int32_t> ids) {
  std::string text;
  for (int32_t id : ids)
    text += tokenizer.getData().tokens[id];
  return text;
}

/// A llama2.c tokenizer.bin image.
std::string llama2cImage(int32_t maxLength,
                         std::vector<std::pair<float, std::string>> tokens) {
  Bytes out;
  out.i32(maxLength);
  for (auto &[score, text] : tokens)
    out.f32(score).i32((int32_t)text.size()).raw(text);
  return out.text;
}

/// A minimal valid SentencePiece vocabulary: <unk> <s> </s>, the 256 byte
/// tokens, then `extra`.
TokenizerData smallSentencePiece(std::vector<std::string> extra) {
  TokenizerData data;
  data.tokens = {"<unk>", "<s>", "</s>"};
  data.tokenTypes = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    snprintf(buf, sizeof(buf), "<0x%02X>", b);
    data.tokens.push_back(buf);
    data.tokenTypes.push_back(6);
  }
  for (std::string &token : extra) {
    data.tokens.push_back(std::move(token));
    data.tokenTypes.push_back(1);
  }
  data.scores.assign(data.tokens.size(), 0.0f);
  data.unkId = 0;
  data.bosId = 1;
  data.eosId = 2;
  return data;
}

} // namespace

//===----------------------------------------------------------------------===//
// llama2.c tokenizer.bin
//===----------------------------------------------------------------------===//

TEST(Llama2cTokenizer, Tok512MatchesGGUFConventions) {
  const TokenizerData &data = tok512().getData();
  ASSERT_EQ(data.tokens.size(), 512u);
  EXPECT_EQ(data.kind, TokenizerData::Kind::SentencePieceBPE);
  EXPECT_EQ(data.tokens[0], "<unk>");
  EXPECT_EQ(data.tokens[1], "<s>"); // "\n<s>\n" in the file
  EXPECT_EQ(data.tokens[2], "</s>");
  EXPECT_EQ(data.tokens[3], "<0x00>");
  EXPECT_EQ(data.tokens[258], "<0xFF>");
  EXPECT_EQ(data.tokens[259], std::string(kSpaceMark) + "t"); // " t"
  EXPECT_EQ(data.tokens[260], "he");
  EXPECT_EQ(data.scores[260], -1.0f);
  EXPECT_EQ(data.tokenTypes[0], 2);
  EXPECT_EQ(data.tokenTypes[1], 3);
  EXPECT_EQ(data.tokenTypes[2], 3);
  EXPECT_EQ(data.tokenTypes[3], 6);
  EXPECT_EQ(data.tokenTypes[258], 6);
  EXPECT_EQ(data.tokenTypes[259], 1);
  EXPECT_EQ(data.unkId, 0);
  EXPECT_EQ(data.bosId, 1);
  EXPECT_EQ(data.eosId, 2);
  EXPECT_TRUE(data.addBos);
  for (const std::string &token : data.tokens)
    EXPECT_EQ(token.find(' '), std::string::npos) << token;
}

TEST(Llama2cTokenizer, Llama2VocabularyLoads) {
  const TokenizerData &data = llama2().getData();
  ASSERT_EQ(data.tokens.size(), 32000u);
  EXPECT_EQ(data.tokens[15043], std::string(kSpaceMark) + "Hello");
  EXPECT_EQ(data.tokens[3186], std::string(kSpaceMark) + "world");
  EXPECT_EQ(data.tokens[13], "<0x0A>");
}

TEST(Llama2cTokenizer, GGUFTokenizerEqualsTok512) {
  auto checkpoint = loadGGUFCheckpoint(dataPath("models/stories260K.gguf"));
  ASSERT_TRUE(!!checkpoint) << llvm::toString(checkpoint.takeError());
  ASSERT_TRUE(checkpoint->tokenizer.has_value());
  const TokenizerData &gguf = *checkpoint->tokenizer;
  const TokenizerData &bin = tok512().getData();
  EXPECT_EQ(gguf.kind, bin.kind);
  EXPECT_EQ(gguf.tokens, bin.tokens);
  EXPECT_EQ(gguf.scores, bin.scores);
  EXPECT_EQ(gguf.tokenTypes, bin.tokenTypes);
  EXPECT_EQ(gguf.bosId, bin.bosId);
  EXPECT_EQ(gguf.eosId, bin.eosId);
  EXPECT_EQ(gguf.unkId, bin.unkId);
  EXPECT_EQ(gguf.addBos, bin.addBos);
}

TEST(Llama2cTokenizerMalformed, TruncatedFile) {
  TempDir dir;
  std::string path = dir.file("tok.bin");
  std::string full = readText("tokenizers/tok512.bin");
  writeFile(path, llvm::StringRef(full).take_front(2000));
  expectError(loadLlama2cTokenizer(path, 512), {path, "token", "of 512"});
  writeFile(path, llvm::StringRef(full).take_front(2));
  expectError(loadLlama2cTokenizer(path, 512), {path, "max_token_length"});
  writeFile(path, "");
  expectError(loadLlama2cTokenizer(path, 512), {path, "truncated"});
}

TEST(Llama2cTokenizerMalformed, VocabularySizeMismatch) {
  std::string path = dataPath("tokenizers/tok512.bin");
  // Fewer tokens in the file than asked for: names the missing index.
  expectError(loadLlama2cTokenizer(path, 513), {path, "token 512"});
  // More tokens in the file than asked for: trailing bytes.
  expectError(loadLlama2cTokenizer(path, 511), {path, "trailing"});
  expectError(loadLlama2cTokenizer(path, 0), {path, "vocabulary size"});
  expectError(loadLlama2cTokenizer(dataPath("tokenizers/nonexistent.bin"), 3),
              {"nonexistent.bin"});
}

TEST(Llama2cTokenizerMalformed, AbsurdLengths) {
  TempDir dir;
  std::string path = dir.file("tok.bin");
  std::vector<std::pair<float, std::string>> three = {
      {0, "<unk>"}, {0, "\n<s>\n"}, {0, "\n</s>\n"}};
  writeFile(path, llama2cImage(1 << 30, three));
  expectError(loadLlama2cTokenizer(path, 3), {path, "max_token_length"});
  writeFile(path, llama2cImage(-1, three));
  expectError(loadLlama2cTokenizer(path, 3), {path, "max_token_length"});

  // A token longer than max_token_length, and one running past the end.
  writeFile(path, llama2cImage(5, three));
  expectError(loadLlama2cTokenizer(path, 3), {path, "token 2", "length 6"});
  Bytes huge;
  huge.i32(16).f32(0).i32(1000000).raw("abc");
  writeFile(path, huge.text);
  expectError(loadLlama2cTokenizer(path, 3), {path, "token 0"});
  Bytes pastEnd;
  pastEnd.i32(16).f32(0).i32(10).raw("abc");
  writeFile(path, pastEnd.text);
  expectError(loadLlama2cTokenizer(path, 3),
              {path, "token 0", "past the end"});
  Bytes negative;
  negative.i32(16).f32(0).i32(-4);
  writeFile(path, negative.text);
  expectError(loadLlama2cTokenizer(path, 3), {path, "token 0", "-4"});

  // The same tokens with a sufficient max_token_length load.
  writeFile(path, llama2cImage(6, three));
  RESPIN_ASSERT_OK_AND_ASSIGN(data, loadLlama2cTokenizer(path, 3));
  EXPECT_EQ(data.tokens, (std::vector<std::string>{"<unk>", "<s>", "</s>"}));
}

//===----------------------------------------------------------------------===//
// SentencePiece BPE encode / decode
//===----------------------------------------------------------------------===//

TEST(SentencePiece, OnceUponATimeWithTok512) {
  std::vector<int32_t> ids = tok512().encode("Once upon a time", true);
  // <s> "▁Once" "▁upon" "▁a" "▁time"
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 403, 407, 261, 378}));
  std::string expected;
  for (const char *word : {"Once", "upon", "a", "time"})
    expected += std::string(kSpaceMark) + word;
  EXPECT_EQ(spell(tok512(), llvm::ArrayRef(ids).drop_front()), expected);
  EXPECT_EQ(tok512().decode(ids), "Once upon a time");
  EXPECT_EQ(tok512().encode("Once upon a time", false),
            (std::vector<int32_t>{403, 407, 261, 378}));
}

TEST(SentencePiece, KnownSentencesWithTok512) {
  EXPECT_EQ(
      tok512().encode(
          "Lily and Ben are friends. They like to play in the park.", true),
      (std::vector<int32_t>{1, 317, 269, 368, 302, 261, 276, 374, 419, 426,
                            342, 397, 354, 267, 337, 322, 265, 282, 295, 433,
                            426}));
  // "é" is a token of its own; 日本 and the emoji fall back to bytes.
  EXPECT_EQ(tok512().encode("h\xC3\xA9llo \xE6\x97\xA5\xE6\x9C\xAC "
                            "\xF0\x9F\x99\x82",
                            true),
            (std::vector<int32_t>{1, 270, 485, 306, 414, 410, 233, 154, 168,
                                  233, 159, 175, 410, 243, 162, 156, 133}));
  // Spaces, newline and tab: a "▁" per space, <0x0A>/<0x09> byte tokens.
  EXPECT_EQ(tok512().encode("  two  spaces\nnew line\ttab", true),
            (std::vector<int32_t>{1, 410, 410, 259, 424, 414, 410, 262, 427,
                                  412, 331, 419, 13, 416, 411, 424, 278, 271,
                                  411, 12, 413, 412, 430}));
}

TEST(SentencePiece, Llama2KnownIds) {
  EXPECT_EQ(llama2().encode("Hello world", true),
            (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(llama2().encode("Hello world", false),
            (std::vector<int32_t>{15043, 3186}));
  // spm_encode on llama2_tokenizer.model gives the same ids.
  EXPECT_EQ(llama2().encode("caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 "
                            "\xE2\x80\x9Cquoted\xE2\x80\x9D "
                            "\xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82",
                            false),
            (std::vector<int32_t>{274, 28059, 1055, 30085, 345, 813, 1346,
                                  339, 5715, 30024, 29871, 30325, 30346,
                                  29871, 243, 162, 156, 133}));
}

TEST(SentencePiece, EmptyTextAndBos) {
  EXPECT_EQ(tok512().encode("", true), (std::vector<int32_t>{1}));
  EXPECT_TRUE(tok512().encode("", false).empty());
  EXPECT_EQ(tok512().decode({1}), "");
  EXPECT_EQ(tok512().decode({1, 2}), "");
}

TEST(SentencePiece, RoundTrips) {
  const char *texts[] = {
      "Once upon a time, there was a little girl named Lily.",
      " leading space",
      "trailing space ",
      "  many   spaces  ",
      "line one\nline two\n\n\tindented\r\n",
      "caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xD0\x9F\xD1\x80\xD0\xB8",
      "emoji \xF0\x9F\x99\x82\xF0\x9F\x8E\x89!",
      "<s> literal </s> <unk> <0x41>",
      "\xFF invalid \xE6\x97 utf8 \xC3",
      "1234567890 !@#$%^&*()_+-=[]{};':\",./<>?",
  };
  for (const Tokenizer *tokenizer : {&tok512(), &llama2()}) {
    for (const char *text : texts) {
      std::vector<int32_t> ids = tokenizer->encode(text, true);
      EXPECT_EQ(ids.front(), 1);
      EXPECT_EQ(tokenizer->decode(ids), text) << tokenizer->vocabSize();
      EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, false)), text);
    }
  }
}

TEST(SentencePiece, LiteralControlSpellingIsNotAControlToken) {
  // "<s>" in text is three characters, never BOS.
  std::vector<int32_t> ids = llama2().encode("<s>", false);
  EXPECT_EQ(llvm::count(ids, 1), 0);
  EXPECT_EQ(llama2().decode(ids), "<s>");
}

TEST(SentencePiece, DecodeDropsDummyPrefixOnlyAtStart) {
  // 403 "▁Once", 407 "▁upon".
  EXPECT_EQ(tok512().decode({403, 407}), "Once upon");
  EXPECT_EQ(tok512().decode({1, 403, 407}), "Once upon");
  EXPECT_EQ(tok512().decode({1, 403, 1, 407}), "Onceupon");
  EXPECT_EQ(tok512().decodeToken(1, 407), "upon");
  EXPECT_EQ(tok512().decodeToken(403, 407), " upon");
  EXPECT_EQ(tok512().decodeToken(403, 2), "");  // EOS is silent
  EXPECT_EQ(tok512().decodeToken(403, 36), "!"); // <0x21>
  EXPECT_EQ(tok512().decodeToken(403, 600), ""); // out of range
}

TEST(SentencePiece, StreamingDecodeMatchesDecode) {
  std::string text = "Lily said, \"Look at the caf\xC3\xA9!\"\nBen smiled.";
  std::vector<int32_t> ids = tok512().encode(text, true);
  std::string streamed;
  for (size_t i = 1; i < ids.size(); ++i)
    streamed += tok512().decodeToken(ids[i - 1], ids[i]);
  EXPECT_EQ(streamed, text);
}

TEST(SentencePiece, MergesHighestScoreLeftmostFirst) {
  // Ids: 259 "▁", 260 "a", 261 "b", 262 "c", 263 "ab", 264 "bc".
  TokenizerData data = smallSentencePiece({kSpaceMark, "a", "b", "c", "ab",
                                           "bc"});
  data.scores[263] = -1;
  data.scores[264] = -2;
  auto abFirst = makeTokenizer(data);
  ASSERT_TRUE(abFirst);
  EXPECT_EQ(abFirst->encode("abc", false),
            (std::vector<int32_t>{259, 263, 262}));
  data.scores[264] = 0;
  auto bcFirst = makeTokenizer(data);
  ASSERT_TRUE(bcFirst);
  EXPECT_EQ(bcFirst->encode("abc", false),
            (std::vector<int32_t>{259, 260, 264}));
  // Equal scores: the leftmost pair wins ("bb" "b", not "b" "bb").
  auto ties = makeTokenizer(smallSentencePiece({kSpaceMark, "b", "bb"}));
  ASSERT_TRUE(ties);
  EXPECT_EQ(ties->encode("bbb", false), (std::vector<int32_t>{259, 261, 260}));
}

TEST(SentencePiece, VocabularyWithoutByteFallbackUsesUnk) {
  TokenizerData data;
  data.tokens = {"<unk>", "<s>", "</s>", kSpaceMark, "a"};
  data.scores.assign(5, 0.0f);
  data.tokenTypes = {2, 3, 3, 1, 1};
  data.unkId = 0;
  data.bosId = 1;
  data.eosId = 2;
  auto tokenizer = makeTokenizer(data);
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("a\xC3\xA9 a", true),
            (std::vector<int32_t>{1, 3, 4, 0, 3, 4}));
  // Without <unk> either, such a vocabulary cannot encode everything.
  data.unkId = -1;
  expectError(Tokenizer::create(data), {"<0x00>"});
}

TEST(SentencePiece, RoundTripsOneMegabyteOfWikiText) {
  // Speed is not asserted (no timing in tests); a release build takes about
  // 0.1 s here, while a quadratic encoder would take minutes.
  std::string text = readText("text/wikitext2-raw-test.txt");
  ASSERT_GT(text.size(), 1000000u);
  text.resize(1000000);
  std::vector<int32_t> ids = llama2().encode(text, true);
  EXPECT_GT(ids.size(), 200000u);
  EXPECT_EQ(llama2().decode(ids), text);
}

//===----------------------------------------------------------------------===//
// The evaluation protocol (EVALUATION.md)
//===----------------------------------------------------------------------===//

TEST(EvaluationProtocol, StoriesAndTokenCount) {
  std::string text = readText("text/tinystories-eval.txt");
  std::vector<std::string> stories = splitStories(text);
  ASSERT_EQ(stories.size(), 333u);
  EXPECT_TRUE(llvm::StringRef(stories.front()).starts_with("Lily and Ben"));
  size_t total = 0;
  for (const std::string &story : stories) {
    EXPECT_EQ(llvm::StringRef(story).trim().str(), story);
    std::vector<int32_t> ids = tok512().encode(story, true);
    EXPECT_EQ(ids.front(), 1);
    total += ids.size();
    EXPECT_EQ(tok512().decode(ids), story);
  }
  // The independent implementation cited in EVALUATION.md.
  EXPECT_EQ(total, 123910u);
}

TEST(EvaluationProtocol, SplitStoriesTrimsAndDropsEmpty) {
  EXPECT_EQ(splitStories("\n a \n<|endoftext|>\n\n<|endoftext|>\tb c\n"),
            (std::vector<std::string>{"a", "b c"}));
  EXPECT_TRUE(splitStories("").empty());
  EXPECT_EQ(splitStories("one"), (std::vector<std::string>{"one"}));
}

//===----------------------------------------------------------------------===//
// Byte-level BPE
//===----------------------------------------------------------------------===//

namespace {

/// GPT-2's byte -> code point table, written out independently here.
uint32_t gpt2CodePoint(unsigned byte) {
  unsigned next = 256;
  for (unsigned b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                     b >= 0xAE;
    uint32_t cp = printable ? b : next++;
    if (b == byte)
      return cp;
  }
  return 0;
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

std::string jsonQuote(llvm::StringRef s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

/// JSON-escaped regex texts as they appear in tokenizer.json files.
const char *kLlama3SplitJson =
    R"("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")";
const char *kQwen2SplitJson =
    R"("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")";

/// Ids 0..255: the byte characters; 256...: the merged tokens below.
const char *kMerged[] = {"he",     "ll",      "hell",     "hello", "\xC4\xA0w",
                         "or",     "\xC4\xA0wor", "\xC4\xA0worl",
                         "\xC4\xA0world", "12", "123", "'s", "el", "xyz"};
constexpr int32_t kHello = 259, kSpaceWorld = 264, k123 = 266, kApostropheS = 267,
                  kEl = 268, kXyz = 269, kBegin = 270, kEnd = 271, kCustom = 272;
const char *kMergeList[] = {"h e",           "l l",
                            "he ll",         "hell o",
                            "\xC4\xA0 w",    "o r",
                            "\xC4\xA0w or",  "\xC4\xA0wor l",
                            "\xC4\xA0worl d", "1 2",
                            "12 3",          "' s",
                            "e l"};

struct JsonOptions {
  std::string preTokenizer = std::string(
      R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": )") +
      kLlama3SplitJson +
      R"(}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})";
  std::string postProcessor =
      R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]})";
  bool pairMerges = false;
  bool elFirst = false; ///< rank "e l" before everything else
};

std::string tokenizerJson(const JsonOptions &options) {
  std::string vocab;
  for (unsigned b = 0; b < 256; ++b)
    vocab += jsonQuote(utf8(gpt2CodePoint(b))) + ": " + std::to_string(b) +
             ", ";
  for (size_t i = 0; i < std::size(kMerged); ++i)
    vocab += jsonQuote(kMerged[i]) + ": " + std::to_string(256 + i) +
             (i + 1 < std::size(kMerged) ? ", " : "");
  std::vector<std::string> merges(std::begin(kMergeList),
                                  std::end(kMergeList));
  if (options.elFirst)
    std::rotate(merges.begin(), merges.end() - 1, merges.end());
  std::string mergeJson;
  for (size_t i = 0; i < merges.size(); ++i) {
    if (i)
      mergeJson += ", ";
    if (options.pairMerges) {
      auto [a, b] = llvm::StringRef(merges[i]).split(' ');
      mergeJson += "[" + jsonQuote(a) + ", " + jsonQuote(b) + "]";
    } else {
      mergeJson += jsonQuote(merges[i]);
    }
  }
  return R"({"version": "1.0", "added_tokens": [)"
         R"({"id": 270, "content": "<|begin_of_text|>", "special": true},)"
         R"({"id": 271, "content": "<|end_of_text|>", "special": true},)"
         R"({"id": 272, "content": "<custom>", "special": false}],)"
         R"("normalizer": null, "pre_tokenizer": )" +
         options.preTokenizer + R"(, "post_processor": )" +
         options.postProcessor +
         R"(, "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", )"
         R"("ignore_merges": true, "vocab": {)" +
         vocab + R"(}, "merges": [)" + mergeJson + "]}}";
}

std::unique_ptr<Tokenizer> loadJsonTokenizer(const TempDir &dir,
                                             const JsonOptions &options) {
  std::string path = dir.file("tokenizer.json");
  writeFile(path, tokenizerJson(options));
  auto data = loadHFTokenizerJson(path);
  if (!data) {
    ADD_FAILURE() << llvm::toString(data.takeError());
    return nullptr;
  }
  return makeTokenizer(std::move(*data));
}

using Pieces = std::vector<std::string>;

Pieces preTokens(llvm::StringRef text, llvm::StringRef kind) {
  Pieces pieces;
  for (llvm::StringRef piece : preTokenizeByteLevel(text, kind))
    pieces.push_back(piece.str());
  return pieces;
}

} // namespace

TEST(ByteLevel, GPT2ByteMapping) {
  // Space -> U+0120 "Ġ", newline -> U+010A "Ċ", printable ASCII unchanged.
  EXPECT_EQ(gpt2CodePoint(' '), 0x120u);
  EXPECT_EQ(gpt2CodePoint('\n'), 0x10Au);
  TempDir dir;
  auto tokenizer = loadJsonTokenizer(dir, JsonOptions());
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->getData().tokens[' '], "\xC4\xA0");
  EXPECT_EQ(tokenizer->encode(" ", false), (std::vector<int32_t>{' '}));
  EXPECT_EQ(tokenizer->encode("\n", false), (std::vector<int32_t>{'\n'}));
  EXPECT_EQ(tokenizer->decode({' ', '\n', 0xFF, 'A'}), " \n\xFF" "A");
}

TEST(ByteLevel, LoadsLlama3StyleJson) {
  TempDir dir;
  for (bool pairs : {false, true}) {
    JsonOptions options;
    options.pairMerges = pairs;
    std::string path = dir.file("tokenizer.json");
    writeFile(path, tokenizerJson(options));
    RESPIN_ASSERT_OK_AND_ASSIGN(data, loadHFTokenizerJson(path));
    EXPECT_EQ(data.kind, TokenizerData::Kind::ByteLevelBPE);
    EXPECT_EQ(data.tokens.size(), 273u);
    EXPECT_EQ(data.tokens[kHello], "hello");
    EXPECT_EQ(data.tokens[kCustom], "<custom>");
    EXPECT_EQ(data.merges.size(), std::size(kMergeList));
    EXPECT_EQ(data.merges[4], "\xC4\xA0 w");
    EXPECT_EQ(data.preTokenizer, "llama3");
    EXPECT_EQ(data.bosId, kBegin);
    EXPECT_EQ(data.eosId, kEnd);
    EXPECT_TRUE(data.addBos);
    EXPECT_EQ(data.tokenTypes[kBegin], 3);
    EXPECT_EQ(data.tokenTypes[kCustom], 4);
    EXPECT_EQ(data.tokenTypes['a'], 1);
  }
}

TEST(ByteLevel, EncodeAppliesMergesInRankOrder) {
  TempDir dir;
  auto tokenizer = loadJsonTokenizer(dir, JsonOptions());
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("hello world", true),
            (std::vector<int32_t>{kBegin, kHello, kSpaceWorld}));
  // "hellos" is no token: h e l l o s -> he ll -> hell -> hello, s.
  EXPECT_EQ(tokenizer->encode("hellos", false),
            (std::vector<int32_t>{kHello, 's'}));
  // Digits group by three (llama3); "'s" is a contraction piece.
  EXPECT_EQ(tokenizer->encode("it's 12345", false),
            (std::vector<int32_t>{'i', 't', kApostropheS, ' ', k123, '4', '5'}));

  // "xyz" is a token no merge builds: Llama-3 (ignore_merges) emits it whole.
  EXPECT_EQ(tokenizer->encode("xyz", false), (std::vector<int32_t>{kXyz}));

  // With "e l" ranked first the same word takes another path.
  JsonOptions elFirst;
  elFirst.elFirst = true;
  auto other = loadJsonTokenizer(dir, elFirst);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->encode("hellos", false),
            (std::vector<int32_t>{'h', kEl, 'l', 'o', 's'}));
}

TEST(ByteLevel, SpecialTokensMatchLiterally) {
  TempDir dir;
  auto tokenizer = loadJsonTokenizer(dir, JsonOptions());
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("hello<|end_of_text|>hello<custom>", false),
            (std::vector<int32_t>{kHello, kEnd, kHello, kCustom}));
  // An incomplete special is ordinary text.
  std::vector<int32_t> partial = tokenizer->encode("<|end_of_text", false);
  EXPECT_EQ(llvm::count(partial, kEnd), 0);
  EXPECT_EQ(tokenizer->decode(partial), "<|end_of_text");
  // Control tokens decode to nothing, user-defined ones to their text.
  EXPECT_EQ(tokenizer->decode({kBegin, kHello, kEnd, kCustom, kSpaceWorld}),
            "hello<custom> world");
}

TEST(ByteLevel, RoundTripsArbitraryBytes) {
  TempDir dir;
  auto tokenizer = loadJsonTokenizer(dir, JsonOptions());
  ASSERT_TRUE(tokenizer);
  for (const char *text :
       {"hello world", "  spaced   out  ", "line\nbreaks\r\n\n\ttab",
        "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82",
        "\xFF\xFE invalid \xC3", "I'M HERE, it's 1234567!", ""}) {
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, true)), text);
    std::vector<int32_t> ids = tokenizer->encode(text, true);
    std::string streamed;
    for (size_t i = 1; i < ids.size(); ++i)
      streamed += tokenizer->decodeToken(ids[i - 1], ids[i]);
    EXPECT_EQ(streamed, text);
  }
}

TEST(ByteLevel, DetectsPreTokenizerAndBos) {
  TempDir dir;
  std::string path = dir.file("tokenizer.json");
  struct Case {
    std::string preTokenizer, postProcessor, expected;
    bool addBos;
  } cases[] = {
      {std::string(
           R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": )") +
           kQwen2SplitJson +
           R"(}}, {"type": "ByteLevel", "use_regex": false}]})",
       R"({"type": "ByteLevel"})", "qwen2", false},
      {R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})",
       "null", "gpt2", false},
      {R"({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "use_regex": true}]})",
       "null", "smollm", false},
      {JsonOptions().preTokenizer,
       R"({"type": "Sequence", "processors": [{"type": "ByteLevel"}, )" +
           JsonOptions().postProcessor + "]}",
       "llama3", true},
  };
  for (const Case &c : cases) {
    JsonOptions options;
    options.preTokenizer = c.preTokenizer;
    options.postProcessor = c.postProcessor;
    writeFile(path, tokenizerJson(options));
    RESPIN_ASSERT_OK_AND_ASSIGN(data, loadHFTokenizerJson(path));
    EXPECT_EQ(data.preTokenizer, c.expected);
    EXPECT_EQ(data.addBos, c.addBos) << c.expected;
    // No template: BOS is the conventional token but is not added.
    EXPECT_EQ(data.bosId, kBegin);
    EXPECT_TRUE(!!Tokenizer::create(data));
  }
}

TEST(ByteLevel, Qwen2SplitsEveryDigit) {
  TempDir dir;
  JsonOptions options;
  options.preTokenizer =
      std::string(
          R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": )") +
      kQwen2SplitJson + R"(}}, {"type": "ByteLevel", "use_regex": false}]})";
  auto tokenizer = loadJsonTokenizer(dir, options);
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("123", false),
            (std::vector<int32_t>{'1', '2', '3'}));
  // Only Llama-3 ignores merges for whole-word tokens.
  EXPECT_EQ(tokenizer->encode("xyz", false),
            (std::vector<int32_t>{'x', 'y', 'z'}));
}

// Expected pieces below were produced with the reference regexes (Python's
// `regex` module; SmolLM: split every \p{N}, then the GPT-2 regex).
TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(preTokens("I'm here, it's 12345 apples!\n\n  ok", "llama3"),
            (Pieces{"I", "'m", " here", ",", " it", "'s", " ", "123", "45",
                    " apples", "!\n\n", " ", " ok"}));
  EXPECT_EQ(preTokens("DON'T you'LL we've", "llama3"),
            (Pieces{"DON", "'T", " you", "'LL", " we", "'ve"}));
  EXPECT_EQ(preTokens("HE'SAID it'sok O'REILLY'LL", "llama3"),
            (Pieces{"HE", "'S", "AID", " it", "'s", "ok", " O", "'RE", "ILLY",
                    "'LL"}));
  EXPECT_EQ(preTokens("a\n\nb", "llama3"), (Pieces{"a", "\n\n", "b"}));
  EXPECT_EQ(preTokens("Hello  world\r\n", "llama3"),
            (Pieces{"Hello", " ", " world", "\r\n"}));
  EXPECT_EQ(preTokens("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xC2\xBD", "llama3"),
            (Pieces{"caf\xC3\xA9", " \xE6\x97\xA5\xE6\x9C\xAC", " ",
                    "\xC2\xBD"}));
  EXPECT_EQ(preTokens("x = (y+1);\n\tz", "llama3"),
            (Pieces{"x", " =", " (", "y", "+", "1", ");\n", "\tz"}));
  EXPECT_EQ(preTokens("Hi!!\n  \nThere", "llama3"),
            (Pieces{"Hi", "!!\n", "  \n", "There"}));
  EXPECT_TRUE(preTokens("", "llama3").empty());
}

TEST(PreTokenizer, Qwen2) {
  EXPECT_EQ(preTokens("I'm here, it's 12345 apples!", "qwen2"),
            (Pieces{"I", "'m", " here", ",", " it", "'s", " ", "1", "2", "3",
                    "4", "5", " apples", "!"}));
  EXPECT_EQ(preTokens("ab 123", "qwen2"), (Pieces{"ab", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, GPT2) {
  EXPECT_EQ(preTokens("I'm here, it's 12345 apples!\n\n  ok", "gpt2"),
            (Pieces{"I", "'m", " here", ",", " it", "'s", " 12345", " apples",
                    "!", "\n\n ", " ok"}));
  // Contractions are case-sensitive here.
  EXPECT_EQ(preTokens("DON'T you'LL we've", "gpt2"),
            (Pieces{"DON", "'", "T", " you", "'", "LL", " we", "'ve"}));
  EXPECT_EQ(preTokens("HE'SAID it'sok O'REILLY'LL", "gpt2"),
            (Pieces{"HE", "'", "SAID", " it", "'s", "ok", " O", "'", "REILLY",
                    "'", "LL"}));
  EXPECT_EQ(preTokens("a\n\nb", "gpt2"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(preTokens("x = (y+1);\n\tz", "gpt2"),
            (Pieces{"x", " =", " (", "y", "+", "1", ");", "\n", "\t", "z"}));
  EXPECT_EQ(preTokens("Hi!!\n  \nThere", "gpt2"),
            (Pieces{"Hi", "!!", "\n  ", "\n", "There"}));
}

TEST(PreTokenizer, SmolLM) {
  EXPECT_EQ(preTokens("I'm here, it's 12345 apples!", "smollm"),
            (Pieces{"I", "'m", " here", ",", " it", "'s", " ", "1", "2", "3",
                    "4", "5", " apples", "!"}));
  EXPECT_EQ(preTokens("caf\xC3\xA9 \xC2\xBD", "smollm"),
            (Pieces{"caf\xC3\xA9", " ", "\xC2\xBD"}));
}

TEST(PreTokenizer, PiecesCoverTheText) {
  std::string text = readText("text/tinystories-eval.txt").substr(0, 20000);
  text += "\xFF\xFE odd \xE2\x80 bytes";
  for (const char *kind : {"llama3", "qwen2", "gpt2", "smollm"}) {
    std::string joined;
    for (llvm::StringRef piece : preTokenizeByteLevel(text, kind)) {
      EXPECT_FALSE(piece.empty());
      joined += piece.str();
    }
    EXPECT_EQ(joined, text) << kind;
  }
}

// Pre-tokenisation is linear: the scans examine at most a few code points
// per code point of the text, for the inputs that used to be quadratic (long
// digit runs under llama3/qwen2, long "a a a" runs under smollm, long space
// runs) and for natural text. The work is counted, not timed; the small size
// runs first so that a quadratic scan fails quickly instead of running for
// minutes on the megabyte.
TEST(PreTokenizer, WorkIsLinearInTheText) {
  std::string story = readText("text/tinystories-eval.txt").substr(0, 4096);
  auto repeat = [](llvm::StringRef unit, size_t bytes) {
    std::string text;
    while (text.size() < bytes)
      text += unit.str();
    return text;
  };
  // At most: a run scanned, its unconsumed tail rescanned once, and the
  // backward search for a line break.
  constexpr size_t kStepsPerCodePoint = 4;
  for (size_t bytes : {size_t(16) << 10, size_t(1) << 20}) {
    const std::pair<const char *, std::string> inputs[] = {
        {"digits", repeat("0123456789", bytes)},
        {"a a a", repeat("a ", bytes)},
        {"spaces", "\n" + repeat(" ", bytes) + "x"},
        {"lines", repeat("\n \n  ", bytes)},
        {"story", repeat(story, bytes)}};
    for (const auto &[name, text] : inputs)
      for (const char *kind : {"llama3", "qwen2", "gpt2", "smollm"}) {
        size_t steps = 0;
        std::vector<llvm::StringRef> pieces =
            preTokenizeByteLevel(text, kind, &steps);
        ASSERT_LE(steps, kStepsPerCodePoint * text.size())
            << name << " under " << kind << ", " << text.size() << " bytes";
        ASSERT_FALSE(pieces.empty());
      }
  }
  // The long digit run still splits as the regexes say.
  std::string digits = repeat("0123456789", size_t(1) << 20);
  std::vector<llvm::StringRef> llama3 = preTokenizeByteLevel(digits, "llama3");
  EXPECT_EQ(llama3.size(), (digits.size() + 2) / 3); // \p{N}{1,3}
  EXPECT_EQ(llama3.front(), "012");
  EXPECT_EQ(preTokenizeByteLevel(digits, "qwen2").size(), digits.size());
}

//===----------------------------------------------------------------------===//
// tokenizer.json errors
//===----------------------------------------------------------------------===//

TEST(HFTokenizerMalformed, ErrorsNameFileAndField) {
  TempDir dir;
  std::string path = dir.file("tokenizer.json");
  std::string valid = tokenizerJson(JsonOptions());
  auto withReplaced = [&](llvm::StringRef from, llvm::StringRef to) {
    size_t pos = valid.find(from.str());
    EXPECT_NE(pos, std::string::npos) << from.str();
    std::string text = valid;
    if (pos != std::string::npos)
      text.replace(pos, from.size(), to.str());
    writeFile(path, text);
    return loadHFTokenizerJson(path);
  };

  writeFile(path, "{ not json");
  expectError(loadHFTokenizerJson(path), {path, "not valid JSON"});
  expectError(loadHFTokenizerJson(dir.file("missing.json")), {"missing.json"});
  expectError(withReplaced(R"("type": "BPE")", R"("type": "Unigram")"),
              {path, "model.type", "Unigram"});
  expectError(withReplaced(R"("vocab": {)", R"("vocab_": {)"),
              {path, "model.vocab"});
  expectError(withReplaced(R"("h": 104)", R"("h": -104)"),
              {path, "model.vocab", "'h'"});
  expectError(withReplaced(R"("merges": [)", R"("merges": [7, )"),
              {path, "model.merges[0]"});
  expectError(withReplaced(R"("merges": [)", R"("merges": [["a"], )"),
              {path, "model.merges[0]"});
  expectError(withReplaced(R"({"id": 270, )", R"({"id": "x", )"),
              {path, "added_tokens[0]"});
  expectError(withReplaced(R"(\\p{N}{1,3})", R"(\\p{N}{1,4})"),
              {path, "pre_tokenizer.pattern.Regex", "unsupported"});
  expectError(withReplaced(R"("type": "ByteLevel", "add_prefix_space")",
                           R"("type": "Metaspace", "add_prefix_space")"),
              {path, "pre_tokenizer", "Metaspace"});
}

//===----------------------------------------------------------------------===//
// Tokenizer::create validation
//===----------------------------------------------------------------------===//

TEST(TokenizerCreate, RejectsInconsistentData) {
  expectError(Tokenizer::create(TokenizerData()), {"empty vocabulary"});

  TokenizerData data = smallSentencePiece({"a"});
  data.bosId = (int32_t)data.tokens.size();
  expectError(Tokenizer::create(data), {"BOS id"});
  data = smallSentencePiece({"a"});
  data.scores.pop_back();
  expectError(Tokenizer::create(data), {"scores"});
  data = smallSentencePiece({"a"});
  data.tokenTypes.push_back(1);
  expectError(Tokenizer::create(data), {"token types"});
  data = smallSentencePiece({"a"});
  data.scores[5] = std::numeric_limits<float>::quiet_NaN();
  expectError(Tokenizer::create(data), {"token 5", "NaN"});

  TokenizerData bpe;
  bpe.kind = TokenizerData::Kind::ByteLevelBPE;
  bpe.tokens = {"a", "b", "ab"};
  bpe.preTokenizer = "gpt2";
  bpe.merges = {"a b"};
  EXPECT_TRUE(!!Tokenizer::create(bpe));
  bpe.merges = {"ab"};
  expectError(Tokenizer::create(bpe), {"merge 0", "two tokens"});
  bpe.merges = {"a c"};
  expectError(Tokenizer::create(bpe), {"merge 0", "'c'"});
  bpe.merges = {"b a"};
  expectError(Tokenizer::create(bpe), {"merge 0", "'ba'"});
  bpe.merges = {};
  bpe.preTokenizer = "bert";
  expectError(Tokenizer::create(bpe), {"pre-tokenizer", "bert"});
}

//===----------------------------------------------------------------------===//
// TokenizerData JSON
//===----------------------------------------------------------------------===//

namespace {

void expectSameData(const TokenizerData &a, const TokenizerData &b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.tokens, b.tokens);
  ASSERT_EQ(a.scores.size(), b.scores.size());
  for (size_t i = 0; i < a.scores.size(); ++i)
    EXPECT_TRUE(a.scores[i] == b.scores[i] ||
                (std::isnan(a.scores[i]) && std::isnan(b.scores[i])))
        << i;
  EXPECT_EQ(a.tokenTypes, b.tokenTypes);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.preTokenizer, b.preTokenizer);
  EXPECT_EQ(a.bosId, b.bosId);
  EXPECT_EQ(a.eosId, b.eosId);
  EXPECT_EQ(a.unkId, b.unkId);
  EXPECT_EQ(a.addBos, b.addBos);
}

} // namespace

TEST(TokenizerDataJson, RoundTripsRealVocabularies) {
  for (const Tokenizer *tokenizer : {&tok512(), &llama2()}) {
    std::string json = tokenizer->getData().toJson();
    RESPIN_ASSERT_OK_AND_ASSIGN(back, TokenizerData::fromJson(json, "test"));
    expectSameData(back, tokenizer->getData());
  }
  TempDir dir;
  auto byteLevel = loadJsonTokenizer(dir, JsonOptions());
  ASSERT_TRUE(byteLevel);
  std::string json = byteLevel->getData().toJson();
  EXPECT_NE(json.find(R"("kind":"byte-level-bpe")"), std::string::npos);
  RESPIN_ASSERT_OK_AND_ASSIGN(back, TokenizerData::fromJson(json, "test"));
  expectSameData(back, byteLevel->getData());
}

TEST(TokenizerDataJson, ArbitraryBytesAndNonFiniteScores) {
  TokenizerData data;
  data.tokens = {"plain", "\xFF\xFE", "\xE6\x97", std::string("nul\0x", 5), ""};
  data.scores = {0.5f, std::numeric_limits<float>::infinity(),
                 -std::numeric_limits<float>::infinity(),
                 std::numeric_limits<float>::quiet_NaN(), -1e-30f};
  data.tokenTypes = {1, 1, 1, 1, 5};
  data.bosId = -1;
  data.eosId = 4;
  data.addBos = false;
  std::string json = data.toJson();
  RESPIN_ASSERT_OK_AND_ASSIGN(back, TokenizerData::fromJson(json, "test"));
  expectSameData(back, data);
}

TEST(TokenizerDataJson, RejectsBadFields) {
  auto check = [](llvm::StringRef json,
                  std::initializer_list<llvm::StringRef> fragments) {
    expectError(TokenizerData::fromJson(json, "archive.safetensors"),
                fragments);
  };
  check("{", {"archive.safetensors", "not valid JSON"});
  check("[]", {"archive.safetensors", "object"});
  check(R"({"tokens": []})", {"archive.safetensors", "'kind'"});
  check(R"({"kind": "wordpiece", "tokens": []})", {"'kind'", "wordpiece"});
  check(R"({"kind": "sentencepiece-bpe"})", {"'tokens'"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a", 3]})",
        {"'tokens'", "element 1"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": [{"hex": "zz"}]})",
        {"'tokens'", "element 0"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a", "b"], "scores": [1]})",
        {"'scores'", "1 entries for 2 tokens"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a"], "scores": ["x"]})",
        {"'scores'", "element 0"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a"], "token_types": [1.5]})",
        {"'token_types'", "element 0"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a"], "token_types": [1, 1]})",
        {"'token_types'"});
  check(R"({"kind": "byte-level-bpe", "tokens": ["a"], "merges": "a b"})",
        {"'merges'"});
  check(R"({"kind": "byte-level-bpe", "tokens": ["a"], "merges": [1]})",
        {"'merges'", "element 0"});
  check(R"({"kind": "byte-level-bpe", "tokens": ["a"], "pre_tokenizer": 3})",
        {"'pre_tokenizer'"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a"], "bos_id": 1})",
        {"'bos_id'"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a"], "eos_id": "0"})",
        {"'eos_id'"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a"], "unk_id": -2})",
        {"'unk_id'"});
  check(R"({"kind": "sentencepiece-bpe", "tokens": ["a"], "add_bos": 1})",
        {"'add_bos'"});
  // Minimal valid document: defaults for the rest.
  auto minimal =
      TokenizerData::fromJson(R"({"kind": "byte-level-bpe", "tokens": ["a"]})",
                              "archive.safetensors");
  ASSERT_TRUE(!!minimal) << llvm::toString(minimal.takeError());
  EXPECT_EQ(minimal->kind, TokenizerData::Kind::ByteLevelBPE);
  EXPECT_EQ(minimal->bosId, -1);
  EXPECT_TRUE(minimal->addBos);
}
