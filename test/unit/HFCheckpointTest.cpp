//===- HFCheckpointTest.cpp - HF directories and parameter archives -------===//
//
// Hugging Face checkpoint directories written by the test (single file,
// sharded with an index, Qwen2 with biases, Llama-3 RoPE scaling) and their
// malformations; ModelConfig JSON and respin parameter archives.
//
//===----------------------------------------------------------------------===//

#include "FormatsTestUtil.h"

#include "respin/Formats/GGUF.h"
#include "respin/Formats/HFCheckpoint.h"
#include "respin/Formats/ParameterArchive.h"
#include "respin/Formats/Safetensors.h"

#include <cmath>

using namespace respin;
using namespace respin::test;

namespace {
/// config.json of a tiny Llama with the fields real checkpoints carry.
std::string llamaConfigJson(llvm::StringRef extra = "") {
  std::string text = R"({
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "hidden_size": 8,
  "intermediate_size": 12,
  "num_hidden_layers": 2,
  "num_attention_heads": 2,
  "num_key_value_heads": 1,
  "vocab_size": 6,
  "max_position_embeddings": 64,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "rope_scaling": null,
  "hidden_act": "silu",
  "attention_bias": false,
  "tie_word_embeddings": false,
  "torch_dtype": "float32",
  "bos_token_id": 1,
  "eos_token_id": 2)";
  if (!extra.empty())
    text += ",\n  " + extra.str();
  return text + "\n}\n";
}

/// llamaConfigJson() with `"rope_scaling": null` replaced by `scaling`.
std::string withRopeScaling(llvm::StringRef scaling) {
  std::string json = llamaConfigJson();
  llvm::StringRef key = "\"rope_scaling\": null";
  return json.replace(json.find(key.str()), key.size(),
                      "\"rope_scaling\": " + scaling.str());
}

ModelConfig tinyLlama() {
  ModelConfig c;
  c.hiddenSize = 8;
  c.intermediateSize = 12;
  c.numLayers = 2;
  c.numHeads = 2;
  c.numKVHeads = 1;
  c.headDim = 4;
  c.rotaryDim = 4;
  c.vocabSize = 6;
  return c;
}

/// The synthetic weights of `config`, keyed by canonical name.
std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>
syntheticWeights(const ModelConfig &config) {
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>
      weights;
  int seed = 0;
  for (const auto &[name, shape] : canonicalShapes(config))
    weights[name] = {shape, syntheticValues(product(shape), seed++)};
  return weights;
}

using Weights = decltype(syntheticWeights(ModelConfig()));

/// Writes `weights` (as F32 or BF16) to a safetensors file.
void writeWeights(const std::string &path, const Weights &weights,
                  DType dtype = DType::F32) {
  SafetensorsWriter writer;
  writer.setMetadata("format", "pt");
  for (const auto &[name, entry] : weights) {
    std::string bytes;
    if (dtype == DType::F32) {
      bytes = floatBytes(entry.second);
    } else {
      for (float v : entry.second) {
        uint16_t b = floatToBFloat16(v);
        bytes.append(reinterpret_cast<const char *>(&b), 2);
      }
    }
    writer.addTensor(name, dtype, entry.first,
                     std::vector<uint8_t>(bytes.begin(), bytes.end()));
  }
  llvm::Error err = writer.write(path);
  ASSERT_FALSE(err) << llvm::toString(std::move(err));
}

/// Writes a single-file HF directory.
void writeModelDir(const TempDir &dir, const std::string &config,
                   const Weights &weights, DType dtype = DType::F32) {
  writeFile(dir.file("config.json"), config);
  writeWeights(dir.file("model.safetensors"), weights, dtype);
}

