//===- HFCheckpoint.cpp - Hugging Face checkpoint directories -------------===//
//
// Reads config.json into a ModelConfig (rejecting features respin does not
// implement instead of silently ignoring them), maps model.safetensors or
// every shard named by model.safetensors.index.json, and loads tokenizer.json
// when present. Tensor names in HF checkpoints are already canonical.
//
// loadHFTokenizerJson lives in HFTokenizer.cpp.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/HFCheckpoint.h"
#include "FormatSupport.h"
#include "JsonSupport.h"
#include "respin/Formats/InputFile.h"
#include "respin/Formats/Safetensors.h"
#include "respin/Formats/SentencePieceModel.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <cmath>

using namespace respin;
using json = nlohmann::json;

static std::string joinPath(llvm::StringRef directory, llvm::StringRef file) {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, file);
  return std::string(path);
}

/// Reads a whole (small, textual) file such as config.json.
static llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readFile(llvm::StringRef path) {
  return readInputFile(path);
}

static llvm::Expected<json> parseJsonObject(llvm::StringRef text,
                                            llvm::StringRef source) {
  if (llvm::Error error = checkJsonNesting(text, source))
    return std::move(error);
  json value;
  try {
    value = json::parse(text.begin(), text.end());
  } catch (const json::exception &e) {
    return makeError(source + ": invalid JSON: " + e.what());
  }
  if (!value.is_object())
    return makeError(source + ": expected a JSON object, got " +
                     value.type_name());
  return value;
}

//===----------------------------------------------------------------------===//
// config.json
//===----------------------------------------------------------------------===//

namespace {
/// Typed field access; JSON null counts as absent (HF writes nulls for
/// unset optional fields such as head_dim or rope_scaling).
class ConfigReader {
public:
  ConfigReader(const json &object, llvm::StringRef source)
      : object(object), source(source) {}

  const json *find(llvm::StringRef key) const {
    auto it = object.find(key.str());
    if (it == object.end() || it->is_null())
      return nullptr;
    return &*it;
  }
  llvm::Error missing(llvm::StringRef key) const {
    return makeError(source + ": required field '" + key + "' is missing");
  }
  llvm::Error wrongType(llvm::StringRef key, llvm::StringRef expected) const {
    return makeError(source + ": field '" + key + "' must be " + expected);
  }

  llvm::Expected<std::optional<int64_t>> optInt(llvm::StringRef key) const {
    const json *value = find(key);
    if (!value)
      return std::nullopt;
    if (value->is_number_unsigned() &&
        value->get<uint64_t>() > (uint64_t)INT64_MAX)
      return wrongType(key, "an integer that fits in 64 bits");
    if (!value->is_number_integer())
      return wrongType(key, "an integer");
    return value->get<int64_t>();
  }
  llvm::Expected<int64_t> reqInt(llvm::StringRef key) const {
    auto value = optInt(key);
    if (!value)
      return value.takeError();
    if (!*value)
      return missing(key);
    return **value;
  }
  llvm::Expected<std::optional<double>> optFloat(llvm::StringRef key) const {
    const json *value = find(key);
    if (!value)
      return std::nullopt;
    if (!value->is_number())
      return wrongType(key, "a number");
    return value->get<double>();
  }
  llvm::Expected<double> reqFloat(llvm::StringRef key) const {
    auto value = optFloat(key);
    if (!value)
      return value.takeError();
    if (!*value)
      return missing(key);
    return **value;
  }
  llvm::Expected<std::optional<bool>> optBool(llvm::StringRef key) const {
    const json *value = find(key);
    if (!value)
      return std::nullopt;
    if (!value->is_boolean())
      return wrongType(key, "a boolean");
    return value->get<bool>();
  }
  llvm::Expected<std::optional<std::string>>
  optString(llvm::StringRef key) const {
    const json *value = find(key);
    if (!value)
      return std::nullopt;
    if (!value->is_string())
      return wrongType(key, "a string");
    return value->get<std::string>();
  }

private:
  const json &object;
  llvm::StringRef source;
};
} // namespace

/// True when model_type names a supported family or `architectures` says the
/// model is a LlamaForCausalLM under another name.
static bool isLlamaLike(const json &config, llvm::StringRef modelType) {
  if (modelType == "llama" || modelType == "mistral" || modelType == "qwen2")
    return true;
  auto it = config.find("architectures");
  if (it == config.end() || !it->is_array())
    return false;
  for (const json &name : *it)
    if (name.is_string() && llvm::StringRef(name.get_ref<const std::string &>())
                                .ends_with("LlamaForCausalLM"))
      return true;
  return false;
}

