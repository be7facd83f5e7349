//===- GGUFTest.cpp - GGUF and llama2.c reader tests ----------------------===//
//
// The real stories260K model in both formats (same weights, byte for byte),
// plus hand-assembled GGUF and llama2.c files exercising every metadata type
// and every malformation the readers must report.
//
//===----------------------------------------------------------------------===//

#include "FormatsTestUtil.h"

#include "respin/Formats/GGUF.h"
#include "respin/Formats/Llama2c.h"

#include <cmath>
#include <filesystem>
#include <limits>

using namespace respin;
using namespace respin::test;

namespace {
const std::string kStoriesGGUF = dataPath("models/stories260K.gguf");
const std::string kStoriesLlama2c = dataPath("models/stories260K.llama2c.bin");
const std::string kTok512 = dataPath("tokenizers/tok512.bin");

bool sameBytes(const TensorView &a, const TensorView &b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.numBytes == b.numBytes &&
         std::memcmp(a.data, b.data, a.numBytes) == 0;
}
} // namespace

//===----------------------------------------------------------------------===//
// Real stories260K files
//===----------------------------------------------------------------------===//

TEST(GGUFReal, Stories260KContainer) {
  RESPIN_ASSERT_OK_AND_ASSIGN(file, GGUFFile::open(kStoriesGGUF));
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->tensors().size(), 48u);
  ASSERT_NE(file->lookup("general.architecture"), nullptr);
  EXPECT_EQ(*file->lookup("general.architecture")->asString(), "llama");
  EXPECT_EQ(file->lookup("llama.block_count")->asInt(), 5);
  // The separator id is stored as uint32 0xffffffff.
  EXPECT_EQ(file->lookup("tokenizer.ggml.seperator_token_id")->asInt(),
            4294967295);
  const TensorView &embd = file->tensors()[0];
  EXPECT_EQ(embd.name, "token_embd.weight");
  // ne = [64, 512] reversed to the row-major [512, 64].
  EXPECT_EQ(embd.shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(embd.dtype, DType::F32);
  EXPECT_EQ(embd.numBytes, 512u * 64 * 4);
}

TEST(GGUFReal, Stories260KCheckpoint) {
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadGGUFCheckpoint(kStoriesGGUF));
  const ModelConfig &c = ckpt.config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.hiddenSize, 64);
  EXPECT_EQ(c.intermediateSize, 172);
  EXPECT_EQ(c.numLayers, 5);
  EXPECT_EQ(c.numHeads, 8);
  EXPECT_EQ(c.numKVHeads, 4);
  EXPECT_EQ(c.headDim, 8);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.maxPositions, 2048);
  EXPECT_EQ(c.rotaryDim, 8);
  EXPECT_EQ(c.ropeTheta, 10000.0);
  EXPECT_NEAR(c.rmsNormEps, 1e-5, 1e-12);
  EXPECT_EQ(c.ropeLayout, RopeLayout::Interleaved);
  EXPECT_FALSE(c.tiedEmbeddings); // output.weight is stored separately
  EXPECT_FALSE(c.attentionBias);
  EXPECT_EQ(ckpt.tensors.size(), 48u);

  RESPIN_ASSERT_OK_AND_ASSIGN(
      q, ckpt.get(names::layer(0, "self_attn.q_proj.weight")));
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  RESPIN_ASSERT_OK_AND_ASSIGN(
      k, ckpt.get(names::layer(4, "self_attn.k_proj.weight")));
  EXPECT_EQ(k->shape, (std::vector<int64_t>{32, 64}));
  RESPIN_ASSERT_OK_AND_ASSIGN(
      down, ckpt.get(names::layer(2, "mlp.down_proj.weight")));
  EXPECT_EQ(down->shape, (std::vector<int64_t>{64, 172}));
  RESPIN_ASSERT_OK_AND_ASSIGN(head, ckpt.get(names::lmHead()));
  EXPECT_EQ(head->shape, (std::vector<int64_t>{512, 64}));
  expectError(
      ckpt.get("model.layers.9.mlp.up_proj.weight"),
      {"stories260K.gguf", "model.layers.9.mlp.up_proj.weight", "not found"});

  ASSERT_TRUE(ckpt.tokenizer.has_value());
  const TokenizerData &tok = *ckpt.tokenizer;
  EXPECT_EQ(tok.kind, TokenizerData::Kind::SentencePieceBPE);
  ASSERT_EQ(tok.tokens.size(), 512u);
  EXPECT_EQ(tok.tokens[0], "<unk>");
  EXPECT_EQ(tok.tokens[1], "<s>");
  EXPECT_EQ(tok.tokens[3], "<0x00>");
  EXPECT_EQ(tok.scores.size(), 512u);
  ASSERT_EQ(tok.tokenTypes.size(), 512u);
  EXPECT_EQ(tok.tokenTypes[0], 2);
  EXPECT_EQ(tok.tokenTypes[1], 3);
  EXPECT_EQ(tok.tokenTypes[3], 6);
  EXPECT_EQ(tok.bosId, 1);
  EXPECT_EQ(tok.eosId, 2);
  EXPECT_EQ(tok.unkId, 0);
  EXPECT_TRUE(tok.addBos);
}

TEST(Llama2cReal, Stories260KCheckpoint) {
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadLlama2cCheckpoint(kStoriesLlama2c, ""));
  const ModelConfig &c = ckpt.config;
  EXPECT_EQ(c.hiddenSize, 64);
  EXPECT_EQ(c.intermediateSize, 172);
  EXPECT_EQ(c.numLayers, 5);
  EXPECT_EQ(c.numHeads, 8);
  EXPECT_EQ(c.numKVHeads, 4);
  EXPECT_EQ(c.headDim, 8);
  EXPECT_EQ(c.rotaryDim, 8);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.maxPositions, 512);
  EXPECT_EQ(c.rmsNormEps, 1e-5);
  EXPECT_EQ(c.ropeTheta, 10000.0);
  EXPECT_EQ(c.ropeLayout, RopeLayout::Interleaved);
  EXPECT_TRUE(c.tiedEmbeddings);
  EXPECT_FALSE(ckpt.tokenizer.has_value());
  EXPECT_EQ(ckpt.tensors.size(), 47u); // no separate lm_head
  EXPECT_EQ(ckpt.tensors.count(names::lmHead()), 0u);
}