/// Splits `weights` into two shards (layer 1 in the second) plus an index.
void writeShardedDir(const TempDir &dir, const std::string &config,
                     const Weights &weights) {
  writeFile(dir.file("config.json"), config);
  Weights first, second;
  std::string index = R"({"metadata": {"total_size": 0}, "weight_map": {)";
  bool comma = false;
  for (const auto &[name, entry] : weights) {
    bool late = llvm::StringRef(name).starts_with("model.layers.1.") ||
                name == names::lmHead();
    (late ? second : first)[name] = entry;
    index += std::string(comma ? ", " : "") + "\"" + name + "\": \"" +
             (late ? "model-00002-of-00002.safetensors"
                   : "model-00001-of-00002.safetensors") +
             "\"";
    comma = true;
  }
  writeFile(dir.file("model.safetensors.index.json"), index + "}}");
  writeWeights(dir.file("model-00001-of-00002.safetensors"), first);
  writeWeights(dir.file("model-00002-of-00002.safetensors"), second);
}

/// Checks that `ckpt` holds exactly `weights`.
void expectWeights(const Checkpoint &ckpt, const Weights &weights) {
  EXPECT_EQ(ckpt.tensors.size(), weights.size());
  for (const auto &[name, entry] : weights) {
    auto it = ckpt.tensors.find(name);
    ASSERT_NE(it, ckpt.tensors.end()) << name;
    EXPECT_EQ(it->second.shape, entry.first) << name;
    EXPECT_EQ(it->second.toFloat32(), entry.second) << name;
  }
}
} // namespace

//===----------------------------------------------------------------------===//
// Valid directories
//===----------------------------------------------------------------------===//

TEST(HFCheckpoint, SingleFileLlama) {
  TempDir dir;
  Weights weights = syntheticWeights(tinyLlama());
  writeModelDir(dir, llamaConfigJson(), weights);
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadHFCheckpoint(dir.path));
  const ModelConfig &c = ckpt.config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.hiddenSize, 8);
  EXPECT_EQ(c.intermediateSize, 12);
  EXPECT_EQ(c.numLayers, 2);
  EXPECT_EQ(c.numHeads, 2);
  EXPECT_EQ(c.numKVHeads, 1);
  EXPECT_EQ(c.headDim, 4);
  EXPECT_EQ(c.rotaryDim, 4);
  EXPECT_EQ(c.vocabSize, 6);
  EXPECT_EQ(c.maxPositions, 64);
  EXPECT_EQ(c.rmsNormEps, 1e-5);
  EXPECT_EQ(c.ropeTheta, 10000.0);
  EXPECT_EQ(c.ropeLayout, RopeLayout::HalfSplit);
  EXPECT_FALSE(c.ropeScaling.has_value());
  EXPECT_FALSE(c.tiedEmbeddings);
  EXPECT_FALSE(c.attentionBias);
  EXPECT_FALSE(ckpt.tokenizer.has_value());
  expectWeights(ckpt, weights);
}

TEST(HFCheckpoint, BF16TiedWithInvFreqAndStrayHead) {
  TempDir dir;
  ModelConfig config = tinyLlama();
  config.tiedEmbeddings = true;
  Weights weights = syntheticWeights(config);
  Weights stored = weights;
  // Older checkpoints carry rotary inverse frequencies; some tied ones also
  // store the head. Both are dropped on load.
  stored[names::layer(0, "self_attn.rotary_emb.inv_freq")] = {{2}, {1, 0.01f}};
  stored[names::lmHead()] = stored[names::embedTokens()];
  std::string json = llamaConfigJson();
  json.replace(json.find("\"tie_word_embeddings\": false"),
               strlen("\"tie_word_embeddings\": false"),
               "\"tie_word_embeddings\": true");
  writeModelDir(dir, json, stored, DType::BF16);
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadHFCheckpoint(dir.path));
  EXPECT_TRUE(ckpt.config.tiedEmbeddings);
  EXPECT_EQ(ckpt.tensors.size(), weights.size());
  EXPECT_EQ(ckpt.tensors.count(names::lmHead()), 0u);
  RESPIN_ASSERT_OK_AND_ASSIGN(embed, ckpt.get(names::embedTokens()));
  EXPECT_EQ(embed->dtype, DType::BF16);
  std::vector<float> expected;
  for (float v : weights[names::embedTokens()].second)
    expected.push_back(bfloat16ToFloat(floatToBFloat16(v)));
  EXPECT_EQ(embed->toFloat32(), expected);
}

