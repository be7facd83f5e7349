//===- SentencePieceModelTest.cpp - tokenizer.model and SP tokenizer.json -===//
//
// The Llama-2 32000-token tokenizer through every path respin reads it from
// (llama2_tokenizer.bin, llama2_tokenizer.model, and tokenizer.json files in
// the two Hugging Face layouts, written here from the vocabulary the way
// transformers' converter does: merges of every split of a token into two
// tokens, by decreasing score of the merged token) gives identical ids on
// the evaluation text and WikiText-2. The protobuf reader is checked against
// a message written by hand, and fuzzed (truncations, byte flips).
//
//===----------------------------------------------------------------------===//

#include "FormatsTestUtil.h"

#include "respin/Formats/HFCheckpoint.h"
#include "respin/Formats/Llama2c.h"
#include "respin/Formats/SentencePieceModel.h"
#include "respin/Formats/Tokenizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

using namespace respin;
using namespace respin::test;
using json = nlohmann::json;

namespace {

constexpr const char *kSpaceMark = "\xE2\x96\x81";

std::unique_ptr<Tokenizer> build(llvm::Expected<TokenizerData> data) {
  if (!data) {
    ADD_FAILURE() << llvm::toString(data.takeError());
    return nullptr;
  }
  auto tokenizer = Tokenizer::create(std::move(*data));
  if (!tokenizer) {
    ADD_FAILURE() << llvm::toString(tokenizer.takeError());
    return nullptr;
  }
  return std::move(*tokenizer);
}

std::string readText(llvm::StringRef relative) {
  auto buffer = llvm::MemoryBuffer::getFile(dataPath(relative));
  EXPECT_TRUE(!!buffer) << dataPath(relative);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

size_t codePoints(const std::string &s) {
  size_t n = 0;
  for (char c : s)
    n += (uint8_t(c) & 0xC0) != 0x80;
  return n;
}

/// A tokenizer.json in the Hugging Face layout for the SentencePiece
/// vocabulary `sp`: `metaspace` selects the Metaspace pre-tokenizer layout
/// (Mistral, newer conversions), otherwise the Prepend/Replace normalizer
/// layout of the Llama-2 repository.
std::string hfTokenizerJson(const TokenizerData &sp, bool metaspace) {
  json vocab = json::object(), added = json::array(), merges = json::array();
  std::map<std::string, int32_t> idOf;
  for (size_t id = 0; id < sp.tokens.size(); ++id) {
    vocab[sp.tokens[id]] = id;
    idOf.emplace(sp.tokens[id], int32_t(id));
    if (sp.tokenTypes[id] == 2 || sp.tokenTypes[id] == 3)
      added.push_back({{"id", id},
                       {"content", sp.tokens[id]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}});
  }
  struct Merge {
    float score;
    int32_t left, right;
    std::string text;
  };
  std::vector<Merge> list;
  for (size_t id = 0; id < sp.tokens.size(); ++id) {
    const std::string &token = sp.tokens[id];
    if (sp.tokenTypes[id] != 1 || codePoints(token) < 2)
      continue;
    for (size_t cut = 1; cut < token.size(); ++cut) {
      if ((uint8_t(token[cut]) & 0xC0) == 0x80)
        continue; // inside a character
      auto l = idOf.find(token.substr(0, cut)),
           r = idOf.find(token.substr(cut));
      if (l != idOf.end() && r != idOf.end())
        list.push_back({sp.scores[id], l->second, r->second,
                        token.substr(0, cut) + " " + token.substr(cut)});
    }
  }
  std::stable_sort(
      list.begin(), list.end(), [](const Merge &a, const Merge &b) {
        if (a.score != b.score)
          return a.score > b.score;
        return std::tie(a.left, a.right) < std::tie(b.left, b.right);
      });
  for (const Merge &merge : list)
    merges.push_back(merge.text);
  json root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens",
         {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merges}}}};
  if (metaspace) {
    root["normalizer"] = nullptr;
    root["pre_tokenizer"] = {{"type", "Metaspace"},
                             {"replacement", kSpaceMark},
                             {"prepend_scheme", "first"},
                             {"split", false}};
    root["decoder"] = {{"type", "Metaspace"},
                       {"replacement", kSpaceMark},
                       {"prepend_scheme", "first"},
                       {"split", false}};
  } else {
    root["normalizer"] = {{"type", "Sequence"},
                          {"normalizers",
                           {{{"type", "Prepend"}, {"prepend", kSpaceMark}},
                            {{"type", "Replace"},
                             {"pattern", {{"String", " "}}},
                             {"content", kSpaceMark}}}}};
    root["pre_tokenizer"] = nullptr;
    root["decoder"] = {
        {"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"},
           {"pattern", {{"String", kSpaceMark}}},
           {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  }
  return root.dump();
}

// A minimal protobuf writer, for messages the tests build by hand.
void varint(std::string &out, uint64_t value) {
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    out += char(value ? byte | 0x80 : byte);
  } while (value);
}
void key(std::string &out, int field, int type) {
  varint(out, field << 3 | type);
}
void bytesField(std::string &out, int field, const std::string &payload) {
  key(out, field, 2);
  varint(out, payload.size());
  out += payload;
}
void varintField(std::string &out, int field, uint64_t value) {
  key(out, field, 0);
  varint(out, value);
}