static llvm::Expected<std::optional<RopeScaling>>
parseRopeScaling(const ConfigReader &top, llvm::StringRef source) {
  const json *scaling = top.find("rope_scaling");
  if (!scaling)
    return std::nullopt;
  if (!scaling->is_object())
    return top.wrongType("rope_scaling", "an object or null");
  std::string sub = (source + ": rope_scaling").str();
  ConfigReader reader(*scaling, sub);
  auto type = reader.optString("rope_type");
  if (!type)
    return type.takeError();
  if (!*type) {
    type = reader.optString("type"); // older spelling
    if (!type)
      return type.takeError();
  }
  if (!*type)
    return reader.missing("rope_type");
  if (**type == "default")
    return std::nullopt;
  if (**type != "llama3")
    return makeError(source + ": rope_scaling type '" + **type +
                     "' is not supported (only 'llama3')");
  RopeScaling result;
  auto factor = reader.reqFloat("factor");
  auto low = reader.reqFloat("low_freq_factor");
  auto high = reader.reqFloat("high_freq_factor");
  auto original = reader.reqInt("original_max_position_embeddings");
  if (!factor)
    return factor.takeError();
  if (!low)
    return low.takeError();
  if (!high)
    return high.takeError();
  if (!original)
    return original.takeError();
  result.factor = *factor;
  result.lowFreqFactor = *low;
  result.highFreqFactor = *high;
  result.originalMaxPositions = *original;
  return result;
}

/// Rejects features that would change the computation if ignored.
static llvm::Error checkUnsupportedFeatures(const ConfigReader &reader,
                                            const ModelConfig &config,
                                            llvm::StringRef source) {
  auto act = reader.optString("hidden_act");
  if (!act)
    return act.takeError();
  if (*act && **act != "silu")
    return makeError(source + ": hidden_act '" + **act +
                     "' is not supported (only 'silu')");
  auto mlpBias = reader.optBool("mlp_bias");
  if (!mlpBias)
    return mlpBias.takeError();
  if (mlpBias->value_or(false))
    return makeError(source + ": mlp_bias = true is not supported");
  auto attnBias = reader.optBool("attention_bias");
  if (!attnBias)
    return attnBias.takeError();
  // Llama's attention_bias also adds an o_proj bias, which respin lacks.
  if (attnBias->value_or(false) && config.architecture != "qwen2")
    return makeError(source +
                     ": attention_bias = true is not supported for "
                     "model_type '" +
                     config.architecture + "'");

  // A sliding window no shorter than the context never restricts attention.
  auto useWindow = reader.optBool("use_sliding_window");
  if (!useWindow)
    return useWindow.takeError();
  auto window = reader.optInt("sliding_window");
  if (!window)
    return window.takeError();
  bool windowActive =
      config.architecture == "qwen2" ? useWindow->value_or(false) : true;
  if (*window && windowActive &&
      (config.maxPositions == 0 || **window < config.maxPositions))
    return makeError(source + ": sliding_window = " + llvm::Twine(**window) +
                     " (shorter than max_position_embeddings = " +
                     llvm::Twine(config.maxPositions) + ") is not supported");
  return llvm::Error::success();
}

/// Reads the required and defaulted size fields.
static llvm::Error parseSizes(const ConfigReader &reader, ModelConfig &config,
                              llvm::StringRef source) {
  for (auto [key, field] :
       {std::pair<const char *, int64_t *>{"hidden_size", &config.hiddenSize},
        {"intermediate_size", &config.intermediateSize},
        {"num_hidden_layers", &config.numLayers},
        {"num_attention_heads", &config.numHeads},
        {"vocab_size", &config.vocabSize}}) {
    auto value = reader.reqInt(key);
    if (!value)
      return value.takeError();
    *field = *value;
  }
  if (config.numHeads <= 0)
    return makeError(source + ": num_attention_heads must be positive");
  config.numKVHeads = config.numHeads;
  if (auto err = assignIfPresent(reader.optInt("num_key_value_heads"),
                                 config.numKVHeads))
    return err;
  auto headDim = reader.optInt("head_dim");
  if (!headDim)
    return headDim.takeError();
  if (*headDim) {
    config.headDim = **headDim;
  } else {
    if (config.hiddenSize % config.numHeads != 0)
      return makeError(
          source + ": hidden_size = " + llvm::Twine(config.hiddenSize) +
          " is not a multiple of num_attention_heads = " +
          llvm::Twine(config.numHeads) + " and head_dim is not given");
    config.headDim = config.hiddenSize / config.numHeads;
  }
  if (auto err = assignIfPresent(reader.optInt("max_position_embeddings"),
                                 config.maxPositions))
    return err;
  config.rotaryDim = config.headDim;
  auto partial = reader.optFloat("partial_rotary_factor");
  if (!partial)
    return partial.takeError();
  if (*partial) {
    if (!(**partial > 0.0 && **partial <= 1.0))
      return makeError(source + ": partial_rotary_factor must be in (0, 1]");
    config.rotaryDim = (int64_t)std::lround(config.headDim * **partial);
  }
  return llvm::Error::success();
}