TEST(HFCheckpoint, ShardedWithIndex) {
  TempDir dir;
  Weights weights = syntheticWeights(tinyLlama());
  writeShardedDir(dir, llamaConfigJson(), weights);
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadHFCheckpoint(dir.path));
  expectWeights(ckpt, weights);
  EXPECT_EQ(ckpt.mappedFiles.size(), 2u);
}

TEST(HFCheckpoint, Qwen2WithBiases) {
  TempDir dir;
  ModelConfig config = tinyLlama();
  config.attentionBias = true;
  Weights weights = syntheticWeights(config);
  std::string json =
      R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
    "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2,
    "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 6,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "sliding_window": 4096, "use_sliding_window": false,
    "max_window_layers": 21, "tie_word_embeddings": false, "hidden_act": "silu"})";
  writeModelDir(dir, json, weights);
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadHFCheckpoint(dir.path));
  EXPECT_EQ(ckpt.config.architecture, "qwen2");
  EXPECT_TRUE(ckpt.config.attentionBias);
  EXPECT_EQ(ckpt.config.ropeTheta, 1e6);
  EXPECT_EQ(ckpt.config.rmsNormEps, 1e-6);
  expectWeights(ckpt, weights);
  RESPIN_ASSERT_OK_AND_ASSIGN(
      bias, ckpt.get(names::layer(1, "self_attn.q_proj.bias")));
  EXPECT_EQ(bias->shape, (std::vector<int64_t>{8}));

  // Without the biases the checkpoint is incomplete.
  Weights noBias = weights;
  noBias.erase(names::layer(1, "self_attn.v_proj.bias"));
  writeWeights(dir.file("model.safetensors"), noBias);
  expectError(loadHFCheckpoint(dir.path),
              {dir.path,
               "missing tensor 'model.layers.1.self_attn.v_proj.bias'", "[4]"});
}

TEST(HFCheckpoint, TokenizerJsonIsLoaded) {
  TempDir dir;
  writeModelDir(dir, llamaConfigJson(), syntheticWeights(tinyLlama()));
  writeFile(dir.file("tokenizer.json"), R"({
    "version": "1.0", "added_tokens": [], "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false,
                      "trim_offsets": true, "use_regex": true},
    "post_processor": null, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3,
                                       "abc": 4, "d": 5},
              "merges": ["a b", "ab c"]}})");
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadHFCheckpoint(dir.path));
  ASSERT_TRUE(ckpt.tokenizer.has_value());
  EXPECT_EQ(ckpt.tokenizer->kind, TokenizerData::Kind::ByteLevelBPE);
  EXPECT_EQ(ckpt.tokenizer->tokens.size(), 6u);
  // A broken tokenizer.json is reported, not ignored.
  writeFile(dir.file("tokenizer.json"), "{");
  expectError(loadHFCheckpoint(dir.path), {"tokenizer.json"});
}

//===----------------------------------------------------------------------===//
// config.json parsing
//===----------------------------------------------------------------------===//

TEST(HFConfig, DefaultsForOptionalFields) {
  RESPIN_ASSERT_OK_AND_ASSIGN(c, parseHFConfig(R"({"model_type": "llama",
      "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
      "num_attention_heads": 8, "vocab_size": 512, "head_dim": null})",
                                               "c.json"));
  EXPECT_EQ(c.headDim, 8);    // hidden / heads
  EXPECT_EQ(c.numKVHeads, 8); // = heads
  EXPECT_EQ(c.rotaryDim, 8);
  EXPECT_EQ(c.rmsNormEps, 1e-6);
  EXPECT_EQ(c.ropeTheta, 10000.0);
  EXPECT_EQ(c.maxPositions, 0);
  EXPECT_FALSE(c.tiedEmbeddings);
  EXPECT_FALSE(c.attentionBias);
  EXPECT_EQ(c.ropeLayout, RopeLayout::HalfSplit);

  // Explicit head_dim (Gemma/Qwen3 style hidden != heads * head_dim).
  RESPIN_ASSERT_OK_AND_ASSIGN(d, parseHFConfig(R"({"model_type": "mistral",
      "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
      "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 16,
      "vocab_size": 512, "max_position_embeddings": 4096,
      "sliding_window": 4096})",
                                               "d.json"));
  EXPECT_EQ(d.architecture, "mistral");
  EXPECT_EQ(d.headDim, 16);
  EXPECT_EQ(d.rotaryDim, 16);
  EXPECT_EQ(d.numKVHeads, 2);

  // A llama under another model_type name is accepted via architectures.
  RESPIN_ASSERT_OK_AND_ASSIGN(e, parseHFConfig(R"({"model_type": "smollm",
      "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 172, "num_hidden_layers": 5,
      "num_attention_heads": 8, "vocab_size": 512})",
                                               "e.json"));
  EXPECT_EQ(e.architecture, "smollm");
}