TEST(Llama2cReal, SameWeightsAsGGUF) {
  RESPIN_ASSERT_OK_AND_ASSIGN(gguf, loadGGUFCheckpoint(kStoriesGGUF));
  RESPIN_ASSERT_OK_AND_ASSIGN(l2c, loadLlama2cCheckpoint(kStoriesLlama2c, ""));
  for (const auto &[name, tensor] : l2c.tensors) {
    auto it = gguf.tensors.find(name);
    ASSERT_NE(it, gguf.tensors.end()) << name;
    EXPECT_TRUE(sameBytes(tensor, it->second)) << name;
  }
  // Every GGUF tensor but the classifier has a llama2.c twin, and the
  // classifier is the embedding the llama2.c file shares.
  for (const auto &[name, tensor] : gguf.tensors) {
    if (name == names::lmHead())
      continue;
    EXPECT_EQ(l2c.tensors.count(name), 1u) << name;
  }
  EXPECT_TRUE(sameBytes(gguf.tensors.at(names::lmHead()),
                        l2c.tensors.at(names::embedTokens())));
  // Sanity: the tensors are not all the same bytes.
  EXPECT_FALSE(
      sameBytes(l2c.tensors.at(names::layer(0, "self_attn.q_proj.weight")),
                l2c.tensors.at(names::layer(1, "self_attn.q_proj.weight"))));
}

TEST(Llama2cReal, WithTokenizer) {
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt,
                              loadLlama2cCheckpoint(kStoriesLlama2c, kTok512));
  ASSERT_TRUE(ckpt.tokenizer.has_value());
  EXPECT_EQ(ckpt.tokenizer->tokens.size(), 512u);
  expectError(loadLlama2cCheckpoint(kStoriesLlama2c, "/nonexistent/tok.bin"),
              {"/nonexistent/tok.bin"});
}

//===----------------------------------------------------------------------===//
// llama2.c malformations
//===----------------------------------------------------------------------===//

TEST(Llama2cMalformed, WrongFileSize) {
  TempDir dir;
  std::string original = readFile(kStoriesLlama2c);
  ASSERT_EQ(original.size(), 1056540u);
  std::string path = dir.file("s.bin");
  writeFile(path, original + "abcd");
  expectError(loadLlama2cCheckpoint(path, ""),
              {"s.bin", "file is 1056544 bytes", "implies 1056540 bytes",
               "dim 64", "vocab_size 512"});
  writeFile(path, original.substr(0, original.size() - 1));
  expectError(loadLlama2cCheckpoint(path, ""),
              {"file is 1056539 bytes", "implies 1056540"});
  // A negative vocab size promises a separate classifier that is not there.
  std::string unshared = original;
  int32_t negVocab = -512;
  std::memcpy(&unshared[20], &negVocab, 4);
  writeFile(path, unshared);
  expectError(
      loadLlama2cCheckpoint(path, ""),
      {"vocab_size -512", "implies " + std::to_string(1056540 + 512 * 64 * 4)});
  writeFile(path, "short");
  expectError(loadLlama2cCheckpoint(path, ""), {"s.bin", "too small"});
}

TEST(Llama2cMalformed, BadHeaderFields) {
  TempDir dir;
  std::string path = dir.file("h.bin");
  auto header = [](int32_t dim, int32_t hidden, int32_t layers, int32_t heads,
                   int32_t kv, int32_t vocab, int32_t seq) {
    return Bytes()
        .i32(dim)
        .i32(hidden)
        .i32(layers)
        .i32(heads)
        .i32(kv)
        .i32(vocab)
        .i32(seq)
        .text;
  };
  writeFile(path, header(64, 172, 0, 8, 4, 512, 512));
  expectError(loadLlama2cCheckpoint(path, ""), {"h.bin", "n_layers = 0"});
  writeFile(path, header(64, 172, 5, 8, 3, 512, 512));
  expectError(loadLlama2cCheckpoint(path, ""),
              {"h.bin", "numHeads = 8", "numKVHeads = 3"});
  writeFile(path, header(64, 172, 5, 7, 7, 512, 512));
  expectError(loadLlama2cCheckpoint(path, ""),
              {"dim = 64", "not a multiple of n_heads = 7"});
  // Huge but individually plausible dimensions: the implied size must be
  // computed without wrapping and rejected, not allocated.
  writeFile(path,
            header(1 << 24, 1 << 24, 4096, 1 << 20, 1 << 20, 1 << 24, 1 << 24));
  expectError(loadLlama2cCheckpoint(path, ""), {"h.bin", "file is 28 bytes"});
  writeFile(path, header(INT32_MAX, 172, 5, 1, 1, 512, 512));
  expectError(loadLlama2cCheckpoint(path, ""), {"h.bin", "hiddenSize"});
}

TEST(Llama2cMalformed, NaNWeight) {
  TempDir dir;
  std::string bytes = readFile(kStoriesLlama2c);
  float nan = std::nanf("");
  // Element 5 of layer 1's wq: header + embedding + rms_att + layer-0 wq.
  size_t offset = 28 + (512 * 64 + 5 * 64 + 64 * 64 + 5) * 4;
  std::memcpy(&bytes[offset], &nan, 4);
  std::string path = dir.file("nan.bin");
  writeFile(path, bytes);
  expectError(loadLlama2cCheckpoint(path, ""),
              {"nan.bin", "model.layers.1.self_attn.q_proj.weight", "element 5",
               "is NaN"});
}

//===----------------------------------------------------------------------===//
// Hand-assembled GGUF files
//===----------------------------------------------------------------------===//

