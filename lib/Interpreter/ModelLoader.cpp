//===- ModelLoader.cpp - tfm IR to executable reference programs ----------===//
//
// Problems (missing parameters, unsupported ops, bad wiring) are reported as
// MLIR diagnostics on the offending op; the file-level entry points collect
// them into one llvm::Error so tools print "file:line:col: error: ...".
//
//===----------------------------------------------------------------------===//

#include "respin/Interpreter/ModelLoader.h"
#include "respin/Dialect/Tfm/IR/TfmOps.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Executor/Validate.h"
#include "respin/Formats/InputFile.h"
#include "respin/Import/ImportModel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>
#include <cstdio>

using namespace mlir;

namespace respin {
namespace {

/// Walks a forward function, numbering values and creating instructions.
class ProgramBuilder {
public:
  explicit ProgramBuilder(llvm::DenseMap<Operation *, int> *instructionIndex)
      : instructionIndex(instructionIndex) {}

  FailureOr<exec::Program> build(func::FuncOp func) {
    if (func.getNumArguments() != 2 || func.getNumResults() != 1)
      return func.emitError("a forward function takes (tokens, positions) "
                            "and returns logits");
    tokens = func.getArgument(0);
    positions = func.getArgument(1);
    for (Value input : {tokens, positions}) {
      auto type = dyn_cast<RankedTensorType>(input.getType());
      if (!type || type.getRank() != 1 || !type.isDynamicDim(0) ||
          !type.getElementType().isSignlessInteger(32))
        return func.emitError()
               << "the executor runs sequences of any length: the token and "
                  "position inputs must be tensor<?xi32>, got "
               << input.getType();
    }
    program.tokensValue = number(tokens);
    program.positionsValue = number(positions);
    for (Operation &op : func.getBody().front())
      if (failed(lower(&op)))
        return failure();
    if (std::optional<exec::ProgramDefect> defect =
            exec::validateProgram(program)) {
      Operation *where = defect->instruction >= 0
                             ? loweredOps[defect->instruction]
                             : func.getOperation();
      return where->emitError() << defect->message;
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

  /// Stores a weight and returns its stable address.
  const exec::Weight *store(exec::Weight weight) {
    program.weights.push_back(std::move(weight));
    exec::Weight &stored = program.weights.back();
    if (!stored.owned.empty())
      stored.data = stored.owned.data();
    return &stored;
  }

  /// The weight a value names: a tfm.param or a dense arith.constant.
  FailureOr<const exec::Weight *> weightOf(Operation *user, Value value) {
    auto found = weights.find(value);
    if (found != weights.end())
      return found->second;
    auto type = cast<RankedTensorType>(value.getType());
    exec::Weight weight;
    weight.rows = type.getDimSize(0);
    weight.cols = type.getRank() == 2 ? type.getDimSize(1) : 1;
    Operation *def = value.getDefiningOp();
    if (auto param = dyn_cast_or_null<tfm::ParamOp>(def)) {
      FailureOr<const TensorView *> tensor = tfm::lookupParameter(param);
      if (failed(tensor))
        return failure();
      weight.name = param.getName().str();
      // F32 archives are used in place (mapped, not copied) when aligned.
      if ((*tensor)->dtype == DType::F32 &&
          reinterpret_cast<uintptr_t>((*tensor)->data) % alignof(float) == 0)
        weight.data = reinterpret_cast<const float *>((*tensor)->data);
      else
        weight.owned = (*tensor)->toFloat32();
    } else if (auto dequantize = dyn_cast_or_null<tfm::DequantizeOp>(def)) {
      if (failed(dequantizeWeight(dequantize, weight)))
        return failure();
    } else if (auto constant = dyn_cast_or_null<arith::ConstantOp>(def)) {
      auto dense = dyn_cast<DenseFPElementsAttr>(constant.getValue());
      if (!dense)
        return def->emitError("weights must be dense floating-point constants");
      for (const APFloat &element : dense.getValues<APFloat>()) {
        APFloat copy = element;
        bool lost;
        copy.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                     &lost);
        weight.owned.push_back(copy.convertToFloat());
      }
      weight.name = "<constant>";
    } else {
      return user->emitOpError("weights must come from tfm.param or "
                               "arith.constant");
    }
    const exec::Weight *stored = store(std::move(weight));
    weights[value] = stored;
    return stored;
  }

  /// Values of a tfm.param or arith.constant weight operand as doubles
  /// (exact for f32 and i8), for tfm.dequantize.
  FailureOr<std::vector<double>> rawValues(Operation *user, Value value) {
    Operation *def = value.getDefiningOp();
    if (auto param = dyn_cast_or_null<tfm::ParamOp>(def)) {
      FailureOr<const TensorView *> tensor = tfm::lookupParameter(param);
      if (failed(tensor))
        return failure();
      return (*tensor)->toFloat64();
    }
    if (auto constant = dyn_cast_or_null<arith::ConstantOp>(def)) {
      std::vector<double> values;
      if (auto ints = dyn_cast<DenseIntElementsAttr>(constant.getValue())) {
        for (const APInt &element : ints.getValues<APInt>())
          values.push_back(double(element.getSExtValue()));
        return values;
      }
      if (auto floats = dyn_cast<DenseFPElementsAttr>(constant.getValue())) {
        for (const APFloat &element : floats.getValues<APFloat>())
          values.push_back(element.convertToFloat());
        return values;
      }
    }
    return user->emitOpError("operands must come from tfm.param or dense "
                             "arith.constant");
  }

  static std::string shortNumber(double value) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", value);
    return text;
  }