llvm::Expected<ModelConfig> respin::parseHFConfig(llvm::StringRef text,
                                                  llvm::StringRef source) {
  auto object = parseJsonObject(text, source);
  if (!object)
    return object.takeError();
  ConfigReader reader(*object, source);
  ModelConfig config;
  auto modelType = reader.optString("model_type");
  if (!modelType)
    return modelType.takeError();
  if (!*modelType)
    return reader.missing("model_type");
  if (!isLlamaLike(*object, **modelType))
    return makeError(source + ": model_type '" + **modelType +
                     "' is not supported (llama, mistral, qwen2 or a "
                     "LlamaForCausalLM)");
  config.architecture = **modelType;
  if (auto err = parseSizes(reader, config, source))
    return std::move(err);

  // Defaults follow transformers' LlamaConfig.
  config.rmsNormEps = 1e-6;
  config.ropeTheta = 10000.0;
  if (auto err =
          assignIfPresent(reader.optFloat("rms_norm_eps"), config.rmsNormEps))
    return std::move(err);
  if (auto err =
          assignIfPresent(reader.optFloat("rope_theta"), config.ropeTheta))
    return std::move(err);
  auto scaling = parseRopeScaling(reader, source);
  if (!scaling)
    return scaling.takeError();
  config.ropeScaling = *scaling;
  config.ropeLayout = RopeLayout::HalfSplit;
  config.tiedEmbeddings = false;
  if (auto err = assignIfPresent(reader.optBool("tie_word_embeddings"),
                                 config.tiedEmbeddings))
    return std::move(err);
  config.attentionBias = config.architecture == "qwen2";
  if (auto err = checkUnsupportedFeatures(reader, config, source))
    return std::move(err);
  if (auto err = config.validate(source))
    return std::move(err);
  return config;
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

/// Adds every tensor of `file` to `checkpoint`, taking over the mapping.
static void adoptFile(SafetensorsFile &file, Checkpoint &checkpoint) {
  for (const TensorView &tensor : file.tensors())
    checkpoint.tensors.emplace(tensor.name, tensor);
  checkpoint.mappedFiles.push_back(file.takeBuffer());
}

/// Shard names come from a file we do not trust: keep them inside the
/// checkpoint directory.
static bool isPlainFileName(llvm::StringRef name) {
  return !name.empty() && name != "." && name != ".." && !name.contains('/') &&
         !name.contains('\\');
}

/// Reads the weight_map of model.safetensors.index.json.
static llvm::Expected<std::map<std::string, std::string>>
readWeightMap(llvm::StringRef indexPath) {
  auto buffer = readFile(indexPath);
  if (!buffer)
    return buffer.takeError();
  auto index = parseJsonObject((*buffer)->getBuffer(), indexPath);
  if (!index)
    return index.takeError();
  auto it = index->find("weight_map");
  if (it == index->end() || !it->is_object())
    return makeError(indexPath + ": 'weight_map' must be an object");
  std::map<std::string, std::string> weightMap;
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    if (!entry.value().is_string() ||
        !isPlainFileName(entry.value().get_ref<const std::string &>()))
      return makeError(indexPath + ": tensor '" + entry.key() +
                       "' must map to a shard file name in the same "
                       "directory");
    weightMap[entry.key()] = entry.value().get<std::string>();
  }
  return weightMap;
}