namespace {
constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_K = 12, kBF16 = 30;

/// The canonical -> GGUF name mapping, for building test files.
std::string ggufName(const std::string &canonical) {
  if (canonical == names::embedTokens())
    return "token_embd.weight";
  if (canonical == names::finalNorm())
    return "output_norm.weight";
  if (canonical == names::lmHead())
    return "output.weight";
  llvm::StringRef rest(canonical);
  rest.consume_front("model.layers.");
  auto [layer, suffix] = rest.split('.');
  static const std::map<std::string, std::string> kSuffix = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  return "blk." + layer.str() + "." + kSuffix.at(suffix.str());
}

ModelConfig tinyConfig(llvm::StringRef arch = "llama") {
  ModelConfig c;
  c.architecture = arch.str();
  c.hiddenSize = 8;
  c.intermediateSize = 12;
  c.numLayers = 2;
  c.numHeads = 2;
  c.numKVHeads = 1;
  c.headDim = 4;
  c.rotaryDim = 4;
  c.vocabSize = 6;
  c.attentionBias = arch == "qwen2";
  return c;
}

/// Encodes a GGUF array of strings.
std::string stringArray(const std::vector<std::string> &values) {
  Bytes out;
  out.u32(8).u64(values.size());
  for (const std::string &v : values)
    out.str(v);
  return out.text;
}

/// A complete, valid tiny llama GGUF (F32 unless `dtype` says otherwise).
GGUFBuilder tinyModel(const ModelConfig &c, uint32_t dtype = kF32,
                      llvm::StringRef tokenizerModel = "llama") {
  GGUFBuilder b;
  std::string p = c.architecture + ".";
  b.kvString("general.architecture", c.architecture)
      .kvU32(p + "embedding_length", c.hiddenSize)
      .kvU32(p + "feed_forward_length", c.intermediateSize)
      .kvU32(p + "block_count", c.numLayers)
      .kvU32(p + "attention.head_count", c.numHeads)
      .kvU32(p + "attention.head_count_kv", c.numKVHeads)
      .kvF32(p + "attention.layer_norm_rms_epsilon", 1e-6f)
      .kvF32(p + "rope.freq_base", 500000.0f)
      .kvU32(p + "context_length", 128)
      .kvString("tokenizer.ggml.model", tokenizerModel)
      .kv("tokenizer.ggml.tokens", 9,
          stringArray({"<unk>", "<s>", "</s>", "a", "b", "ab"}))
      .kv("tokenizer.ggml.scores", 9,
          Bytes()
              .u32(6)
              .u64(6)
              .f32(0)
              .f32(0)
              .f32(0)
              .f32(-1)
              .f32(-2)
              .f32(-3)
              .text)
      .kvU32("tokenizer.ggml.bos_token_id", 1)
      .kvU32("tokenizer.ggml.eos_token_id", 2);
  int seed = 0;
  for (const auto &[name, shape] : canonicalShapes(c)) {
    std::vector<float> values = syntheticValues(product(shape), seed++);
    std::string data;
    if (dtype == kF32) {
      data = floatBytes(values);
    } else {
      for (float v : values) {
        uint16_t h = dtype == kF16 ? floatToHalf(v) : floatToBFloat16(v);
        data.append(reinterpret_cast<const char *>(&h), 2);
      }
    }
    b.tensor(ggufName(name), shape, dtype, data);
  }
  return b;
}

llvm::Expected<Checkpoint> loadBuilt(const TempDir &dir,
                                     const GGUFBuilder &builder,
                                     const std::string &name = "t.gguf") {
  writeFile(dir.file(name), builder.build());
  return loadGGUFCheckpoint(dir.file(name));
}
} // namespace

TEST(GGUF, TinyModelLoads) {
  TempDir dir;
  ModelConfig c = tinyConfig();
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadBuilt(dir, tinyModel(c)));
  EXPECT_EQ(ckpt.config.hiddenSize, 8);
  EXPECT_EQ(ckpt.config.headDim, 4);
  EXPECT_EQ(ckpt.config.numKVHeads, 1);
  EXPECT_EQ(ckpt.config.ropeTheta, 500000.0);
  EXPECT_EQ(ckpt.config.maxPositions, 128);
  EXPECT_FLOAT_EQ((float)ckpt.config.rmsNormEps, 1e-6f);
  EXPECT_EQ(ckpt.config.vocabSize, 6); // from the token list
  EXPECT_FALSE(ckpt.config.tiedEmbeddings);
  // The synthetic values survive the trip through the file.
  int seed = 0;
  for (const auto &[name, shape] : canonicalShapes(c)) {
    RESPIN_ASSERT_OK_AND_ASSIGN(t, ckpt.get(name));
    EXPECT_EQ(t->shape, shape) << name;
    EXPECT_EQ(t->toFloat32(), syntheticValues(product(shape), seed++)) << name;
  }
  ASSERT_TRUE(ckpt.tokenizer.has_value());
  EXPECT_EQ(ckpt.tokenizer->tokens[5], "ab");
  EXPECT_EQ(ckpt.tokenizer->scores[5], -3.0f);
  EXPECT_EQ(ckpt.tokenizer->unkId, -1);
}

TEST(GGUF, HalfPrecisionAndTiedModels) {
  TempDir dir;
  ModelConfig c = tinyConfig();
  for (uint32_t dtype : {kF16, kBF16}) {
    RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadBuilt(dir, tinyModel(c, dtype)));
    RESPIN_ASSERT_OK_AND_ASSIGN(t, ckpt.get(names::embedTokens()));
    EXPECT_EQ(t->dtype, dtype == kF16 ? DType::F16 : DType::BF16);
    EXPECT_EQ(t->numBytes, 6u * 8 * 2);
  }
  c.tiedEmbeddings = true; // no output.weight
  RESPIN_ASSERT_OK_AND_ASSIGN(tied, loadBuilt(dir, tinyModel(c)));
  EXPECT_TRUE(tied.config.tiedEmbeddings);
  EXPECT_EQ(tied.tensors.count(names::lmHead()), 0u);
}