TEST(HFConfig, Llama3RopeScaling) {
  RESPIN_ASSERT_OK_AND_ASSIGN(c,
                              parseHFConfig(withRopeScaling(R"({"factor": 32.0,
          "high_freq_factor": 4.0, "low_freq_factor": 1.0,
          "original_max_position_embeddings": 8192, "rope_type": "llama3"})"),
                                            "c.json"));
  ASSERT_TRUE(c.ropeScaling.has_value());
  EXPECT_EQ(c.ropeScaling->factor, 32.0);
  EXPECT_EQ(c.ropeScaling->lowFreqFactor, 1.0);
  EXPECT_EQ(c.ropeScaling->highFreqFactor, 4.0);
  EXPECT_EQ(c.ropeScaling->originalMaxPositions, 8192);

  // The same config in a directory.
  TempDir dir;
  writeModelDir(dir, withRopeScaling(R"({"factor": 8.0, "high_freq_factor": 4.0,
                    "low_freq_factor": 1.0,
                    "original_max_position_embeddings": 16,
                    "rope_type": "llama3"})"),
                syntheticWeights(tinyLlama()));
  RESPIN_ASSERT_OK_AND_ASSIGN(ckpt, loadHFCheckpoint(dir.path));
  ASSERT_TRUE(ckpt.config.ropeScaling.has_value());
  EXPECT_EQ(ckpt.config.ropeScaling->factor, 8.0);
  EXPECT_EQ(ckpt.config.ropeScaling->originalMaxPositions, 16);

  // The older "type" spelling, and "default" meaning no scaling.
  RESPIN_ASSERT_OK_AND_ASSIGN(
      d, parseHFConfig(withRopeScaling(R"({"type": "default"})"), "d.json"));
  EXPECT_FALSE(d.ropeScaling.has_value());
}