std::string piece(const std::string &text, float score, int type) {
  std::string out;
  bytesField(out, 1, text);
  key(out, 2, 5);
  uint32_t raw;
  std::memcpy(&raw, &score, 4);
  out.append(reinterpret_cast<const char *>(&raw), 4);
  if (type != 1)
    varintField(out, 3, type);
  return out;
}

/// <unk>, <s>, </s>, the 256 byte pieces, then a few words; BPE trainer
/// spec (bos 1, eos 2, unk 0, pad -1) and the identity normalizer.
std::string handWrittenModel(uint64_t modelType = 2,
                             const std::string &normalizer = "identity",
                             bool dummyPrefix = true) {
  std::string model;
  bytesField(model, 1, piece("<unk>", 0, 2));
  bytesField(model, 1, piece("<s>", 0, 3));
  bytesField(model, 1, piece("</s>", 0, 3));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    bytesField(model, 1, piece(name, 0, 6));
  }
  const char *words[] = {"\xE2\x96\x81",
                         "a",
                         "b",
                         "\xE2\x96\x81"
                         "a",
                         "ab",
                         "\xE2\x96\x81"
                         "ab"};
  float score = -1;
  for (const char *word : words)
    bytesField(model, 1, piece(word, score--, 1));
  std::string trainer;
  varintField(trainer, 3, modelType);
  varintField(trainer, 35, 1);            // byte_fallback
  varintField(trainer, 43, uint64_t(-1)); // pad_id -1: ten-byte varint
  bytesField(model, 2, trainer);
  std::string norm;
  bytesField(norm, 1, normalizer);
  varintField(norm, 3, dummyPrefix);
  varintField(norm, 4, 0); // remove_extra_whitespaces false
  bytesField(model, 3, norm);
  bytesField(model, 99, "unknown fields are skipped");
  return model;
}

class Llama2TokenizerPaths : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    bin = build(loadLlama2cTokenizer(
                    dataPath("tokenizers/llama2_tokenizer.bin"), 32000))
              .release();
    auto data =
        loadSentencePieceModel(dataPath("tokenizers/llama2_tokenizer.model"));
    ASSERT_TRUE(bool(data)) << llvm::toString(data.takeError());
    TokenizerData sp = *data;
    model = build(std::move(*data)).release();
    llvm::SmallString<128> directory;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("respin-sp", directory));
    for (bool metaspace : {false, true}) {
      std::string path =
          (directory + (metaspace ? "/metaspace.json" : "/llama2.json")).str();
      std::error_code ec;
      llvm::raw_fd_ostream os(path, ec);
      ASSERT_FALSE(ec);
      os << hfTokenizerJson(sp, metaspace);
      os.close();
      (metaspace ? metaspaceJson : legacyJson) =
          build(loadHFTokenizerJson(path)).release();
    }
    llvm::sys::fs::remove_directories(directory);
  }
  static void TearDownTestSuite() {
    for (Tokenizer *t : {bin, model, legacyJson, metaspaceJson})
      delete t;
  }

  /// Ids of `text` through every path; all must equal the .bin's.
  void expectIdentical(const std::string &text) {
    ASSERT_TRUE(bin && model && legacyJson && metaspaceJson);
    std::vector<int32_t> expected = bin->encode(text, true);
    EXPECT_GT(expected.size(), text.size() / 8);
    int paths = 0;
    for (const Tokenizer *other : {model, legacyJson, metaspaceJson}) {
      std::vector<int32_t> ids = other->encode(text, true);
      ASSERT_EQ(ids.size(), expected.size()) << "path " << paths;
      size_t differences = 0;
      for (size_t i = 0; i < ids.size(); ++i)
        differences += ids[i] != expected[i];
      EXPECT_EQ(differences, 0u)
          << "path " << paths << " of " << expected.size() << " ids";
      ++paths;
    }
    EXPECT_EQ(model->decode(expected), text);
  }

  static inline Tokenizer *bin, *model, *legacyJson, *metaspaceJson;
};

} // namespace

TEST_F(Llama2TokenizerPaths, EvaluationTextGivesIdenticalIds) {
  expectIdentical(readText("text/tinystories-eval.txt"));
}

TEST_F(Llama2TokenizerPaths, WikiText2GivesIdenticalIds) {
  expectIdentical(readText("text/wikitext2-raw-test.txt"));
}

