//===- ResourceLimitsTest.cpp - Bounded work on hostile format inputs -----===//
//
// Inputs that cost far more than their size: JSON nested 100 000 levels deep
// (nlohmann::json's copy and dump recurse, so this overflowed the stack in
// the error path), and a tiny tokenizer.json naming token id 2^24 - 1 (a
// dense 16M-entry table, 2.6 GB, from 160 bytes). Each is refused with an
// error naming the file.
//
//===----------------------------------------------------------------------===//

#include "FormatsTestUtil.h"

#include "respin/Formats/HFCheckpoint.h"
#include "respin/Formats/ParameterArchive.h"
#include "respin/Formats/Safetensors.h"
#include "respin/Formats/TokenizerData.h"

using namespace respin;
using namespace respin::test;

namespace {
std::string nested(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}
constexpr size_t kDeep = 100000;
} // namespace

TEST(ResourceLimits, DeepJsonInASafetensorsHeader) {
  TempDir dir;
  std::string header = R"({"t": {"dtype": "F32", "shape": [)" + nested(kDeep) +
                       R"(], "data_offsets": [0, 0]}})";
  writeFile(dir.file("deep.safetensors"), safetensorsBytes(header, ""));
  expectError(SafetensorsFile::open(dir.file("deep.safetensors")),
              {"deep.safetensors: header: JSON nests deeper than 64 levels"});
}

TEST(ResourceLimits, ModerateNestingStillGetsItsOwnError) {
  // Within the bound, the reader's own message quotes a short excerpt.
  TempDir dir;
  std::string header = R"({"t": {"dtype": "F32", "shape": [)" + nested(40) +
                       R"(], "data_offsets": [0, 0]}})";
  writeFile(dir.file("nested.safetensors"), safetensorsBytes(header, ""));
  std::string message =
      expectError(SafetensorsFile::open(dir.file("nested.safetensors")),
                  {"'shape' entry [[[[", "is not a non-negative"});
  EXPECT_LT(message.size(), 300u) << message;
}

TEST(ResourceLimits, DeepJsonInTokenizerJson) {
  TempDir dir;
  writeFile(dir.file("tokenizer.json"),
            R"({"model": {"type": )" + nested(kDeep) + "}}");
  expectError(loadHFTokenizerJson(dir.file("tokenizer.json")),
              {"tokenizer.json: JSON nests deeper than 64 levels"});
}

TEST(ResourceLimits, DeepJsonInConfigJson) {
  TempDir dir;
  writeFile(dir.file("config.json"),
            R"({"model_type": "llama", "x": )" + nested(kDeep) + "}");
  expectError(loadHFCheckpoint(dir.path),
              {"config.json: JSON nests deeper than 64 levels"});
}

TEST(ResourceLimits, DeepJsonInArchiveMetadata) {
  expectError(modelConfigFromJson(nested(kDeep), "m.safetensors: respin.config"),
              {"m.safetensors: respin.config: JSON nests deeper than 64"});
  expectError(TokenizerData::fromJson(
                  R"({"kind": "byte-level-bpe", "tokens": )" + nested(kDeep) +
                      "}",
                  "m.safetensors: respin.tokenizer"),
              {"m.safetensors: respin.tokenizer: JSON nests deeper than 64"});
  // Brackets inside strings do not count.
  std::string strings = R"({"kind": "byte-level-bpe", "tokens": [")" +
                        std::string(1000, '[') + R"("]})";
  auto data = TokenizerData::fromJson(strings, "m.safetensors: tokenizer");
  ASSERT_TRUE(bool(data)) << llvm::toString(data.takeError());
  EXPECT_EQ(data->tokens.size(), 1u);
}

TEST(ResourceLimits, TokenIdsAreBoundedByTheFile) {
  TempDir dir;
  std::string tokenizer =
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 16777215},)"
      R"( "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})";
  writeFile(dir.file("tokenizer.json"), tokenizer);
  expectError(loadHFTokenizerJson(dir.file("tokenizer.json")),
              {"tokenizer.json: field 'model.vocab': token id 16777215 (2 ids "
               "named) would need a table larger than the"});
}