  /// W = (float)(codes - zero_points) * scales, checking the integer ranges
  /// and scales the op description promises (archives can lie).
  LogicalResult dequantizeWeight(tfm::DequantizeOp op, exec::Weight &weight) {
    FailureOr<std::vector<double>> codes = rawValues(op, op.getCodes());
    FailureOr<std::vector<double>> scales = rawValues(op, op.getScales());
    if (failed(codes) || failed(scales))
      return failure();
    std::vector<double> zeros;
    if (Value zeroPoints = op.getZeroPoints()) {
      FailureOr<std::vector<double>> loaded = rawValues(op, zeroPoints);
      if (failed(loaded))
        return failure();
      zeros = std::move(*loaded);
    }
    auto name = [&](Value value) -> std::string {
      auto param = value.getDefiningOp<tfm::ParamOp>();
      return param ? "'" + param.getName().str() + "'" : "<constant>";
    };
    int64_t bits = op.getBits(), lo = -(int64_t(1) << (bits - 1)),
            hi = (int64_t(1) << (bits - 1)) - 1;
    int64_t rows = weight.rows, cols = weight.cols;
    int64_t g = op.getGroupSize() == 0 ? cols : op.getGroupSize();
    int64_t groups = cols / g;
    for (size_t i = 0; i < codes->size(); ++i)
      if ((*codes)[i] < lo || (*codes)[i] > hi)
        return op.emitOpError()
               << "code " << int64_t((*codes)[i]) << " of "
               << name(op.getCodes()) << " at [" << i / cols << ", " << i % cols
               << "] is outside the " << bits << "-bit range [" << lo << ", "
               << hi << "]";
    for (size_t i = 0; i < scales->size(); ++i)
      if (!std::isfinite((*scales)[i]) || (*scales)[i] < 0.0)
        return op.emitOpError()
               << "scale " << shortNumber((*scales)[i]) << " of "
               << name(op.getScales()) << " at [" << i / groups << ", "
               << i % groups << "] must be finite and non-negative";
    for (size_t i = 0; i < zeros.size(); ++i)
      if (zeros[i] < lo || zeros[i] > hi)
        return op.emitOpError()
               << "zero point " << int64_t(zeros[i]) << " of "
               << name(op.getZeroPoints()) << " at [" << i / groups << ", "
               << i % groups << "] is outside the " << bits << "-bit range ["
               << lo << ", " << hi << "]";
    weight.name = name(op.getCodes());
    weight.owned.resize(rows * cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        int64_t j = r * groups + c / g;
        int32_t zero = zeros.empty() ? 0 : int32_t(zeros[j]);
        weight.owned[r * cols + c] =
            float(int32_t((*codes)[r * cols + c]) - zero) * float((*scales)[j]);
      }
    return success();
  }

  LogicalResult useWeight(Operation *op, Value value,
                          const exec::Weight *&slot) {
    if (!value)
      return success();
    FailureOr<const exec::Weight *> weight = weightOf(op, value);
    if (failed(weight))
      return failure();
    slot = *weight;
    return success();
  }