TEST(GGUF, Qwen2HasBiasesAndHalfSplitRope) {
  TempDir dir;
  ModelConfig c = tinyConfig("qwen2");
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadBuilt(dir, tinyModel(c)));
  EXPECT_TRUE(ckpt.config.attentionBias);
  EXPECT_EQ(ckpt.config.ropeLayout, RopeLayout::HalfSplit);
  RESPIN_ASSERT_OK_AND_ASSIGN(
      bias, ckpt.get(names::layer(1, "self_attn.k_proj.bias")));
  EXPECT_EQ(bias->shape, (std::vector<int64_t>{4}));
}

TEST(GGUF, ByteLevelTokenizer) {
  TempDir dir;
  ModelConfig c = tinyConfig();
  GGUFBuilder base;
  std::string p = "llama.";
  base.kvString("general.architecture", "llama")
      .kvU32(p + "embedding_length", 8)
      .kvU32(p + "feed_forward_length", 12)
      .kvU32(p + "block_count", 2)
      .kvU32(p + "attention.head_count", 2)
      .kvU32(p + "attention.head_count_kv", 1)
      .kvF32(p + "attention.layer_norm_rms_epsilon", 1e-5f)
      .kvString("tokenizer.ggml.model", "gpt2")
      .kv("tokenizer.ggml.tokens", 9,
          stringArray({"a", "b", "ab", "\xc4\xa0", "<|begin|>", "<|end|>"}))
      .kv("tokenizer.ggml.token_type", 9,
          Bytes().u32(5).u64(6).i32(1).i32(1).i32(1).i32(1).i32(3).i32(3).text)
      .kvU32("tokenizer.ggml.bos_token_id", 4)
      .kvU32("tokenizer.ggml.eos_token_id", 5);
  int seed = 0;
  for (const auto &[name, shape] : canonicalShapes(c))
    base.tensor(ggufName(name), shape, kF32,
                floatBytes(syntheticValues(product(shape), seed++)));
  expectError(loadBuilt(dir, base),
              {"t.gguf", "'tokenizer.ggml.merges' is missing"});

  GGUFBuilder full = base;
  full.kv("tokenizer.ggml.merges", 9, stringArray({"a b"}))
      .kvString("tokenizer.ggml.pre", "llama-bpe");
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadBuilt(dir, full));
  ASSERT_TRUE(ckpt.tokenizer.has_value());
  const TokenizerData &tok = *ckpt.tokenizer;
  EXPECT_EQ(tok.kind, TokenizerData::Kind::ByteLevelBPE);
  EXPECT_EQ(tok.merges, std::vector<std::string>{"a b"});
  EXPECT_EQ(tok.preTokenizer, "llama3");
  EXPECT_EQ(tok.tokenTypes[4], 3);
  EXPECT_EQ(tok.bosId, 4);
  EXPECT_EQ(tok.eosId, 5);
  EXPECT_FALSE(tok.addBos); // byte-level default
  EXPECT_TRUE(tok.scores.empty());

  GGUFBuilder withBos = full;
  withBos.kv("tokenizer.ggml.add_bos_token", 7, Bytes().u8(1).text);
  RESPIN_ASSERT_OK_AND_ASSIGN(bos, loadBuilt(dir, withBos));
  EXPECT_TRUE(bos.tokenizer->addBos);

  expectError(loadBuilt(dir, tinyModel(c, kF32, "bert")),
              {"tokenizer model 'bert'", "not supported"});
  RESPIN_ASSERT_OK_AND_ASSIGN(none, loadBuilt(dir, tinyModel(c, kF32, "none")));
  EXPECT_FALSE(none.tokenizer.has_value());
  GGUFBuilder badTypes = full;
  badTypes.kv("tokenizer.ggml.scores", 9,
              Bytes().u32(6).u64(2).f32(0).f32(0).text);
  expectError(loadBuilt(dir, badTypes),
              {"'tokenizer.ggml.scores' has 2 entries for 6 tokens"});
}