TEST(HFConfig, Errors) {
  expectError(
      parseHFConfig(withRopeScaling(R"({"type": "linear", "factor": 2.0})"),
                    "c.json"),
      {"c.json", "rope_scaling type 'linear' is not supported"});
  expectError(
      parseHFConfig(withRopeScaling(R"({"rope_type": "yarn", "factor": 4.0})"),
                    "c.json"),
      {"rope_scaling type 'yarn'"});
  expectError(parseHFConfig(
                  withRopeScaling(R"({"rope_type": "llama3", "factor": 8.0})"),
                  "c.json"),
              {"c.json: rope_scaling", "'low_freq_factor' is missing"});
  expectError(parseHFConfig(withRopeScaling("[1]"), "c.json"),
              {"'rope_scaling' must be an object or null"});

  for (const char *field :
       {"hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "vocab_size"}) {
    std::string json = llamaConfigJson();
    size_t at = json.find(std::string("\"") + field + "\"");
    size_t end = json.find('\n', at);
    json.erase(at, end - at + 1);
    expectError(
        parseHFConfig(json, "cfg.json"),
        {"cfg.json", std::string("required field '") + field + "' is missing"});
  }
  expectError(parseHFConfig(R"({"hidden_size": 8})", "m.json"),
              {"m.json", "'model_type' is missing"});
  expectError(parseHFConfig(R"({"model_type": "gpt2"})", "m.json"),
              {"model_type 'gpt2' is not supported"});
  expectError(parseHFConfig("{\"model_type\": ", "m.json"),
              {"m.json", "invalid JSON"});
  expectError(parseHFConfig("[]", "m.json"), {"expected a JSON object"});
  std::string json = llamaConfigJson();
  json.replace(json.find("\"hidden_size\": 8"), strlen("\"hidden_size\": 8"),
               "\"hidden_size\": \"8\"");
  expectError(parseHFConfig(json, "m.json"),
              {"field 'hidden_size' must be an integer"});
  json = llamaConfigJson();
  json.replace(json.find("\"silu\""), 6, "\"gelu\"");
  expectError(parseHFConfig(json, "m.json"),
              {"hidden_act 'gelu' is not supported"});
  json = llamaConfigJson();
  json.replace(json.find("\"attention_bias\": false"),
               strlen("\"attention_bias\": false"), "\"attention_bias\": true");
  expectError(parseHFConfig(json, "m.json"),
              {"attention_bias = true is not supported"});
  expectError(parseHFConfig(llamaConfigJson("\"mlp_bias\": true"), "m.json"),
              {"mlp_bias = true"});
  // Mistral with a real sliding window (shorter than the context).
  json = llamaConfigJson("\"sliding_window\": 16");
  json.replace(json.find("\"llama\""), 7, "\"mistral\"");
  expectError(
      parseHFConfig(json, "m.json"),
      {"sliding_window = 16", "max_position_embeddings = 64", "not supported"});
  // Heads that do not divide, and a head count that is not positive.
  std::string heads = R"({"model_type": "llama", "hidden_size": 10,
      "intermediate_size": 12, "num_hidden_layers": 1,
      "num_attention_heads": 3, "vocab_size": 4})";
  expectError(parseHFConfig(heads, "h.json"),
              {"hidden_size = 10", "num_attention_heads = 3"});
  std::string zero = R"({"model_type": "llama", "hidden_size": 8,
      "intermediate_size": 12, "num_hidden_layers": 1,
      "num_attention_heads": 0, "vocab_size": 4})";
  expectError(parseHFConfig(zero, "h.json"), {"num_attention_heads"});
  std::string kv = R"({"model_type": "llama", "hidden_size": 8,
      "intermediate_size": 12, "num_hidden_layers": 1,
      "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 4})";
  expectError(parseHFConfig(kv, "h.json"),
              {"numHeads = 4", "not a multiple of numKVHeads = 3"});
  std::string huge = R"({"model_type": "llama", "hidden_size": 8,
      "intermediate_size": 99999999999999, "num_hidden_layers": 1,
      "num_attention_heads": 4, "vocab_size": 4})";
  expectError(parseHFConfig(huge, "h.json"),
              {"intermediateSize", "out of range"});
}

//===----------------------------------------------------------------------===//
// Directory malformations
//===----------------------------------------------------------------------===//

TEST(HFMalformed, MissingFiles) {
  TempDir dir;
  expectError(loadHFCheckpoint(dir.path), {"config.json", "cannot open"});
  writeFile(dir.file("config.json"), llamaConfigJson());
  expectError(loadHFCheckpoint(dir.path),
              {dir.path, "neither model.safetensors nor"});
}

