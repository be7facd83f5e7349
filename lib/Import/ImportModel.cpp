//===- ImportModel.cpp - Checkpoints to tfm IR ----------------------------===//
//
// Emits the standard LLaMA decoder: embedding, then per layer
//   h += o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))
//        with n = rms_norm(h)
//   h += down_proj(silu(gate_proj(m)) * up_proj(m)) with m = rms_norm(h)
// then the final norm and lm_head. Every weight is a tfm.param named as in
// the archive; ops carry NameLocs naming the layer they belong to.
//
//===----------------------------------------------------------------------===//

#include "respin/Import/ImportModel.h"
#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Formats/OutputSet.h"
#include "respin/Formats/ParameterArchive.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;

namespace respin {
namespace {

/// Emits ops of one model, tracking the location of the current layer.
class ModelBuilder {
public:
  ModelBuilder(OpBuilder &builder, const Checkpoint &checkpoint)
      : builder(builder), checkpoint(checkpoint),
        config(checkpoint.config) {}

  Value param(llvm::StringRef name) {
    const TensorView &tensor = checkpoint.tensors.at(name.str());
    auto type = RankedTensorType::get(tensor.shape,
                                      tfm::elementTypeFor(builder.getContext(), tensor.dtype));
    return builder.create<tfm::ParamOp>(loc, type, builder.getStringAttr(name));
  }

  RankedTensorType activation(int64_t width) {
    return RankedTensorType::get({ShapedType::kDynamic, width},
                                 builder.getF32Type());
  }

  Value rmsNorm(Value input, llvm::StringRef gainName) {
    return builder.create<tfm::RMSNormOp>(
        loc, input.getType(), input, param(gainName),
        builder.getF64FloatAttr(config.rmsNormEps));
  }

  Value linear(Value input, llvm::StringRef weightName,
               std::optional<std::string> biasName = std::nullopt) {
    Value weight = param(weightName);
    Value bias = biasName ? param(*biasName) : Value();
    int64_t out = cast<ShapedType>(weight.getType()).getDimSize(0);
    return builder.create<tfm::LinearOp>(loc, activation(out), input, weight,
                                         bias);
  }

  Value rope(Value input, Value positions, int64_t numHeads) {
    tfm::RopeScalingAttr scaling;
    if (config.ropeScaling)
      scaling = tfm::RopeScalingAttr::get(
          builder.getContext(), llvm::APFloat(config.ropeScaling->factor),
          llvm::APFloat(config.ropeScaling->lowFreqFactor),
          llvm::APFloat(config.ropeScaling->highFreqFactor),
          config.ropeScaling->originalMaxPositions);
    auto layout = config.ropeLayout == RopeLayout::Interleaved
                      ? tfm::RopeLayout::interleaved
                      : tfm::RopeLayout::half_split;
    return builder.create<tfm::RopeOp>(
        loc, input.getType(), input, positions,
        builder.getI64IntegerAttr(numHeads),
        builder.getI64IntegerAttr(config.headDim),
        builder.getI64IntegerAttr(config.rotaryDim),
        builder.getF64FloatAttr(config.ropeTheta),
        tfm::RopeLayoutAttr::get(builder.getContext(), layout), scaling);
  }

  Value decoderLayer(Value hidden, Value positions, int64_t layer) {
    auto name = [&](llvm::StringRef suffix) {
      return names::layer(layer, suffix);
    };
    auto bias = [&](llvm::StringRef suffix) -> std::optional<std::string> {
      if (!config.attentionBias)
        return std::nullopt;
      return name(suffix);
    };
    std::string scope = "model.layers." + std::to_string(layer);
    loc = NameLoc::get(builder.getStringAttr(scope + ".self_attn"));
    Value normed = rmsNorm(hidden, name("input_layernorm.weight"));
    Value q = linear(normed, name("self_attn.q_proj.weight"),
                     bias("self_attn.q_proj.bias"));
    Value k = linear(normed, name("self_attn.k_proj.weight"),
                     bias("self_attn.k_proj.bias"));
    Value v = linear(normed, name("self_attn.v_proj.weight"),
                     bias("self_attn.v_proj.bias"));
    q = rope(q, positions, config.numHeads);
    k = rope(k, positions, config.numKVHeads);
    Value attended = builder.create<tfm::AttentionOp>(
        loc, activation(config.numHeads * config.headDim), q, k, v,
        builder.getI64IntegerAttr(config.numHeads),
        builder.getI64IntegerAttr(config.numKVHeads),
        builder.getI64IntegerAttr(config.headDim),
        builder.getF64FloatAttr(1.0 / std::sqrt(double(config.headDim))),
        builder.getI64IntegerAttr(layer));
    Value attnOut = linear(attended, name("self_attn.o_proj.weight"));
    hidden = builder.create<tfm::AddOp>(loc, hidden, attnOut);

    loc = NameLoc::get(builder.getStringAttr(scope + ".mlp"));
    Value normed2 = rmsNorm(hidden, name("post_attention_layernorm.weight"));
    Value gate = linear(normed2, name("mlp.gate_proj.weight"));
    Value up = linear(normed2, name("mlp.up_proj.weight"));
    Value act = builder.create<tfm::SiluMulOp>(loc, gate, up);
    Value down = linear(act, name("mlp.down_proj.weight"));
    return builder.create<tfm::AddOp>(loc, hidden, down);
  }

