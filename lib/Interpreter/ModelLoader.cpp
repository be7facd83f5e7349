//===- ModelLoader.cpp - tfm IR to executable reference programs ----------===//

#include "respin/Interpreter/ModelLoader.h"
#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Formats/ParameterArchive.h"
#include "respin/Import/ImportModel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

namespace respin {
namespace {

llvm::Error errorAt(Operation *op, const llvm::Twine &message) {
  std::string location;
  llvm::raw_string_ostream stream(location);
  op->getLoc().print(stream);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "%s: '%s': %s", stream.str().c_str(),
                                 op->getName().getStringRef().str().c_str(),
                                 message.str().c_str());
}

std::string typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  type.print(stream);
  return stream.str();
}

/// Walks a forward function, numbering values and creating instructions.
class ProgramBuilder {
public:
  ProgramBuilder(const Checkpoint *archive) : archive(archive) {}

  llvm::Expected<exec::Program> build(func::FuncOp func) {
    if (func.getNumArguments() != 2 || func.getNumResults() != 1)
      return errorAt(func, "a forward function takes (tokens, positions) and "
                           "returns logits");
    program.tokensValue = number(func.getArgument(0));
    program.positionsValue = number(func.getArgument(1));
    for (Operation &op : func.getBody().front()) {
      if (llvm::Error error = lower(&op))
        return std::move(error);
    }
    return std::move(program);
  }

private:
  int number(Value value) {
    auto [it, inserted] = valueNumbers.try_emplace(value, program.numValues);
    if (inserted)
      ++program.numValues;
    return it->second;
  }

  /// The weight a value names: a tfm.param or an arith.constant.
  llvm::Expected<const exec::Weight *> weightOf(Operation *user, Value value) {
    auto found = weights.find(value);
    if (found != weights.end())
      return found->second;
    Operation *def = value.getDefiningOp();
    auto type = cast<RankedTensorType>(value.getType());
    exec::Weight weight;
    weight.rows = type.getDimSize(0);
    weight.cols = type.getRank() == 2 ? type.getDimSize(1) : 1;
    if (auto param = dyn_cast_or_null<tfm::ParamOp>(def)) {
      if (llvm::Error error = resolveParam(param, weight))
        return std::move(error);
    } else if (auto constant = dyn_cast_or_null<arith::ConstantOp>(def)) {
      auto dense = dyn_cast<DenseFPElementsAttr>(constant.getValue());
      if (!dense)
        return errorAt(def, "weights must be dense floating-point constants");
      for (const APFloat &element : dense.getValues<APFloat>())
        weight.owned.push_back(float(element.convertToDouble()));
      weight.name = "<constant>";
    } else {
      return errorAt(user, "weights must come from tfm.param or "
                           "arith.constant");
    }
    if (!weight.owned.empty() || !weight.data)
      weight.data = weight.owned.data();
    program.weights.push_back(std::move(weight));
    // std::deque keeps addresses stable; owned vectors moved with it.
    exec::Weight &stored = program.weights.back();
    if (!stored.owned.empty())
      stored.data = stored.owned.data();
    weights[value] = &stored;
    return &stored;
  }

  llvm::Error resolveParam(tfm::ParamOp param, exec::Weight &weight) {
    weight.name = param.getName().str();
    if (!archive)
      return errorAt(param, "parameter '" + param.getName() +
                                "' needs a parameter archive (module "
                                "attribute tfm.parameters)");
    auto it = archive->tensors.find(weight.name);
    if (it == archive->tensors.end())
      return errorAt(param, "parameter '" + param.getName() +
                                "' is not in the parameter archive");
    const TensorView &tensor = it->second;
    auto type = param.getType();
    std::vector<int64_t> irShape(type.getShape().begin(),
                                 type.getShape().end());
    Type element = type.getElementType();
    bool dtypeMatches = (tensor.dtype == DType::F32 && element.isF32()) ||
                        (tensor.dtype == DType::F16 && element.isF16()) ||
                        (tensor.dtype == DType::BF16 && element.isBF16());
    if (irShape != tensor.shape || !dtypeMatches)
      return errorAt(param, "parameter '" + param.getName() +
                                "' is " + formatShape(tensor.shape) + " " +
                                dtypeName(tensor.dtype) +
                                " in the archive but the IR says " +
                                typeString(type));
    if (tensor.dtype == DType::F32 &&
        reinterpret_cast<uintptr_t>(tensor.data) % alignof(float) == 0) {
      weight.data = reinterpret_cast<const float *>(tensor.data);
      return llvm::Error::success();
    }
    weight.owned = tensor.toFloat32();
    return llvm::Error::success();
  }