  LogicalResult lower(Operation *op) {
    if (isa<tfm::ParamOp, arith::ConstantOp, tfm::DequantizeOp>(op))
      return success(); // resolved when used
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      if (ret.getNumOperands() != 1)
        return ret.emitOpError("must return the logits");
      program.resultValue = number(ret.getOperand(0));
      return success();
    }
    exec::Instruction inst;
    if (op->getNumResults() == 1) {
      auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
      if (!type || type.getRank() != 2 || !type.isDynamicDim(0))
        return op->emitOpError()
               << "the executor runs any number of tokens: the result must "
                  "be tensor<?xNxf32>, got "
               << op->getResult(0).getType();
      inst.result = number(op->getResult(0));
      inst.width = type.getDimSize(1);
    }
    llvm::raw_string_ostream origin(inst.origin);
    op->getLoc().print(origin);

    LogicalResult result =
        llvm::TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](tfm::EmbeddingOp embedding) -> LogicalResult {
              inst.kind = exec::OpKind::Embedding;
              if (embedding.getTokens() != tokens)
                return op->emitOpError("must read the token input");
              // Token ids must be rows of every table.
              int64_t rows = cast<ShapedType>(embedding.getTable().getType())
                                 .getDimSize(0);
              program.vocabSize = program.vocabSize == 0
                                      ? rows
                                      : std::min(program.vocabSize, rows);
              return useWeight(op, embedding.getTable(), inst.weight);
            })
            .Case([&](tfm::RMSNormOp norm) -> LogicalResult {
              inst.kind = exec::OpKind::RMSNorm;
              inst.operands = {number(norm.getInput())};
              inst.epsilon = float(norm.getEpsilon().convertToDouble());
              return useWeight(op, norm.getGain(), inst.weight);
            })
            .Case([&](tfm::LinearOp linear) -> LogicalResult {
              inst.kind = exec::OpKind::Linear;
              inst.operands = {number(linear.getInput())};
              if (failed(useWeight(op, linear.getWeight(), inst.weight)))
                return failure();
              return useWeight(op, linear.getBias(), inst.bias);
            })
            .Case([&](tfm::RopeOp rope) -> LogicalResult { return lowerRope(rope, inst); })
            .Case([&](tfm::AttentionOp attention) -> LogicalResult {
              return lowerAttention(attention, inst);
            })
            .Case([&](tfm::SiluMulOp siluMul) -> LogicalResult {
              inst.kind = exec::OpKind::SiluMul;
              inst.operands = {number(siluMul.getGate()),
                               number(siluMul.getUp())};
              return success();
            })
            .Case([&](tfm::AddOp add) -> LogicalResult {
              inst.kind = exec::OpKind::Add;
              inst.operands = {number(add.getLhs()), number(add.getRhs())};
              return success();
            })
            .Case([&](tfm::RotateOp rotate) -> LogicalResult {
              inst.kind = exec::OpKind::Rotate;
              inst.operands = {number(rotate.getInput())};
              inst.blocks = rotate.getBlocks();
              inst.transpose = rotate.getTranspose();
              return useWeight(op, rotate.getRotation(), inst.weight);
            })
            .Case([&](tfm::HadamardOp hadamard) -> LogicalResult {
              auto transform = FastHadamardTransform::create(
                  hadamard.getBlockSize());
              if (!transform)
                return hadamard.emitOpError()
                       << llvm::toString(transform.takeError());
              program.hadamards.push_back(std::move(*transform));
              inst.kind = exec::OpKind::Hadamard;
              inst.operands = {number(hadamard.getInput())};
              inst.hadamard = &program.hadamards.back();
              inst.transpose = hadamard.getTranspose();
              return success();
            })
            .Case([&](tfm::TransitionOp transition) -> LogicalResult {
              return lowerTransition(transition, inst);
            })
            .Case([&](tfm::ResidualAdapterOp adapter) -> LogicalResult {
              inst.kind = exec::OpKind::ResidualAdapter;
              inst.operands = {number(adapter.getInput())};
              if (failed(useWeight(op, adapter.getBasis(), inst.weight)))
                return failure();
              return useWeight(op, adapter.getUpdate(), inst.bias);
            })
            .Case([&](tfm::FakeQuantOp fakeQuant) -> LogicalResult {
              inst.kind = exec::OpKind::FakeQuant;
              inst.operands = {number(fakeQuant.getInput())};
              inst.fakeQuant.bits = int(fakeQuant.getBits());
              inst.fakeQuant.symmetric = fakeQuant.getSymmetric();
              inst.fakeQuant.clip =
                  float(fakeQuant.getClip().convertToDouble());
              inst.fakeQuant.groupSize = fakeQuant.getGroupSize();
              return success();
            })
            .Default([&](Operation *other) -> LogicalResult {
              return other->emitOpError(
                  "cannot be run by the reference executor");
            });
    if (failed(result))
      return failure();
    if (instructionIndex)
      (*instructionIndex)[op] = int(program.instructions.size());
    loweredOps.push_back(op);
    program.instructions.push_back(std::move(inst));
    return success();
  }

  LogicalResult lowerRope(tfm::RopeOp rope, exec::Instruction &inst) {
    if (rope.getPositions() != positions)
      return rope.emitOpError("must read the position input");
    inst.kind = exec::OpKind::Rope;
    inst.operands = {number(rope.getInput())};
    inst.rope.numHeads = rope.getNumHeads();
    inst.rope.headDim = rope.getHeadDim();
    inst.rope.rotaryDim = rope.getRotaryDim();
    inst.rope.interleaved = rope.getLayout() == tfm::RopeLayout::interleaved;
    std::optional<std::array<double, 4>> scaling;
    if (auto s = rope.getScalingAttr())
      scaling = std::array<double, 4>{s.getFactor().convertToDouble(),
                                      s.getLowFreqFactor().convertToDouble(),
                                      s.getHighFreqFactor().convertToDouble(),
                                      double(s.getOriginalMaxPositions())};
    inst.rope.inverseFrequencies = exec::Program::ropeInverseFrequencies(
        inst.rope.rotaryDim, rope.getTheta().convertToDouble(), scaling);
    return success();
  }

  LogicalResult lowerAttention(tfm::AttentionOp attention,
                               exec::Instruction &inst) {
    inst.kind = exec::OpKind::Attention;
    inst.operands = {number(attention.getQuery()), number(attention.getKey()),
                     number(attention.getValue())};
    inst.attention.numHeads = attention.getNumHeads();
    inst.attention.numKVHeads = attention.getNumKvHeads();
    inst.attention.headDim = attention.getHeadDim();
    inst.attention.scale = float(attention.getScale().convertToDouble());
    // The IR's slot numbers only name caches; the program numbers them
    // densely, so a slot of 10^9 costs no more than slot 0.
    if (!usedCacheSlots.insert(attention.getCacheSlot()).second)
      return attention.emitOpError()
             << "cache_slot " << attention.getCacheSlot()
             << " is used by more than one attention op";
    inst.attention.cacheSlot = program.numCacheSlots++;
    return success();
  }

  /// A dense transition runs as one matrix T = R_out R_in^T, formed in
  /// double precision once.
  LogicalResult lowerTransition(tfm::TransitionOp transition,
                                exec::Instruction &inst) {
    const exec::Weight *from = nullptr, *to = nullptr;
    if (failed(useWeight(transition, transition.getFrom(), from)) ||
        failed(useWeight(transition, transition.getTo(), to)))
      return failure();
    Eigen::MatrixXd product =
        to->matrix().cast<double>() * from->matrix().cast<double>().transpose();
    exec::Weight weight;
    weight.name = "transition(" + to->name + ", " + from->name + ")";
    weight.rows = product.rows();
    weight.cols = product.cols();
    weight.owned.resize(product.size());
    Eigen::Map<exec::RowMatrix>(weight.owned.data(), weight.rows,
                                weight.cols) = product.cast<float>();
    inst.kind = exec::OpKind::Rotate;
    inst.operands = {number(transition.getInput())};
    inst.weight = store(std::move(weight));
    return success();
  }

  llvm::DenseMap<Operation *, int> *instructionIndex;
  std::vector<Operation *> loweredOps; ///< the op of each instruction
  Value tokens, positions;
  exec::Program program;
  llvm::DenseMap<Value, int> valueNumbers;
  llvm::DenseMap<Value, const exec::Weight *> weights;
  llvm::DenseSet<int64_t> usedCacheSlots;
};