TEST(HFMalformed, IndexProblems) {
  TempDir dir;
  Weights weights = syntheticWeights(tinyLlama());
  writeShardedDir(dir, llamaConfigJson(), weights);

  // The index points at a shard that does not exist.
  llvm::sys::fs::remove(dir.file("model-00002-of-00002.safetensors"));
  expectError(loadHFCheckpoint(dir.path),
              {"model.safetensors.index.json",
               "shard 'model-00002-of-00002.safetensors'", "cannot be loaded",
               "cannot open"});

  // The second shard lacks one tensor the index assigns to it.
  Weights second;
  for (const auto &[name, entry] : weights)
    if (llvm::StringRef(name).starts_with("model.layers.1.") &&
        name != names::layer(1, "mlp.up_proj.weight"))
      second[name] = entry;
  second[names::lmHead()] = weights.at(names::lmHead());
  writeWeights(dir.file("model-00002-of-00002.safetensors"), second);
  expectError(loadHFCheckpoint(dir.path),
              {"tensor 'model.layers.1.mlp.up_proj.weight'",
               "listed in shard 'model-00002-of-00002.safetensors'",
               "does not contain it"});

  // The same tensor in both shards.
  second[names::layer(1, "mlp.up_proj.weight")] =
      weights.at(names::layer(1, "mlp.up_proj.weight"));
  second[names::embedTokens()] = weights.at(names::embedTokens());
  writeWeights(dir.file("model-00002-of-00002.safetensors"), second);
  expectError(loadHFCheckpoint(dir.path),
              {"tensor 'model.embed_tokens.weight'", "appears in both",
               "model-00001-of-00002.safetensors",
               "model-00002-of-00002.safetensors"});

  // Shard names may not leave the directory; the index must be an object.
  writeFile(dir.file("model.safetensors.index.json"),
            R"({"weight_map": {"lm_head.weight": "../evil.safetensors"}})");
  expectError(loadHFCheckpoint(dir.path),
              {"tensor 'lm_head.weight'", "shard file name"});
  writeFile(dir.file("model.safetensors.index.json"), R"({"weight_map": 3})");
  expectError(loadHFCheckpoint(dir.path), {"'weight_map' must be an object"});
  writeFile(dir.file("model.safetensors.index.json"), "not json");
  expectError(loadHFCheckpoint(dir.path),
              {"model.safetensors.index.json", "invalid JSON"});
}

TEST(HFMalformed, UnlistedShardTensor) {
  TempDir dir;
  Weights weights = syntheticWeights(tinyLlama());
  writeShardedDir(dir, llamaConfigJson(), weights);
  Weights first;
  for (const auto &[name, entry] : weights)
    if (!llvm::StringRef(name).starts_with("model.layers.1.") &&
        name != names::lmHead())
      first[name] = entry;
  first["model.extra.weight"] = {{1}, {0.0f}};
  writeWeights(dir.file("model-00001-of-00002.safetensors"), first);
  expectError(loadHFCheckpoint(dir.path),
              {"holds tensor 'model.extra.weight'", "does not list"});
}

TEST(HFMalformed, TensorProblems) {
  TempDir dir;
  ModelConfig config = tinyLlama();
  Weights weights = syntheticWeights(config);

  // Untied but no lm_head.
  Weights noHead = weights;
  noHead.erase(names::lmHead());
  writeModelDir(dir, llamaConfigJson(), noHead);
  expectError(loadHFCheckpoint(dir.path),
              {dir.path, "tensor 'lm_head.weight' is missing",
               "tie_word_embeddings is false"});

  // A NaN weight.
  Weights nan = weights;
  nan[names::layer(1, "mlp.down_proj.weight")].second[17] = std::nanf("");
  writeModelDir(dir, llamaConfigJson(), nan);
  expectError(
      loadHFCheckpoint(dir.path),
      {"tensor 'model.layers.1.mlp.down_proj.weight'", "element 17", "is NaN"});

  // An unexpected tensor (a bias Llama does not have).
  Weights extra = weights;
  extra[names::layer(0, "self_attn.q_proj.bias")] = {{8},
                                                     std::vector<float>(8)};
  writeModelDir(dir, llamaConfigJson(), extra);
  expectError(loadHFCheckpoint(dir.path),
              {"unexpected tensor 'model.layers.0.self_attn.q_proj.bias'"});

  // A transposed projection.
  Weights transposed = weights;
  transposed[names::layer(0, "mlp.gate_proj.weight")].first = {8, 12};
  writeModelDir(dir, llamaConfigJson(), transposed);
  expectError(loadHFCheckpoint(dir.path),
              {"tensor 'model.layers.0.mlp.gate_proj.weight'",
               "has shape [8, 12]", "expected [12, 8]"});

  // A corrupt weights file is reported with its path.
  writeFile(dir.file("model.safetensors"), "garbage!");
  expectError(loadHFCheckpoint(dir.path), {"model.safetensors"});
}