  llvm::Error lower(Operation *op) {
    if (isa<tfm::ParamOp, arith::ConstantOp>(op))
      return llvm::Error::success(); // resolved when used
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      program.resultValue = number(ret.getOperand(0));
      program.vocabSize = std::max<int64_t>(program.vocabSize,
          cast<ShapedType>(ret.getOperand(0).getType()).getDimSize(1));
      return llvm::Error::success();
    }
    exec::Instruction inst;
    inst.result = op->getNumResults() == 1 ? number(op->getResult(0)) : -1;
    if (op->getNumResults() == 1)
      inst.width = cast<ShapedType>(op->getResult(0).getType()).getDimSize(1);
    llvm::raw_string_ostream origin(inst.origin);
    op->getLoc().print(origin);

    auto useWeight = [&](Value value, const exec::Weight *&slot) -> llvm::Error {
      if (!value)
        return llvm::Error::success();
      auto weight = weightOf(op, value);
      if (!weight)
        return weight.takeError();
      slot = *weight;
      return llvm::Error::success();
    };

    llvm::Error error = llvm::TypeSwitch<Operation *, llvm::Error>(op)
        .Case([&](tfm::EmbeddingOp embedding) -> llvm::Error {
          inst.kind = exec::OpKind::Embedding;
          if (embedding.getTokens() != op->getParentOfType<func::FuncOp>()
                                           .getArgument(0))
            return errorAt(op, "embeddings must read the token input");
          program.vocabSize = std::max<int64_t>(
              program.vocabSize, cast<ShapedType>(embedding.getTable().getType())
                                     .getDimSize(0));
          return useWeight(embedding.getTable(), inst.weight);
        })
        .Case([&](tfm::RMSNormOp norm) -> llvm::Error {
          inst.kind = exec::OpKind::RMSNorm;
          inst.operands = {number(norm.getInput())};
          inst.epsilon = float(norm.getEpsilon().convertToDouble());
          return useWeight(norm.getGain(), inst.weight);
        })
        .Case([&](tfm::LinearOp linear) -> llvm::Error {
          inst.kind = exec::OpKind::Linear;
          inst.operands = {number(linear.getInput())};
          if (llvm::Error e = useWeight(linear.getWeight(), inst.weight))
            return e;
          return useWeight(linear.getBias(), inst.bias);
        })
        .Case([&](tfm::RopeOp rope) -> llvm::Error {
          if (rope.getPositions() != op->getParentOfType<func::FuncOp>()
                                         .getArgument(1))
            return errorAt(op, "RoPE must read the position input");
          inst.kind = exec::OpKind::Rope;
          inst.operands = {number(rope.getInput())};
          inst.rope.numHeads = rope.getNumHeads();
          inst.rope.headDim = rope.getHeadDim();
          inst.rope.rotaryDim = rope.getRotaryDim();
          inst.rope.interleaved =
              rope.getLayout() == tfm::RopeLayout::interleaved;
          std::optional<std::array<double, 4>> scaling;
          if (auto s = rope.getScalingAttr())
            scaling = std::array<double, 4>{
                s.getFactor().convertToDouble(),
                s.getLowFreqFactor().convertToDouble(),
                s.getHighFreqFactor().convertToDouble(),
                double(s.getOriginalMaxPositions())};
          inst.rope.inverseFrequencies = exec::Program::ropeInverseFrequencies(
              inst.rope.rotaryDim, rope.getTheta().convertToDouble(), scaling);
          return llvm::Error::success();
        })
        .Case([&](tfm::AttentionOp attention) -> llvm::Error {
          inst.kind = exec::OpKind::Attention;
          inst.operands = {number(attention.getQuery()),
                           number(attention.getKey()),
                           number(attention.getValue())};
          inst.attention.numHeads = attention.getNumHeads();
          inst.attention.numKVHeads = attention.getNumKvHeads();
          inst.attention.headDim = attention.getHeadDim();
          inst.attention.scale = float(attention.getScale().convertToDouble());
          inst.attention.cacheSlot = attention.getCacheSlot();
          if (!usedCacheSlots.insert(attention.getCacheSlot()).second)
            return errorAt(op, "cache_slot " +
                                   llvm::Twine(attention.getCacheSlot()) +
                                   " is used by more than one attention op");
          program.numCacheSlots = std::max<int64_t>(
              program.numCacheSlots, attention.getCacheSlot() + 1);
          return llvm::Error::success();
        })
        .Case([&](tfm::SiluMulOp siluMul) -> llvm::Error {
          inst.kind = exec::OpKind::SiluMul;
          inst.operands = {number(siluMul.getGate()), number(siluMul.getUp())};
          return llvm::Error::success();
        })
        .Case([&](tfm::AddOp add) -> llvm::Error {
          inst.kind = exec::OpKind::Add;
          inst.operands = {number(add.getLhs()), number(add.getRhs())};
          return llvm::Error::success();
        })
        .Default([&](Operation *other) -> llvm::Error {
          return errorAt(other, "the reference executor cannot run this op");
        });
    if (error)
      return error;
    program.instructions.push_back(std::move(inst));
    return llvm::Error::success();
  }

  const Checkpoint *archive;
  exec::Program program;
  llvm::DenseMap<Value, int> valueNumbers;
  llvm::DenseMap<Value, const exec::Weight *> weights;
  llvm::DenseSet<int64_t> usedCacheSlots;
};