/// Collects the error diagnostics emitted while it lives.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext *context)
      : handler(context, [this](Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() != DiagnosticSeverity::Error)
            return failure(); // let notes and warnings through
          std::string location;
          llvm::raw_string_ostream stream(location);
          if (auto file =
                  diagnostic.getLocation()->findInstanceOf<FileLineColLoc>())
            stream << file.getFilename().getValue() << ":" << file.getLine()
                   << ":" << file.getColumn();
          else
            diagnostic.getLocation().print(stream);
          if (!messages.empty())
            messages += "\n";
          messages += stream.str() + ": " + diagnostic.str();
          return success();
        }) {}

  llvm::Error takeError(llvm::StringRef fallback) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                   messages.empty() ? fallback.str().c_str()
                                                    : messages.c_str());
  }

private:
  std::string messages;
  ScopedDiagnosticHandler handler;
};

std::unique_ptr<LoadedModel> newModel() {
  auto model = std::make_unique<LoadedModel>();
  DialectRegistry registry;
  registerModelDialects(registry);
  model->context = std::make_unique<MLIRContext>(registry);
  model->context->loadAllAvailableDialects();
  return model;
}

/// Builds the program and the tokenizer of a model whose module is set.
llvm::Error finishLoading(LoadedModel &model, llvm::StringRef source,
                          LoadMode mode) {
  if (mode == LoadMode::Executable)
    if (llvm::Error error = rebuildProgram(model))
      return error;
  if (const TokenizerData *data = model.parameters().tokenizer()) {
    auto tokenizer = Tokenizer::create(*data);
    if (!tokenizer)
      return tokenizer.takeError();
    model.tokenizer = std::move(*tokenizer);
  }
  return llvm::Error::success();
}

} // namespace

