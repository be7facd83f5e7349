//===- ParameterArchive.cpp - respin parameter archives -------------------===//
//
// A parameter archive is a safetensors file whose metadata carries the model
// configuration and tokenizer as JSON, so one file describes a whole model.
// The config encoding is strict on read: every field must be present with
// the right type, so that a stale or hand-edited archive fails loudly.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/ParameterArchive.h"
#include "FormatSupport.h"
#include "JsonSupport.h"
#include "respin/Formats/Safetensors.h"

#include <nlohmann/json.hpp>

using namespace respin;
using json = nlohmann::json;

static constexpr const char *kFormatKey = "respin.format";
static constexpr const char *kFormatVersion = "1";
static constexpr const char *kConfigKey = "respin.config";
static constexpr const char *kTokenizerKey = "respin.tokenizer";

static const char *ropeLayoutName(RopeLayout layout) {
  return layout == RopeLayout::Interleaved ? "interleaved" : "half-split";
}

std::string respin::modelConfigToJson(const ModelConfig &config) {
  json scaling = nullptr;
  if (config.ropeScaling)
    scaling = {
        {"factor", config.ropeScaling->factor},
        {"low_freq_factor", config.ropeScaling->lowFreqFactor},
        {"high_freq_factor", config.ropeScaling->highFreqFactor},
        {"original_max_positions", config.ropeScaling->originalMaxPositions}};
  json object = {{"architecture", config.architecture},
                 {"hidden_size", config.hiddenSize},
                 {"intermediate_size", config.intermediateSize},
                 {"num_layers", config.numLayers},
                 {"num_heads", config.numHeads},
                 {"num_kv_heads", config.numKVHeads},
                 {"head_dim", config.headDim},
                 {"vocab_size", config.vocabSize},
                 {"max_positions", config.maxPositions},
                 {"rope_theta", config.ropeTheta},
                 {"rotary_dim", config.rotaryDim},
                 {"rope_layout", ropeLayoutName(config.ropeLayout)},
                 {"rope_scaling", scaling},
                 {"rms_norm_eps", config.rmsNormEps},
                 {"tied_embeddings", config.tiedEmbeddings},
                 {"attention_bias", config.attentionBias}};
  // The architecture string is ours, but never let dump() throw out of here.
  return object.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {
/// Strict typed reads of the config object; every field is required.
class StrictReader {
public:
  StrictReader(const json &object, std::string source)
      : object(object), source(std::move(source)) {}

  llvm::Error read(const char *key, int64_t &out) const {
    const json *value = field(key);
    if (!value || !value->is_number_integer() ||
        (value->is_number_unsigned() &&
         value->get<uint64_t>() > (uint64_t)INT64_MAX))
      return bad(key, "an integer");
    out = value->get<int64_t>();
    return llvm::Error::success();
  }
  llvm::Error read(const char *key, double &out) const {
    const json *value = field(key);
    if (!value || !value->is_number())
      return bad(key, "a number");
    out = value->get<double>();
    return llvm::Error::success();
  }
  llvm::Error read(const char *key, bool &out) const {
    const json *value = field(key);
    if (!value || !value->is_boolean())
      return bad(key, "a boolean");
    out = value->get<bool>();
    return llvm::Error::success();
  }
  llvm::Error read(const char *key, std::string &out) const {
    const json *value = field(key);
    if (!value || !value->is_string())
      return bad(key, "a string");
    out = value->get<std::string>();
    return llvm::Error::success();
  }
  const json *field(const char *key) const {
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
  }
  llvm::Error bad(const char *key, const char *expected) const {
    if (!field(key))
      return makeError(source + ": field '" + key + "' is missing");
    return makeError(source + ": field '" + key + "' must be " + expected);
  }

private:
  const json &object;
  std::string source;
};
} // namespace

static llvm::Error readRopeScaling(const StrictReader &reader,
                                   const std::string &source,
                                   ModelConfig &config) {
  const json *scaling = reader.field("rope_scaling");
  if (!scaling)
    return reader.bad("rope_scaling", "an object or null");
  if (scaling->is_null())
    return llvm::Error::success();
  if (!scaling->is_object())
    return reader.bad("rope_scaling", "an object or null");
  StrictReader sub(*scaling, source + ": rope_scaling");
  RopeScaling result;
  if (auto err = sub.read("factor", result.factor))
    return err;
  if (auto err = sub.read("low_freq_factor", result.lowFreqFactor))
    return err;
  if (auto err = sub.read("high_freq_factor", result.highFreqFactor))
    return err;
  if (auto err =
          sub.read("original_max_positions", result.originalMaxPositions))
    return err;
  config.ropeScaling = result;
  return llvm::Error::success();
}

static llvm::Error readConfigFields(const StrictReader &reader,
                                    const std::string &source,
                                    ModelConfig &config) {
  const std::pair<const char *, int64_t *> ints[] = {
      {"hidden_size", &config.hiddenSize},
      {"intermediate_size", &config.intermediateSize},
      {"num_layers", &config.numLayers},
      {"num_heads", &config.numHeads},
      {"num_kv_heads", &config.numKVHeads},
      {"head_dim", &config.headDim},
      {"vocab_size", &config.vocabSize},
      {"max_positions", &config.maxPositions},
      {"rotary_dim", &config.rotaryDim}};
  for (const auto &[key, field] : ints)
    if (auto err = reader.read(key, *field))
      return err;
  if (auto err = reader.read("architecture", config.architecture))
    return err;
  if (auto err = reader.read("rope_theta", config.ropeTheta))
    return err;
  if (auto err = reader.read("rms_norm_eps", config.rmsNormEps))
    return err;
  if (auto err = reader.read("tied_embeddings", config.tiedEmbeddings))
    return err;
  if (auto err = reader.read("attention_bias", config.attentionBias))
    return err;
  std::string layout;
  if (auto err = reader.read("rope_layout", layout))
    return err;
  if (layout == "interleaved")
    config.ropeLayout = RopeLayout::Interleaved;
  else if (layout == "half-split")
    config.ropeLayout = RopeLayout::HalfSplit;
  else
    return makeError(source + ": field 'rope_layout' is '" + layout +
                     "', expected 'interleaved' or 'half-split'");
  return readRopeScaling(reader, source, config);
}

llvm::Expected<ModelConfig>
respin::modelConfigFromJson(llvm::StringRef text, llvm::StringRef source) {
  if (llvm::Error error = checkJsonNesting(text, source))
    return std::move(error);
  json object;
  try {
    object = json::parse(text.begin(), text.end());
  } catch (const json::exception &e) {
    return makeError(source + ": invalid model config JSON: " + e.what());
  }
  if (!object.is_object())
    return makeError(source + ": model config must be a JSON object");
  ModelConfig config;
  StrictReader reader(object, source.str());
  if (auto err = readConfigFields(reader, source.str(), config))
    return std::move(err);
  if (auto err = config.validate(source))
    return std::move(err);
  return config;
}

llvm::Error respin::writeParameterArchive(const Checkpoint &checkpoint,
                                          llvm::StringRef path,
                                          OutputSet *outputs) {
  SafetensorsWriter writer;
  writer.setMetadata(kFormatKey, kFormatVersion);
  writer.setMetadata(kConfigKey, modelConfigToJson(checkpoint.config));
  if (checkpoint.tokenizer)
    writer.setMetadata(kTokenizerKey, checkpoint.tokenizer->toJson());
  for (const auto &[name, tensor] : checkpoint.tensors)
    writer.addTensor(name, tensor.dtype, tensor.shape,
                     llvm::ArrayRef<uint8_t>(tensor.data, tensor.numBytes));
  if (outputs)
    return writer.write(path, *outputs, "parameter archive");
  return writer.write(path);
}

llvm::Expected<Checkpoint> respin::loadParameterArchive(llvm::StringRef path) {
  auto file = SafetensorsFile::open(path);
  if (!file)
    return file.takeError();
  const auto &meta = (*file)->metadata();
  auto format = meta.find(kFormatKey);
  if (format == meta.end())
    return makeError(path + ": not a respin parameter archive (metadata '" +
                     kFormatKey + "' is missing)");
  if (format->second != kFormatVersion)
    return makeError(path + ": unsupported respin archive format '" +
                     format->second + "' (expected '" + kFormatVersion + "')");
  auto configText = meta.find(kConfigKey);
  if (configText == meta.end())
    return makeError(path + ": metadata '" + kConfigKey + "' is missing");

  Checkpoint checkpoint;
  checkpoint.source = path.str();
  auto config =
      modelConfigFromJson(configText->second, (path + ": " + kConfigKey).str());
  if (!config)
    return config.takeError();
  checkpoint.config = std::move(*config);
  auto tokenizerText = meta.find(kTokenizerKey);
  if (tokenizerText != meta.end()) {
    auto tokenizer = TokenizerData::fromJson(
        tokenizerText->second, (path + ": " + kTokenizerKey).str());
    if (!tokenizer)
      return tokenizer.takeError();
    checkpoint.tokenizer = std::move(*tokenizer);
  }
  for (const TensorView &tensor : (*file)->tensors())
    checkpoint.tensors.emplace(tensor.name, tensor);
  checkpoint.mappedFiles.push_back((*file)->takeBuffer());
  return std::move(checkpoint);
}