llvm::Expected<func::FuncOp> findForward(ModuleOp module,
                                         llvm::StringRef source) {
  if (auto forward = module.lookupSymbol<func::FuncOp>(kForwardFunctionName))
    return forward;
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "%s: no function @%s in the module",
                                 source.str().c_str(),
                                 kForwardFunctionName.data());
}

llvm::Error finishLoading(LoadedModel &model, llvm::StringRef source) {
  auto forward = findForward(*model.module, source);
  if (!forward)
    return forward.takeError();
  auto program = buildProgram(*forward, &model.archive);
  if (!program)
    return program.takeError();
  model.program = std::move(*program);
  if (model.archive.tokenizer) {
    auto tokenizer = Tokenizer::create(*model.archive.tokenizer);
    if (!tokenizer)
      return tokenizer.takeError();
    model.tokenizer = std::move(*tokenizer);
  }
  return llvm::Error::success();
}

} // namespace

void registerModelDialects(DialectRegistry &registry) {
  registry.insert<tfm::TfmDialect, func::FuncDialect, arith::ArithDialect>();
}

llvm::Expected<exec::Program> buildProgram(func::FuncOp func,
                                           const Checkpoint *archive) {
  return ProgramBuilder(archive).build(func);
}

llvm::Expected<std::unique_ptr<LoadedModel>>
loadModelFile(llvm::StringRef mlirPath) {
  auto model = std::make_unique<LoadedModel>();
  DialectRegistry registry;
  registerModelDialects(registry);
  model->context = std::make_unique<MLIRContext>(registry);

  // Parse errors are collected and returned instead of printed.
  std::string diagnostics;
  {
    llvm::raw_string_ostream stream(diagnostics);
    llvm::SourceMgr sourceMgr;
    SourceMgrDiagnosticHandler handler(sourceMgr, model->context.get(),
                                       stream);
    model->module = parseSourceFile<ModuleOp>(mlirPath, sourceMgr,
                                              model->context.get());
    if (!model->module) {
      if (diagnostics.empty())
        diagnostics = (mlirPath + ": cannot read the file").str();
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                     stream.str().c_str());
    }
  }
  auto archiveAttr = (*model->module)->getAttrOfType<StringAttr>(
      tfm::TfmDialect::getParametersAttrName());
  if (archiveAttr) {
    llvm::SmallString<256> archivePath(archiveAttr.getValue());
    if (llvm::sys::path::is_relative(archivePath)) {
      archivePath = llvm::sys::path::parent_path(mlirPath);
      llvm::sys::path::append(archivePath, archiveAttr.getValue());
    }
    auto archive = loadParameterArchive(archivePath);
    if (!archive)
      return archive.takeError();
    model->archive = std::move(*archive);
  }
  if (llvm::Error error = finishLoading(*model, mlirPath))
    return std::move(error);
  return std::move(model);
}

llvm::Expected<std::unique_ptr<LoadedModel>>
loadModelFromCheckpoint(Checkpoint checkpoint) {
  auto model = std::make_unique<LoadedModel>();
  DialectRegistry registry;
  registerModelDialects(registry);
  model->context = std::make_unique<MLIRContext>(registry);
  model->archive = std::move(checkpoint);
  model->module =
      buildModelModule(*model->context, model->archive, "<in-memory>");
  if (llvm::Error error = finishLoading(*model, "<in-memory model>"))
    return std::move(error);
  return std::move(model);
}

} // namespace respin