//===----------------------------------------------------------------------===//
// ModelConfig JSON and parameter archives
//===----------------------------------------------------------------------===//

TEST(ParameterArchive, ConfigJsonRoundTrip) {
  ModelConfig c = tinyLlama();
  c.architecture = "qwen2";
  c.maxPositions = 131072;
  c.ropeTheta = 500000.0;
  c.rmsNormEps = 1e-5; // not exactly representable: must survive exactly
  c.ropeLayout = RopeLayout::HalfSplit;
  c.ropeScaling = RopeScaling{32.0, 1.0, 4.0, 8192};
  c.tiedEmbeddings = true;
  c.attentionBias = true;
  std::string json = modelConfigToJson(c);
  EXPECT_NE(json.find("\"half-split\""), std::string::npos);
  RESPIN_ASSERT_OK_AND_ASSIGN(back, modelConfigFromJson(json, "cfg"));
  EXPECT_EQ(back.architecture, c.architecture);
  EXPECT_EQ(back.hiddenSize, c.hiddenSize);
  EXPECT_EQ(back.intermediateSize, c.intermediateSize);
  EXPECT_EQ(back.numLayers, c.numLayers);
  EXPECT_EQ(back.numHeads, c.numHeads);
  EXPECT_EQ(back.numKVHeads, c.numKVHeads);
  EXPECT_EQ(back.headDim, c.headDim);
  EXPECT_EQ(back.vocabSize, c.vocabSize);
  EXPECT_EQ(back.maxPositions, c.maxPositions);
  EXPECT_EQ(back.ropeTheta, c.ropeTheta);
  EXPECT_EQ(back.rotaryDim, c.rotaryDim);
  EXPECT_EQ(back.ropeLayout, c.ropeLayout);
  EXPECT_EQ(back.rmsNormEps, c.rmsNormEps);
  EXPECT_EQ(back.tiedEmbeddings, c.tiedEmbeddings);
  EXPECT_EQ(back.attentionBias, c.attentionBias);
  ASSERT_TRUE(back.ropeScaling.has_value());
  EXPECT_EQ(back.ropeScaling->factor, 32.0);
  EXPECT_EQ(back.ropeScaling->lowFreqFactor, 1.0);
  EXPECT_EQ(back.ropeScaling->highFreqFactor, 4.0);
  EXPECT_EQ(back.ropeScaling->originalMaxPositions, 8192);

  c.ropeScaling.reset();
  c.ropeLayout = RopeLayout::Interleaved;
  RESPIN_ASSERT_OK_AND_ASSIGN(plain,
                              modelConfigFromJson(modelConfigToJson(c), "cfg"));
  EXPECT_FALSE(plain.ropeScaling.has_value());
  EXPECT_EQ(plain.ropeLayout, RopeLayout::Interleaved);
}

TEST(ParameterArchive, ConfigJsonErrors) {
  std::string json = modelConfigToJson(tinyLlama());
  std::string noLayers = json;
  size_t at = noLayers.find("\"num_layers\":");
  noLayers.erase(at, noLayers.find(',', at) - at + 1);
  expectError(
      modelConfigFromJson(noLayers, "a.safetensors: respin.config"),
      {"a.safetensors: respin.config", "field 'num_layers' is missing"});
  std::string layout = json;
  layout.replace(layout.find("\"interleaved\""), 13, "\"sideways\"");
  expectError(modelConfigFromJson(layout, "src"),
              {"rope_layout", "'sideways'"});
  std::string wrong = json;
  wrong.replace(wrong.find("\"tied_embeddings\":false"),
                strlen("\"tied_embeddings\":false"), "\"tied_embeddings\":0");
  expectError(modelConfigFromJson(wrong, "src"),
              {"'tied_embeddings' must be a boolean"});
  expectError(modelConfigFromJson("{", "src"), {"src", "invalid"});
  ModelConfig bad = tinyLlama();
  bad.rotaryDim = 5;
  expectError(modelConfigFromJson(modelConfigToJson(bad), "src"),
              {"rotaryDim = 5", "even"});
}