/// Maps every shard of an index and cross-checks the index against them.
static llvm::Error loadShards(llvm::StringRef directory,
                              llvm::StringRef indexPath,
                              Checkpoint &checkpoint) {
  auto weightMap = readWeightMap(indexPath);
  if (!weightMap)
    return weightMap.takeError();
  // The first tensor naming each shard, for diagnostics.
  std::map<std::string, std::string> shardUser;
  for (const auto &[tensor, shard] : *weightMap)
    shardUser.emplace(shard, tensor);

  std::vector<std::pair<std::string, std::unique_ptr<SafetensorsFile>>> shards;
  for (const auto &[shard, tensorName] : shardUser) {
    auto file = SafetensorsFile::open(joinPath(directory, shard));
    if (!file)
      return makeError(indexPath + ": shard '" + shard +
                       "' (listed for "
                       "tensor '" +
                       tensorName + "') cannot be loaded: " +
                       llvm::toString(file.takeError()));
    shards.emplace_back(shard, std::move(*file));
  }

  std::map<std::string, std::string> owner; // tensor -> shard holding it
  for (const auto &[shard, file] : shards)
    for (const TensorView &tensor : file->tensors()) {
      auto [it, inserted] = owner.emplace(tensor.name, shard);
      if (!inserted)
        return makeError(indexPath + ": tensor '" + tensor.name +
                         "' appears in both shard '" + it->second +
                         "' and shard '" + shard + "'");
    }
  for (const auto &[tensor, shard] : owner) {
    auto listed = weightMap->find(tensor);
    if (listed == weightMap->end())
      return makeError(indexPath + ": shard '" + shard + "' holds tensor '" +
                       tensor + "', which the index does not list");
    if (listed->second != shard)
      return makeError(indexPath + ": tensor '" + tensor +
                       "' is listed in shard '" + listed->second +
                       "' but found in shard '" + shard + "'");
  }
  for (const auto &[tensor, shard] : *weightMap)
    if (!owner.count(tensor))
      return makeError(indexPath + ": tensor '" + tensor +
                       "' is listed in shard '" + shard +
                       "' but that shard does not contain it");
  for (auto &[shard, file] : shards)
    adoptFile(*file, checkpoint);
  return llvm::Error::success();
}

static llvm::Error loadWeights(llvm::StringRef directory,
                               Checkpoint &checkpoint) {
  std::string indexPath = joinPath(directory, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(indexPath))
    return loadShards(directory, indexPath, checkpoint);
  std::string single = joinPath(directory, "model.safetensors");
  if (!llvm::sys::fs::exists(single))
    return makeError(directory + ": neither model.safetensors nor "
                                 "model.safetensors.index.json exists");
  auto file = SafetensorsFile::open(single);
  if (!file)
    return file.takeError();
  adoptFile(**file, checkpoint);
  return llvm::Error::success();
}

/// Drops tensors that duplicate information and settles the lm_head question.
static llvm::Error normaliseTensors(llvm::StringRef directory,
                                    Checkpoint &checkpoint) {
  for (auto it = checkpoint.tensors.begin(); it != checkpoint.tensors.end();) {
    if (llvm::StringRef(it->first).ends_with(".rotary_emb.inv_freq"))
      it = checkpoint.tensors.erase(it);
    else
      ++it;
  }
  bool hasHead = checkpoint.tensors.count(names::lmHead());
  if (checkpoint.config.tiedEmbeddings) {
    // Some tied checkpoints also store the (identical) head; the embedding
    // is the single source of truth.
    checkpoint.tensors.erase(names::lmHead());
  } else if (!hasHead) {
    return makeError(directory + ": tensor '" + names::lmHead() +
                     "' is missing and tie_word_embeddings is false");
  }
  return llvm::Error::success();
}

llvm::Expected<Checkpoint> respin::loadHFCheckpoint(llvm::StringRef directory) {
  Checkpoint checkpoint;
  checkpoint.source = directory.str();
  std::string configPath = joinPath(directory, "config.json");
  auto configText = readFile(configPath);
  if (!configText)
    return configText.takeError();
  auto config = parseHFConfig((*configText)->getBuffer(), configPath);
  if (!config)
    return config.takeError();
  checkpoint.config = std::move(*config);

  if (auto err = loadWeights(directory, checkpoint))
    return std::move(err);
  if (auto err = normaliseTensors(directory, checkpoint))
    return std::move(err);

  // tokenizer.json first (what transformers loads), else the SentencePiece
  // tokenizer.model; the importer refuses a checkpoint with neither.
  std::string tokenizerPath = joinPath(directory, "tokenizer.json");
  std::string modelPath = joinPath(directory, "tokenizer.model");
  if (llvm::sys::fs::exists(tokenizerPath)) {
    auto tokenizer = loadHFTokenizerJson(tokenizerPath);
    if (!tokenizer)
      return tokenizer.takeError();
    checkpoint.tokenizer = std::move(*tokenizer);
  } else if (llvm::sys::fs::exists(modelPath)) {
    auto tokenizer = loadSentencePieceModel(modelPath);
    if (!tokenizer)
      return tokenizer.takeError();
    checkpoint.tokenizer = std::move(*tokenizer);
  }
  if (auto err = checkpoint.validate(directory))
    return std::move(err);
  return std::move(checkpoint);
}