TEST(GGUF, AllMetadataValueTypes) {
  TempDir dir;
  GGUFBuilder b;
  b.kv("u8", 0, Bytes().u8(200).text)
      .kv("i8", 1, Bytes().scalar<int8_t>(-5).text)
      .kv("u16", 2, Bytes().scalar<uint16_t>(60000).text)
      .kv("i16", 3, Bytes().scalar<int16_t>(-30000).text)
      .kvU32("u32", 4000000000u)
      .kv("i32", 5, Bytes().i32(-2000000000).text)
      .kvF32("f32", 0.25f)
      .kv("bool", 7, Bytes().u8(1).text)
      .kvString("str", "h\xc3\xa9llo")
      .kv("u64", 10, Bytes().u64(~0ull).text)
      .kv("i64", 11, Bytes().scalar<int64_t>(-(int64_t(1) << 40)).text)
      .kv("f64", 12, Bytes().scalar<double>(1e-300).text)
      .kv("nested", 9,
          Bytes()
              .u32(9)
              .u64(2) // array of 2 arrays
              .u32(4)
              .u64(2)
              .u32(1)
              .u32(2) // [1, 2]
              .u32(8)
              .u64(1)
              .str("x")
              .text) // ["x"]
      .kv("empty", 9, Bytes().u32(6).u64(0).text)
      .tensor("w", {2, 3}, kF32, floatBytes({1, 2, 3, 4, 5, 6}));
  b.version = 2;
  writeFile(dir.file("m.gguf"), b.build());
  RESPIN_ASSERT_OK_AND_ASSIGN(file, GGUFFile::open(dir.file("m.gguf")));
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->lookup("u8")->asInt(), 200);
  EXPECT_EQ(file->lookup("i8")->asInt(), -5);
  EXPECT_EQ(file->lookup("u16")->asInt(), 60000);
  EXPECT_EQ(file->lookup("i16")->asInt(), -30000);
  EXPECT_EQ(file->lookup("u32")->asInt(), 4000000000);
  EXPECT_EQ(file->lookup("i32")->asInt(), -2000000000);
  EXPECT_EQ(file->lookup("f32")->asFloat(), 0.25);
  EXPECT_EQ(file->lookup("f32")->asInt(), std::nullopt);
  EXPECT_EQ(std::get<bool>(file->lookup("bool")->value), true);
  EXPECT_EQ(*file->lookup("str")->asString(), "h\xc3\xa9llo");
  EXPECT_EQ(file->lookup("u64")->asInt(), std::nullopt); // > INT64_MAX
  EXPECT_EQ(std::get<uint64_t>(file->lookup("u64")->value), ~0ull);
  EXPECT_EQ(file->lookup("i64")->asInt(), -(int64_t(1) << 40));
  EXPECT_EQ(file->lookup("f64")->asFloat(), 1e-300);
  const GGUFValue::Array *nested = file->lookup("nested")->asArray();
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->size(), 2u);
  ASSERT_EQ((*nested)[0].asArray()->size(), 2u);
  EXPECT_EQ((*(*nested)[0].asArray())[1].asInt(), 2);
  EXPECT_EQ(*(*(*nested)[1].asArray())[0].asString(), "x");
  EXPECT_EQ(file->lookup("empty")->asArray()->size(), 0u);
  EXPECT_EQ(file->lookup("absent"), nullptr);
  ASSERT_EQ(file->tensors().size(), 1u);
  EXPECT_EQ(file->tensors()[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(file->tensors()[0].toFloat32(),
            (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(GGUF, CustomAlignment) {
  TempDir dir;
  GGUFBuilder b;
  b.alignment = 64;
  b.kvU32("general.alignment", 64)
      .tensor("a", {3}, kF32, floatBytes({1, 2, 3}))
      .tensor("b", {2}, kF32, floatBytes({4, 5}));
  writeFile(dir.file("a.gguf"), b.build());
  RESPIN_ASSERT_OK_AND_ASSIGN(file, GGUFFile::open(dir.file("a.gguf")));
  EXPECT_EQ(file->tensors()[1].toFloat32(), (std::vector<float>{4, 5}));
  // Keys are unique; and a non-power-of-two alignment is rejected.
  GGUFBuilder bad = b;
  bad.kvU32("general.alignment", 48);
  writeFile(dir.file("b.gguf"), bad.build());
  expectError(GGUFFile::open(dir.file("b.gguf")),
              {"b.gguf", "duplicate metadata key 'general.alignment'"});
  GGUFBuilder odd;
  odd.kvU32("general.alignment", 48);
  writeFile(dir.file("c.gguf"), odd.build());
  expectError(GGUFFile::open(dir.file("c.gguf")),
              {"c.gguf", "general.alignment", "power of two"});
}

//===----------------------------------------------------------------------===//
// GGUF malformations
//===----------------------------------------------------------------------===//

TEST(GGUFMalformed, MagicAndVersion) {
  TempDir dir;
  GGUFBuilder b = tinyModel(tinyConfig());
  b.magic = "GGML";
  expectError(loadBuilt(dir, b), {"t.gguf", "bad magic"});
  b.magic = "GGUF";
  b.version = 1;
  expectError(loadBuilt(dir, b), {"t.gguf", "unsupported GGUF version 1",
                                  "only versions 2 and 3"});
  b.version = 4;
  expectError(loadBuilt(dir, b), {"unsupported GGUF version 4"});
  b.version = 0x03000000;
  expectError(loadBuilt(dir, b), {"big-endian"});
}

TEST(GGUFMalformed, TruncatedEverywhere) {
  TempDir dir;
  std::string full = tinyModel(tinyConfig()).build();
  // Every prefix must fail cleanly (never crash or read past the end).
  for (size_t cut : {size_t(0), size_t(3), size_t(10), size_t(30), size_t(200),
                     size_t(600), full.size() / 2, full.size() - 1}) {
    writeFile(dir.file("cut.gguf"), full.substr(0, cut));
    std::string message =
        expectError(loadGGUFCheckpoint(dir.file("cut.gguf")), {"cut.gguf"});
    EXPECT_TRUE(message.find("truncated") != std::string::npos ||
                message.find("outside the data section") != std::string::npos ||
                message.find("cannot fit") != std::string::npos ||
                message.find("does not fit") != std::string::npos)
        << "cut " << cut << ": " << message;
  }
  writeFile(dir.file("cut.gguf"), full.substr(0, 6));
  expectError(loadGGUFCheckpoint(dir.file("cut.gguf")),
              {"truncated file", "version", "needs 4 bytes but only 2 remain"});
}

TEST(GGUFMalformed, QuantizedTensorType) {
  TempDir dir;
  GGUFBuilder b;
  // A Q4_0 block: 2-byte scale + 16 bytes of nibbles for 32 weights.
  b.tensor("blk.0.attn_q.weight", {1, 32}, kQ4_0, std::string(18, '\x11'));
  writeFile(dir.file("q.gguf"), b.build());
  expectError(GGUFFile::open(dir.file("q.gguf")),
              {"q.gguf", "tensor 'blk.0.attn_q.weight'",
               "unsupported GGUF type Q4_0", "only F32, F16, BF16"});
  GGUFBuilder k;
  k.tensor("t", {256}, kQ4_K, std::string(144, '\0'));
  writeFile(dir.file("k.gguf"), k.build());
  expectError(GGUFFile::open(dir.file("k.gguf")),
              {"unsupported GGUF type Q4_K"});
  GGUFBuilder unknown;
  unknown.tensor("t", {1}, 999, std::string(4, '\0'));
  writeFile(dir.file("u.gguf"), unknown.build());
  expectError(GGUFFile::open(dir.file("u.gguf")),
              {"unsupported GGUF type with unknown id 999"});
}

TEST(GGUFMalformed, DataRangeOutsideFile) {
  TempDir dir;
  GGUFBuilder b = tinyModel(tinyConfig());
  std::string bytes = b.build();
  // Drop the last tensor's data: its range now runs past the data section.
  std::string cut = bytes.substr(0, bytes.size() - 32);
  writeFile(dir.file("stories.gguf"), cut);
  expectError(loadGGUFCheckpoint(dir.file("stories.gguf")),
              {"stories.gguf: tensor '", "data range [",
               "lies outside the data section of"});
}

TEST(GGUFMalformed, OverlappingAndMisalignedOffsets) {
  TempDir dir;
  // Hand-written tensor infos: two tensors at offset 0.
  auto build = [](uint64_t secondOffset) {
    Bytes out;
    out.raw("GGUF").u32(3).u64(2).u64(0);
    out.str("a").u32(1).u64(8).u32(kF32).u64(0);
    out.str("b").u32(1).u64(8).u32(kF32).u64(secondOffset);
    out.padTo(32);
    out.raw(std::string(64, '\0'));
    return out.text;
  };
  writeFile(dir.file("o.gguf"), build(0));
  expectError(GGUFFile::open(dir.file("o.gguf")),
              {"o.gguf", "tensor 'b'", "overlaps", "tensor 'a'"});
  writeFile(dir.file("o.gguf"), build(4));
  expectError(GGUFFile::open(dir.file("o.gguf")),
              {"tensor 'b'", "offset 4", "alignment 32"});
  writeFile(dir.file("o.gguf"), build(32));
  RESPIN_ASSERT_OK_AND_ASSIGN(ok, GGUFFile::open(dir.file("o.gguf")));
  EXPECT_EQ(ok->tensors().size(), 2u);
  writeFile(dir.file("o.gguf"), build(~0ull - 31));
  expectError(GGUFFile::open(dir.file("o.gguf")),
              {"tensor 'b'", "outside the data section"});
}

TEST(GGUFMalformed, AbsurdCountsAndDims) {
  TempDir dir;
  // Tensor and metadata counts that no file of this size can hold.
  writeFile(dir.file("c.gguf"),
            Bytes().raw("GGUF").u32(3).u64(1ull << 60).u64(0).text);
  expectError(GGUFFile::open(dir.file("c.gguf")),
              {"c.gguf", "tensor count", "cannot fit"});
  writeFile(dir.file("c.gguf"),
            Bytes().raw("GGUF").u32(3).u64(0).u64(~0ull).text);
  expectError(GGUFFile::open(dir.file("c.gguf")), {"metadata count"});
  // A string whose length runs past the end.
  writeFile(dir.file("c.gguf"), Bytes()
                                    .raw("GGUF")
                                    .u32(3)
                                    .u64(0)
                                    .u64(1)
                                    .u64(1ull << 62)
                                    .raw(std::string(20, 'k'))
                                    .text);
  expectError(GGUFFile::open(dir.file("c.gguf")),
              {"truncated file", "metadata key 0"});
  // An array claiming 2^40 elements.
  writeFile(dir.file("c.gguf"), Bytes()
                                    .raw("GGUF")
                                    .u32(3)
                                    .u64(0)
                                    .u64(1)
                                    .str("arr")
                                    .u32(9)
                                    .u32(4)
                                    .u64(1ull << 40)
                                    .u32(0)
                                    .text);
  expectError(
      GGUFFile::open(dir.file("c.gguf")),
      {"metadata 'arr'", "array of 1099511627776 elements", "does not fit"});
  // An array that fits in the file but exceeds the metadata value budget.
  writeFile(dir.file("c.gguf"), Bytes()
                                    .raw("GGUF")
                                    .u32(3)
                                    .u64(0)
                                    .u64(1)
                                    .str("big")
                                    .u32(9)
                                    .u32(0)
                                    .u64((1ull << 23) + 1)
                                    .text);
  std::filesystem::resize_file(dir.file("c.gguf"), (1ull << 23) + 64);
  expectError(
      GGUFFile::open(dir.file("c.gguf")),
      {"metadata 'big'", "array of 8388609 elements", "exceeds the limit"});
  // Dimensions whose product overflows 64 bits.
  Bytes dims;
  dims.raw("GGUF").u32(3).u64(1).u64(0);
  dims.str("w").u32(3).u64(1ull << 32).u64(1ull << 32).u64(16).u32(kF32).u64(0);
  dims.padTo(32);
  writeFile(dir.file("c.gguf"), dims.text);
  expectError(GGUFFile::open(dir.file("c.gguf")),
              {"c.gguf", "tensor 'w'", "overflows"});
  // Too many dimensions.
  Bytes five;
  five.raw("GGUF").u32(3).u64(1).u64(0);
  five.str("w").u32(5);
  for (int i = 0; i < 5; ++i)
    five.u64(1);
  five.u32(kF32).u64(0).padTo(32).raw(std::string(4, '\0'));
  writeFile(dir.file("c.gguf"), five.text);
  expectError(GGUFFile::open(dir.file("c.gguf")), {"tensor 'w'", "n_dims = 5"});
  // Unknown value type and too-deeply nested arrays.
  writeFile(dir.file("c.gguf"),
            Bytes().raw("GGUF").u32(3).u64(0).u64(1).str("k").u32(77).text);
  expectError(GGUFFile::open(dir.file("c.gguf")),
              {"metadata 'k'", "unknown metadata value type 77"});
  Bytes deep;
  deep.raw("GGUF").u32(3).u64(0).u64(1).str("deep").u32(9);
  for (int i = 0; i < 20; ++i)
    deep.u32(9).u64(1);
  writeFile(dir.file("c.gguf"), deep.text);
  expectError(GGUFFile::open(dir.file("c.gguf")), {"nested deeper"});
}

TEST(GGUFMalformed, BadBoolAndDuplicateTensor) {
  TempDir dir;
  writeFile(
      dir.file("b.gguf"),
      Bytes().raw("GGUF").u32(3).u64(0).u64(1).str("flag").u32(7).u8(2).text);
  expectError(GGUFFile::open(dir.file("b.gguf")),
              {"metadata 'flag'", "neither 0 nor 1"});
  GGUFBuilder dup;
  dup.tensor("w", {1}, kF32, floatBytes({1}))
      .tensor("w", {1}, kF32, floatBytes({2}));
  writeFile(dir.file("d.gguf"), dup.build());
  expectError(GGUFFile::open(dir.file("d.gguf")), {"duplicate tensor 'w'"});
}

TEST(GGUFMalformed, CheckpointLevelErrors) {
  TempDir dir;
  ModelConfig c = tinyConfig();
  // Missing required metadata.
  GGUFBuilder noEps;
  noEps.kvString("general.architecture", "llama")
      .kvU32("llama.embedding_length", 8)
      .kvU32("llama.feed_forward_length", 12)
      .kvU32("llama.block_count", 2)
      .kvU32("llama.attention.head_count", 2);
  expectError(loadBuilt(dir, noEps),
              {"t.gguf", "llama.attention.layer_norm_rms_epsilon", "missing"});
  GGUFBuilder noLayers;
  noLayers.kvString("general.architecture", "llama")
      .kvU32("llama.embedding_length", 8);
  expectError(loadBuilt(dir, noLayers),
              {"'llama.feed_forward_length' is missing"});
  GGUFBuilder wrongType;
  wrongType.kvString("general.architecture", "llama")
      .kvString("llama.embedding_length", "eight");
  expectError(loadBuilt(dir, wrongType),
              {"'llama.embedding_length' must be an integer"});
  GGUFBuilder gpt;
  gpt.kvString("general.architecture", "gptneox");
  expectError(loadBuilt(dir, gpt), {"unsupported architecture 'gptneox'"});

  // Unknown tensor, duplicate key, bad token id, Inf weight.
  GGUFBuilder extra = tinyModel(c);
  extra.tensor("blk.0.attn_qkv.weight", {24, 8}, kF32,
               floatBytes(std::vector<float>(24 * 8)));
  expectError(loadBuilt(dir, extra),
              {"tensor 'blk.0.attn_qkv.weight'", "not a known llama-family"});

  GGUFBuilder dupKey = tinyModel(c);
  dupKey.kvU32("llama.block_count", 3);
  expectError(loadBuilt(dir, dupKey),
              {"duplicate metadata key 'llama.block_count'"});

  GGUFBuilder badId = tinyModel(c);
  badId.kvU32("tokenizer.ggml.unknown_token_id", 99);
  expectError(loadBuilt(dir, badId),
              {"tokenizer.ggml.unknown_token_id", "99", "not a token id"});

  // A model without a tokenizer whose final norm holds an Inf.
  std::vector<float> infValues(8, 1.0f);
  infValues[3] = std::numeric_limits<float>::infinity();
  GGUFBuilder inf;
  {
    std::string p = "llama.";
    inf.kvString("general.architecture", "llama")
        .kvU32(p + "embedding_length", 8)
        .kvU32(p + "feed_forward_length", 12)
        .kvU32(p + "block_count", 2)
        .kvU32(p + "attention.head_count", 2)
        .kvU32(p + "attention.head_count_kv", 1)
        .kvF32(p + "attention.layer_norm_rms_epsilon", 1e-6f)
        .kvU32(p + "vocab_size", 6);
    int seed = 0;
    for (const auto &[name, shape] : canonicalShapes(c)) {
      std::vector<float> values = syntheticValues(product(shape), seed++);
      if (name == names::finalNorm())
        values = infValues;
      inf.tensor(ggufName(name), shape, kF32, floatBytes(values));
    }
  }
  writeFile(dir.file("inf.gguf"), inf.build());
  RESPIN_ASSERT_OK_AND_ASSIGN(file, GGUFFile::open(dir.file("inf.gguf")));
  EXPECT_EQ(file->lookup("tokenizer.ggml.model"), nullptr);
  expectError(
      loadGGUFCheckpoint(dir.file("inf.gguf")),
      {"inf.gguf", "tensor 'model.norm.weight'", "element 3", "is Inf"});
}

TEST(GGUFMalformed, WrongTensorShapeAndMissingTensor) {
  TempDir dir;
  ModelConfig c = tinyConfig();
  // Declaring 3 layers while only 2 are stored.
  GGUFBuilder b;
  std::string p = "llama.";
  b.kvString("general.architecture", "llama")
      .kvU32(p + "embedding_length", 8)
      .kvU32(p + "feed_forward_length", 12)
      .kvU32(p + "block_count", 3)
      .kvU32(p + "attention.head_count", 2)
      .kvU32(p + "attention.head_count_kv", 1)
      .kvF32(p + "attention.layer_norm_rms_epsilon", 1e-6f)
      .kvU32(p + "vocab_size", 6);
  int seed = 0;
  for (const auto &[name, shape] : canonicalShapes(c))
    b.tensor(ggufName(name), shape, kF32,
             floatBytes(syntheticValues(product(shape), seed++)));
  expectError(loadBuilt(dir, b),
              {"t.gguf", "missing tensor 'model.layers.2.", "expected shape"});

  // The K projection sized for 2 KV heads while the config says 1.
  GGUFBuilder shaped;
  shaped.kvString("general.architecture", "llama")
      .kvU32(p + "embedding_length", 8)
      .kvU32(p + "feed_forward_length", 12)
      .kvU32(p + "block_count", 2)
      .kvU32(p + "attention.head_count", 2)
      .kvU32(p + "attention.head_count_kv", 1)
      .kvF32(p + "attention.layer_norm_rms_epsilon", 1e-6f)
      .kvU32(p + "vocab_size", 6);
  seed = 0;
  for (auto [name, shape] : canonicalShapes(c)) {
    if (name == names::layer(1, "self_attn.k_proj.weight"))
      shape = {8, 8};
    shaped.tensor(ggufName(name), shape, kF32,
                  floatBytes(syntheticValues(product(shape), seed++)));
  }
  expectError(loadBuilt(dir, shaped),
              {"tensor 'model.layers.1.self_attn.k_proj.weight'",
               "has shape [8, 8]", "expected [4, 8]"});
}

TEST(GGUFMalformed, RandomCorruptionNeverCrashes) {
  TempDir dir;
  std::string base = tinyModel(tinyConfig()).build();
  std::string path = dir.file("fuzz.gguf");
  writeFile(path, base);
  ASSERT_TRUE(!!loadGGUFCheckpoint(path));
  Rng rng(7);
  int failures = 0;
  for (int i = 0; i < 2000; ++i) {
    writeFile(path, corrupt(base, rng, 1200));
    auto ckpt = loadGGUFCheckpoint(path);
    if (!ckpt) {
      std::string message = llvm::toString(ckpt.takeError());
      EXPECT_NE(message.find("fuzz.gguf"), std::string::npos) << message;
      ++failures;
      continue;
    }
    // An accepted file is a valid checkpoint: re-validation agrees.
    EXPECT_FALSE(errorText(ckpt->validate(path)).size());
  }
  EXPECT_GT(failures, 500);
}

//===----------------------------------------------------------------------===//
// Hand-assembled llama2.c files
//===----------------------------------------------------------------------===//

namespace {
/// A llama2.c file for tinyConfig() shapes where every section holds a
/// distinct constant (section number + 1), so the tensor mapping can be
/// checked; `shared` selects the positive vocab_size (tied classifier).
std::string tinyLlama2c(bool shared, int seqLen = 4) {
  const int dim = 8, hidden = 12, layers = 2, heads = 2, kvHeads = 1, vocab = 6,
            kvDim = 4, headDim = 4;
  Bytes out;
  out.i32(dim)
      .i32(hidden)
      .i32(layers)
      .i32(heads)
      .i32(kvHeads)
      .i32(shared ? vocab : -vocab)
      .i32(seqLen);
  const int64_t sizes[] = {vocab * dim,
                           layers * dim,
                           layers * dim * dim,
                           layers * kvDim * dim,
                           layers * kvDim * dim,
                           layers * dim * dim,
                           layers * dim,
                           layers * hidden * dim,
                           layers * dim * hidden,
                           layers * hidden * dim,
                           dim,
                           seqLen * headDim};
  float section = 1;
  for (int64_t size : sizes) {
    for (int64_t i = 0; i < size; ++i)
      out.f32(section);
    ++section;
  }
  if (!shared)
    for (int64_t i = 0; i < vocab * dim; ++i)
      out.f32(section);
  return out.text;
}
} // namespace

TEST(Llama2c, TensorMappingAndUnsharedClassifier) {
  TempDir dir;
  std::string path = dir.file("tiny.bin");
  writeFile(path, tinyLlama2c(/*shared=*/false));
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadLlama2cCheckpoint(path, ""));
  EXPECT_FALSE(ckpt.config.tiedEmbeddings);
  EXPECT_EQ(ckpt.config.maxPositions, 4);
  EXPECT_EQ(ckpt.config.numKVHeads, 1);
  auto firstValue = [&](const std::string &name) {
    auto t = ckpt.get(name);
    EXPECT_TRUE(!!t) << name;
    return t ? (*t)->toFloat32().front() : -1.0f;
  };
  EXPECT_EQ(firstValue(names::embedTokens()), 1);
  EXPECT_EQ(firstValue(names::layer(1, "input_layernorm.weight")), 2);
  EXPECT_EQ(firstValue(names::layer(1, "self_attn.q_proj.weight")), 3);
  EXPECT_EQ(firstValue(names::layer(1, "self_attn.k_proj.weight")), 4);
  EXPECT_EQ(firstValue(names::layer(1, "self_attn.v_proj.weight")), 5);
  EXPECT_EQ(firstValue(names::layer(1, "self_attn.o_proj.weight")), 6);
  EXPECT_EQ(firstValue(names::layer(1, "post_attention_layernorm.weight")), 7);
  EXPECT_EQ(firstValue(names::layer(1, "mlp.gate_proj.weight")), 8); // w1
  EXPECT_EQ(firstValue(names::layer(1, "mlp.down_proj.weight")), 9); // w2
  EXPECT_EQ(firstValue(names::layer(1, "mlp.up_proj.weight")), 10);  // w3
  EXPECT_EQ(firstValue(names::finalNorm()), 11);
  EXPECT_EQ(firstValue(names::lmHead()), 13); // after the RoPE tables (12)
  // Each tensor is exactly its section: the last element matches too.
  RESPIN_ASSERT_OK_AND_ASSIGN(
      down1, ckpt.get(names::layer(1, "mlp.down_proj.weight")));
  EXPECT_EQ(down1->shape, (std::vector<int64_t>{8, 12}));
  EXPECT_EQ(down1->toFloat32().back(), 9);
  RESPIN_ASSERT_OK_AND_ASSIGN(
      k0, ckpt.get(names::layer(0, "self_attn.k_proj.weight")));
  EXPECT_EQ(k0->shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(k0->toFloat32().back(), 4);

  writeFile(path, tinyLlama2c(/*shared=*/true));
  RESPIN_ASSERT_OK_AND_ASSIGN(tied, loadLlama2cCheckpoint(path, ""));
  EXPECT_TRUE(tied.config.tiedEmbeddings);
  EXPECT_EQ(tied.tensors.count(names::lmHead()), 0u);
}

TEST(Llama2cMalformed, RandomHeaderCorruptionNeverCrashes) {
  TempDir dir;
  std::string base = tinyLlama2c(/*shared=*/true);
  std::string path = dir.file("fuzz.bin");
  Rng rng(99);
  int failures = 0;
  for (int i = 0; i < 1000; ++i) {
    writeFile(path, corrupt(base, rng, 28));
    auto ckpt = loadLlama2cCheckpoint(path, "");
    if (!ckpt) {
      std::string message = llvm::toString(ckpt.takeError());
      EXPECT_NE(message.find("fuzz.bin"), std::string::npos) << message;
      ++failures;
    }
  }
  EXPECT_GT(failures, 100);
}