TEST(ParameterArchive, RoundTripStories260K) {
  TempDir dir;
  RESPIN_ASSERT_OK_AND_ASSIGN(
      original, loadGGUFCheckpoint(dataPath("models/stories260K.gguf")));
  std::string path = dir.file("stories.rpa.safetensors");
  llvm::Error err = writeParameterArchive(original, path);
  ASSERT_FALSE(err) << llvm::toString(std::move(err));
  RESPIN_ASSERT_OK_AND_ASSIGN(loaded, loadParameterArchive(path));
  EXPECT_EQ(modelConfigToJson(loaded.config),
            modelConfigToJson(original.config));
  EXPECT_EQ(loaded.config.rmsNormEps, original.config.rmsNormEps);
  ASSERT_TRUE(loaded.tokenizer.has_value());
  EXPECT_EQ(loaded.tokenizer->tokens, original.tokenizer->tokens);
  EXPECT_EQ(loaded.tokenizer->scores, original.tokenizer->scores);
  EXPECT_EQ(loaded.tokenizer->bosId, original.tokenizer->bosId);
  ASSERT_EQ(loaded.tensors.size(), original.tensors.size());
  for (const auto &[name, tensor] : original.tensors) {
    auto it = loaded.tensors.find(name);
    ASSERT_NE(it, loaded.tensors.end()) << name;
    EXPECT_EQ(it->second.shape, tensor.shape) << name;
    EXPECT_EQ(it->second.dtype, tensor.dtype) << name;
    ASSERT_EQ(it->second.numBytes, tensor.numBytes) << name;
    EXPECT_EQ(std::memcmp(it->second.data, tensor.data, tensor.numBytes), 0)
        << name;
  }
  EXPECT_FALSE(errorText(loaded.validate(path)).size());

  // Rewriting the archive in place from its own mapping is safe (the new
  // file replaces the old one by rename; the mapping keeps the old inode).
  err = writeParameterArchive(loaded, path);
  ASSERT_FALSE(err) << llvm::toString(std::move(err));
  RESPIN_ASSERT_OK_AND_ASSIGN(again, loadParameterArchive(path));
  EXPECT_EQ(again.tensors.size(), original.tensors.size());
  EXPECT_EQ(std::memcmp(again.tensors.at(names::embedTokens()).data,
                        original.tensors.at(names::embedTokens()).data,
                        512 * 64 * 4),
            0);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"stories.rpa.safetensors"});
}

TEST(ParameterArchive, LoadErrors) {
  TempDir dir;
  SafetensorsWriter plain;
  plain.addTensor("w", DType::F32, {1}, std::vector<uint8_t>(4, 0));
  ASSERT_FALSE(errorText(plain.write(dir.file("plain.safetensors"))).size());
  expectError(
      loadParameterArchive(dir.file("plain.safetensors")),
      {"plain.safetensors", "not a respin parameter archive", "respin.format"});
  SafetensorsWriter future;
  future.setMetadata("respin.format", "2");
  ASSERT_FALSE(errorText(future.write(dir.file("f.safetensors"))).size());
  expectError(loadParameterArchive(dir.file("f.safetensors")),
              {"unsupported respin archive format '2'"});
  SafetensorsWriter noConfig;
  noConfig.setMetadata("respin.format", "1");
  ASSERT_FALSE(errorText(noConfig.write(dir.file("n.safetensors"))).size());
  expectError(loadParameterArchive(dir.file("n.safetensors")),
              {"'respin.config' is missing"});
  SafetensorsWriter badConfig;
  badConfig.setMetadata("respin.format", "1");
  badConfig.setMetadata("respin.config", "{\"hidden_size\": 8}");
  ASSERT_FALSE(errorText(badConfig.write(dir.file("b.safetensors"))).size());
  expectError(loadParameterArchive(dir.file("b.safetensors")),
              {"b.safetensors: respin.config", "missing"});
}