  void buildForward(func::FuncOp func) {
    Value tokens = func.getArgument(0), positions = func.getArgument(1);
    loc = NameLoc::get(builder.getStringAttr("model.embed_tokens"));
    Value table = param(names::embedTokens());
    Value hidden = builder.create<tfm::EmbeddingOp>(
        loc, activation(config.hiddenSize), table, tokens);
    for (int64_t layer = 0; layer < config.numLayers; ++layer)
      hidden = decoderLayer(hidden, positions, layer);
    loc = NameLoc::get(builder.getStringAttr("model.norm"));
    hidden = rmsNorm(hidden, names::finalNorm());
    loc = NameLoc::get(builder.getStringAttr("lm_head"));
    Value logits = linear(hidden, config.tiedEmbeddings ? names::embedTokens()
                                                        : names::lmHead());
    builder.create<func::ReturnOp>(loc, logits);
  }

private:
  OpBuilder &builder;
  const Checkpoint &checkpoint;
  const ModelConfig &config;
  Location loc = UnknownLoc::get(builder.getContext());
};

} // namespace

OwningOpRef<ModuleOp> buildModelModule(MLIRContext &context,
                                       const Checkpoint &checkpoint,
                                       llvm::StringRef archiveName) {
  context.loadDialect<tfm::TfmDialect, func::FuncDialect>();
  OpBuilder builder(&context);
  Location loc = NameLoc::get(builder.getStringAttr("model"));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  (*module)->setAttr(tfm::TfmDialect::getParametersAttrName(),
                     builder.getStringAttr(archiveName));

  auto ids = RankedTensorType::get({ShapedType::kDynamic},
                                   builder.getI32Type());
  auto logits = RankedTensorType::get(
      {ShapedType::kDynamic, checkpoint.config.vocabSize},
      builder.getF32Type());
  builder.setInsertionPointToEnd(module->getBody());
  auto func = builder.create<func::FuncOp>(
      loc, kForwardFunctionName, builder.getFunctionType({ids, ids}, logits));
  func.setArgAttr(0, "tfm.input", builder.getStringAttr("tokens"));
  func.setArgAttr(1, "tfm.input", builder.getStringAttr("positions"));
  builder.setInsertionPointToStart(func.addEntryBlock());
  ModelBuilder(builder, checkpoint).buildForward(func);
  return module;
}

std::string archivePathFor(llvm::StringRef mlirPath) {
  llvm::SmallString<256> path(mlirPath);
  llvm::sys::path::replace_extension(path, ".safetensors");
  return std::string(path);
}

llvm::Error writeImportedModel(MLIRContext &context,
                               const Checkpoint &checkpoint,
                               llvm::StringRef mlirPath) {
  auto fail = [&](const llvm::Twine &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: %s",
                                   mlirPath.str().c_str(), what.str().c_str());
  };
  llvm::sys::fs::file_status status;
  if (!llvm::sys::fs::status(mlirPath, status) &&
      status.type() != llvm::sys::fs::file_type::regular_file)
    return fail("the IR output must be a regular file (its archive is named "
                "after it)");
  std::string archivePath = archivePathFor(mlirPath);
  if (isSameFile(archivePath, mlirPath))
    return fail("the IR output would be its own parameter archive; give it "
                "another extension (.mlir)");
  OutputSet outputs;
  if (llvm::Error error = outputs.check(mlirPath, "IR output"))
    return error;
  if (llvm::Error error = outputs.check(archivePath, "parameter archive"))
    return error;

  OwningOpRef<ModuleOp> module = buildModelModule(
      context, checkpoint, llvm::sys::path::filename(archivePath));
  if (failed(verify(*module)))
    return fail("the generated IR does not verify");
  if (llvm::Error error =
          writeParameterArchive(checkpoint, archivePath, &outputs))
    return error;
  std::string text;
  llvm::raw_string_ostream stream(text);
  module->print(stream);
  if (llvm::Error error = outputs.write(mlirPath, "IR output", stream.str()))
    return error;
  return outputs.commit();
}

} // namespace respin