ParameterSet &LoadedModel::parameters() const {
  return tfm::getParameterSet(context.get());
}

void registerModelDialects(DialectRegistry &registry) {
  registry.insert<tfm::TfmDialect, func::FuncDialect, arith::ArithDialect>();
}

FailureOr<exec::Program>
buildProgram(func::FuncOp func,
             llvm::DenseMap<Operation *, int> *instructionIndex) {
  return ProgramBuilder(instructionIndex).build(func);
}

llvm::Error rebuildProgram(LoadedModel &model) {
  DiagnosticCollector diagnostics(model.context.get());
  auto forward =
      model.module->lookupSymbol<func::FuncOp>(kForwardFunctionName);
  if (!forward)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the module has no function @%s",
                                   kForwardFunctionName.data());
  FailureOr<exec::Program> program = buildProgram(forward);
  if (failed(program))
    return diagnostics.takeError("cannot build the executor program");
  model.program = std::move(*program);
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<LoadedModel>>
loadModelFile(llvm::StringRef mlirPath, LoadMode mode) {
  std::unique_ptr<LoadedModel> model = newModel();
  DiagnosticCollector diagnostics(model->context.get());
  auto buffer = readInputFile(mlirPath, /*requiresNullTerminator=*/true);
  if (!buffer)
    return buffer.takeError();
  if (llvm::Error error = checkIRNesting((*buffer)->getBuffer(), mlirPath))
    return std::move(error);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  model->module = parseSourceFile<ModuleOp>(sourceMgr, model->context.get());
  if (!model->module)
    return diagnostics.takeError((mlirPath + ": cannot parse the file").str());
  tfm::getParameterSet(model->context.get())
      .setBaseDirectory(llvm::sys::path::parent_path(mlirPath));
  if (failed(tfm::loadParameters(*model->module)))
    return diagnostics.takeError("cannot load the parameter archives");
  if (llvm::Error error = finishLoading(*model, mlirPath, mode))
    return std::move(error);
  return std::move(model);
}

llvm::Expected<std::unique_ptr<LoadedModel>>
loadModelFromCheckpoint(Checkpoint checkpoint, LoadMode mode) {
  std::unique_ptr<LoadedModel> model = newModel();
  ParameterSet &parameters = tfm::getParameterSet(model->context.get());
  parameters.addCheckpoint(std::move(checkpoint));
  // The IR of an in-memory model names no archive: its tensors are already
  // in the parameter set.
  model->module = buildModelModule(*model->context, *parameters.checkpoint(0),
                                   "<in-memory>");
  (*model->module)->removeAttr(tfm::TfmDialect::getParametersAttrName());
  if (llvm::Error error = finishLoading(*model, "<in-memory model>", mode))
    return std::move(error);
  return std::move(model);
}

} // namespace respin
