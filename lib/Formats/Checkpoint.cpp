//===- Checkpoint.cpp - Canonical checkpoint naming and validation --------===//
//
// The checks every importer runs last: the hyper-parameters are consistent,
// every tensor the architecture needs is present with the right shape, no
// stray tensor is left over, and every weight is finite.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/Checkpoint.h"
#include "FormatSupport.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace respin;

//===----------------------------------------------------------------------===//
// ModelConfig
//===----------------------------------------------------------------------===//

/// Upper bound for any single dimension. Far above real models, low enough
/// that products of two or three dimensions cannot overflow int64.
static constexpr int64_t kMaxDim = int64_t(1) << 24;

static llvm::Error checkRange(llvm::StringRef source, llvm::StringRef field,
                              int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high)
    return makeError(source + ": " + field + " = " + llvm::Twine(value) +
                     " is out of range [" + llvm::Twine(low) + ", " +
                     llvm::Twine(high) + "]");
  return llvm::Error::success();
}

static llvm::Error checkPositive(llvm::StringRef source, llvm::StringRef field,
                                 double value) {
  if (!std::isfinite(value) || value <= 0)
    return makeError(source + ": " + field + " = " +
                     llvm::formatv("{0}", value) +
                     " must be a positive finite number");
  return llvm::Error::success();
}