TEST_F(Llama2TokenizerPaths, ModelFileMatchesTheBinaryVocabulary) {
  const TokenizerData &a = bin->getData(), &b = model->getData();
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(a.tokenTypes, b.tokenTypes);
  EXPECT_EQ(b.bosId, 1);
  EXPECT_EQ(b.eosId, 2);
  EXPECT_EQ(b.unkId, 0);
  EXPECT_TRUE(b.addDummyPrefix);
}

TEST(SentencePieceModel, HandWrittenMessage) {
  auto data = parseSentencePieceModel(handWrittenModel(), "hand.model");
  ASSERT_TRUE(bool(data)) << llvm::toString(data.takeError());
  ASSERT_EQ(data->tokens.size(), 3u + 256u + 6u);
  EXPECT_EQ(data->tokens[3], "<0x00>");
  EXPECT_EQ(data->tokenTypes[3], 6);
  EXPECT_EQ(data->tokenTypes[0], 2);
  EXPECT_EQ(data->tokens[264], "\xE2\x96\x81"
                               "ab");
  EXPECT_EQ(data->scores[264], -6.0f);
  auto tokenizer = build(std::move(*data));
  ASSERT_TRUE(tokenizer);
  // "ab a": ▁ab (the highest-scoring merges win in order), ▁a.
  EXPECT_EQ(tokenizer->encode("ab a", true),
            (std::vector<int32_t>{1, 264, 262}));
  // add_dummy_prefix = false: no leading ▁.
  auto bare = build(parseSentencePieceModel(
      handWrittenModel(2, "identity", false), "bare.model"));
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->encode("ab", false), (std::vector<int32_t>{263}));
  EXPECT_EQ(bare->decode({263}), "ab");
}

TEST(SentencePieceModel, RefusesWhatTheEncoderCannotDo) {
  expectError(parseSentencePieceModel(handWrittenModel(1), "t5.model"),
              {"t5.model", "model_type 1 is not supported"});
  expectError(
      parseSentencePieceModel(handWrittenModel(2, "nmt_nfkc"), "nfkc.model"),
      {"nfkc.model", "normalizer 'nmt_nfkc'"});
  expectError(parseSentencePieceModel("", "empty.model"),
              {"empty.model", "no pieces"});
  expectError(loadSentencePieceModel("/nonexistent/tokenizer.model"),
              {"/nonexistent/tokenizer.model", "cannot read"});
}

TEST(SentencePieceModel, FuzzedMessagesFailCleanly) {
  // Every truncation and 3000 seeded byte flips: each parse either fails
  // with a message naming the file or yields data the tokenizer accepts or
  // refuses with an error, never a crash (the ASan CI run checks reads).
  std::string good = handWrittenModel();
  int failures = 0;
  for (size_t length = 0; length < good.size(); ++length) {
    auto data = parseSentencePieceModel(good.substr(0, length), "cut.model");
    if (!data) {
      std::string message = llvm::toString(data.takeError());
      EXPECT_NE(message.find("cut.model"), std::string::npos) << message;
      ++failures;
    }
  }
  EXPECT_GT(failures, int(good.size()) / 2);
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = good;
    for (int flips = 0; flips < 3; ++flips)
      bad[rng() % bad.size()] = char(rng());
    auto data = parseSentencePieceModel(bad, "flip.model");
    if (!data) {
      llvm::consumeError(data.takeError());
      continue;
    }
    auto tokenizer = Tokenizer::create(std::move(*data));
    if (tokenizer)
      (*tokenizer)->encode("ab a b", true);
    else
      llvm::consumeError(tokenizer.takeError());
  }
}

TEST(SentencePieceJson, Variants) {
  // A small vocabulary in each layout; prepend_scheme "never" drops the
  // dummy prefix; other normalizers are refused naming the field.
  auto sp = parseSentencePieceModel(handWrittenModel(), "hand.model");
  ASSERT_TRUE(bool(sp));
  TempDir dir;
  std::string path = dir.file("tokenizer.json");
  json root = json::parse(hfTokenizerJson(*sp, true));
  writeFile(path, root.dump());
  auto first = build(loadHFTokenizerJson(path));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->encode("ab a", true), (std::vector<int32_t>{1, 264, 262}));
  root["pre_tokenizer"]["prepend_scheme"] = "never";
  writeFile(path, root.dump());
  auto never = build(loadHFTokenizerJson(path));
  ASSERT_TRUE(never);
  EXPECT_EQ(never->encode("ab", false), (std::vector<int32_t>{263}));
  root["pre_tokenizer"] = nullptr;
  root["normalizer"] = {{"type", "NFKC"}};
  writeFile(path, root.dump());
  expectError(loadHFTokenizerJson(path),
              {"tokenizer.json", "normalizer", "NFKC"});
}