llvm::Error ModelConfig::validate(llvm::StringRef source) const {
  const std::pair<const char *, int64_t> dims[] = {
      {"hiddenSize", hiddenSize}, {"intermediateSize", intermediateSize},
      {"numHeads", numHeads},     {"numKVHeads", numKVHeads},
      {"headDim", headDim},       {"vocabSize", vocabSize},
      {"rotaryDim", rotaryDim}};
  for (const auto &[field, value] : dims)
    if (auto err = checkRange(source, field, value, 1, kMaxDim))
      return err;
  if (auto err = checkRange(source, "numLayers", numLayers, 1, 4096))
    return err;
  if (auto err =
          checkRange(source, "maxPositions", maxPositions, 0, int64_t(1) << 40))
    return err;
  if (numHeads % numKVHeads != 0)
    return makeError(
        source + ": numHeads = " + llvm::Twine(numHeads) +
        " is not a multiple of numKVHeads = " + llvm::Twine(numKVHeads));
  if (rotaryDim % 2 != 0 || rotaryDim > headDim)
    return makeError(
        source + ": rotaryDim = " + llvm::Twine(rotaryDim) +
        " must be even and at most headDim = " + llvm::Twine(headDim));
  if (auto err = checkPositive(source, "ropeTheta", ropeTheta))
    return err;
  if (auto err = checkPositive(source, "rmsNormEps", rmsNormEps))
    return err;
  if (ropeScaling) {
    if (auto err =
            checkPositive(source, "ropeScaling.factor", ropeScaling->factor))
      return err;
    if (auto err = checkPositive(source, "ropeScaling.lowFreqFactor",
                                 ropeScaling->lowFreqFactor))
      return err;
    if (auto err = checkPositive(source, "ropeScaling.highFreqFactor",
                                 ropeScaling->highFreqFactor))
      return err;
    // Llama-3 scaling interpolates between the two wavelength bounds.
    if (ropeScaling->highFreqFactor <= ropeScaling->lowFreqFactor)
      return makeError(source + ": ropeScaling.highFreqFactor must exceed "
                                "ropeScaling.lowFreqFactor");
    if (auto err =
            checkRange(source, "ropeScaling.originalMaxPositions",
                       ropeScaling->originalMaxPositions, 1, int64_t(1) << 40))
      return err;
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

std::string names::embedTokens() { return "model.embed_tokens.weight"; }
std::string names::finalNorm() { return "model.norm.weight"; }
std::string names::lmHead() { return "lm_head.weight"; }
std::string names::layer(int64_t layer, llvm::StringRef suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix.str();
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

llvm::Expected<const TensorView *> Checkpoint::get(llvm::StringRef name) const {
  auto it = tensors.find(name.str());
  if (it == tensors.end())
    return makeError((source.empty() ? "checkpoint" : source) + ": tensor '" +
                     name + "' not found");
  return &it->second;
}

/// Every tensor `config` requires, with its expected shape.
static std::map<std::string, std::vector<int64_t>>
expectedTensors(const ModelConfig &config) {
  int64_t hidden = config.hiddenSize;
  int64_t qDim = config.numHeads * config.headDim;
  int64_t kvDim = config.numKVHeads * config.headDim;
  int64_t ffn = config.intermediateSize;
  std::map<std::string, std::vector<int64_t>> expected = {
      {names::embedTokens(), {config.vocabSize, hidden}},
      {names::finalNorm(), {hidden}}};
  if (!config.tiedEmbeddings)
    expected[names::lmHead()] = {config.vocabSize, hidden};
  for (int64_t l = 0; l < config.numLayers; ++l) {
    auto add = [&](llvm::StringRef suffix, std::vector<int64_t> shape) {
      expected[names::layer(l, suffix)] = std::move(shape);
    };
    add("input_layernorm.weight", {hidden});
    add("post_attention_layernorm.weight", {hidden});
    add("self_attn.q_proj.weight", {qDim, hidden});
    add("self_attn.k_proj.weight", {kvDim, hidden});
    add("self_attn.v_proj.weight", {kvDim, hidden});
    add("self_attn.o_proj.weight", {hidden, qDim});
    add("mlp.gate_proj.weight", {ffn, hidden});
    add("mlp.up_proj.weight", {ffn, hidden});
    add("mlp.down_proj.weight", {hidden, ffn});
    if (config.attentionBias) {
      add("self_attn.q_proj.bias", {qDim});
      add("self_attn.k_proj.bias", {kvDim});
      add("self_attn.v_proj.bias", {kvDim});
    }
  }
  return expected;
}

/// Older HF checkpoints store the RoPE inverse frequencies; they are derived
/// from the config, so they are tolerated and ignored.
static bool isIgnorableTensor(llvm::StringRef name) {
  return name.ends_with(".rotary_emb.inv_freq");
}

/// Element `index` of `tensor` as float (for diagnostics).
static float elementAt(const TensorView &tensor, int64_t index) {
  TensorView one = tensor;
  size_t size = dtypeSize(tensor.dtype);
  one.data += size_t(index) * size;
  one.shape = {1};
  one.numBytes = size;
  return one.toFloat32()[0];
}

llvm::Error Checkpoint::validate(llvm::StringRef source) const {
  if (auto err = config.validate(source))
    return err;
  auto expected = expectedTensors(config);
  for (const auto &[name, shape] : expected) {
    auto it = tensors.find(name);
    if (it == tensors.end())
      return makeError(source + ": missing tensor '" + name +
                       "' (expected shape " + formatShape(shape) + ")");
    if (it->second.shape != shape)
      return makeError(source + ": tensor '" + name + "' has shape " +
                       formatShape(it->second.shape) + ", expected " +
                       formatShape(shape));
  }
  for (const auto &[name, tensor] : tensors)
    if (!expected.count(name) && !isIgnorableTensor(name))
      return makeError(source + ": unexpected tensor '" + name + "' " +
                       formatShape(tensor.shape) +
                       (name == names::lmHead()
                            ? " (the config says embeddings are tied)"
                            : ""));
  for (const auto &[name, tensor] : tensors) {
    if (tensor.numBytes !=
        (size_t)tensor.numElements() * dtypeSize(tensor.dtype))
      return makeError(source + ": tensor '" + name + "' holds " +
                       llvm::Twine(tensor.numBytes) +
                       " bytes, which does not match its shape " +
                       formatShape(tensor.shape));
    if (std::optional<int64_t> bad = tensor.firstNonFinite())
      return makeError(source + ": tensor '" + name + "': element " +
                       llvm::Twine(*bad) + " is " +
                       (std::isnan(elementAt(tensor, *bad)) ? "NaN" : "Inf"));
  }
  return llvm::Error::success();
}
