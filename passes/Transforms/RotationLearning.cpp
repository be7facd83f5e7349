//===- RotationLearning.cpp - The learning problem of rotated IR ----------===//
//
// The fold of --tfm-fold-rotations is simulated, not performed: the IR keeps
// its rotations (learning only changes their values), and each offline
// rotation becomes a factor of the weights it would fold into, found by the
// same rules (into a single-use embedding or linear producer, else into
// consumers that are all linears, repeated until nothing changes).
//
//===----------------------------------------------------------------------===//

#include "respin/Transforms/RotationLearning.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Interpreter/ModelLoader.h"
#include "respin/Numerics/Orthogonal.h"
#include "respin/Transforms/QuantizationTargets.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <map>

using namespace mlir;
using namespace mlir::tfm;
using respin::exec::FoldFactor;

namespace {

/// Rotations already orthogonal to this are used as they are; others (e.g.
/// stored in float32) are replaced by their polar factor first.
constexpr double kProjectAbove = 1e-10;
/// Farther from orthogonal than this is an error, not rounding.
constexpr double kRejectAbove = 1e-4;

bool isOffline(Operation *op) {
  if (isa<RotateOp>(op))
    return true;
  auto hadamard = dyn_cast<HadamardOp>(op);
  return hadamard && !hadamard.getOnline();
}

/// The distinct rotations of a function: parameters by name, constants by
/// value.
class RotationTable {
public:
  FailureOr<int> indexOf(Value value, LearnableRotations &out) {
    std::string key;
    if (auto param = value.getDefiningOp<ParamOp>())
      key = "param:" + param.getName().str();
    auto found = key.empty() ? byValue.find(value) : byValue.end();
    if (!key.empty()) {
      auto named = byName.find(key);
      if (named != byName.end())
        return named->second;
    } else if (found != byValue.end()) {
      return found->second;
    }
    FailureOr<Eigen::MatrixXd> matrix = readWeight(value);
    if (failed(matrix))
      return failure();
    std::string name = nameOf(value, out.rotationValues.size());
    if (matrix->rows() != matrix->cols() || !matrix->allFinite())
      return emitError(value.getLoc())
             << "rotation '" << name << "' must be a finite square matrix";
    double error = respin::orthogonalityError(*matrix);
    if (error > kRejectAbove)
      return emitError(value.getLoc())
             << "rotation '" << name
             << "' is not orthogonal (max |R^T R - I| = "
             << formatOptionNumber(error) << ")";
    if (error > kProjectAbove)
      *matrix = respin::polarFactor(*matrix);
    int index = int(out.rotationValues.size());
    out.rotationValues.push_back(value);
    out.initial.push_back(std::move(*matrix));
    out.problem.rotationNames.push_back(name);
    if (key.empty())
      byValue[value] = index;
    else
      byName[key] = index;
    return index;
  }

private:
  static std::string nameOf(Value value, size_t index) {
    if (auto param = value.getDefiningOp<ParamOp>())
      return param.getName().str();
    if (auto loc = dyn_cast<NameLoc>(value.getLoc()))
      return loc.getName().str();
    return "rotation #" + std::to_string(index);
  }

  std::map<std::string, int> byName;
  llvm::DenseMap<Value, int> byValue;
};

/// Factors of one embedding or linear.
struct Factors {
  SmallVector<FoldFactor> output, input;
};

class ProblemBuilder {
public:
  ProblemBuilder(func::FuncOp func, const LearningQuantization &quantization)
      : func(func), quantization(quantization) {}

  FailureOr<LearnableRotations> build() {
    if (failed(checkInput()) || failed(lowerProgram()) ||
        failed(simulateFold()) || failed(collectTransitions()))
      return failure();
    buildFoldedProgram();
    result.problem.weightBits = quantization.weightBits;
    return std::move(result);
  }

private:
  LogicalResult checkInput() {
    Operation *quantized = nullptr, *adapter = nullptr, *rotation = nullptr;
    func.walk([&](Operation *op) {
      if (isa<FakeQuantOp, DequantizeOp>(op) && !quantized)
        quantized = op;
      if (isa<ResidualAdapterOp>(op) && !adapter)
        adapter = op;
      if (isa<RotateOp, TransitionOp>(op) && !rotation)
        rotation = op;
    });
    if (quantized)
      return quantized->emitOpError(
          "is a quantizer: run --tfm-learn-rotations before the quantization "
          "passes (it inserts the quantizers it learns with itself)");
    if (adapter)
      return adapter->emitOpError(
          "is an approximated transition: run --tfm-learn-rotations before "
          "--tfm-approximate-residual-rotations");
    if (!rotation)
      return func.emitError("no rotations to learn: run "
                            "--tfm-insert-rotations before "
                            "--tfm-learn-rotations");
    return success();
  }

  LogicalResult lowerProgram() {
    FailureOr<respin::exec::Program> lowered =
        respin::buildProgram(func, &instructionIndex);
    if (failed(lowered))
      return failure();
    program = std::move(*lowered);
    return success();
  }

  int instructionOf(Operation *op) { return instructionIndex.lookup(op); }

  Value resolve(Value value) const {
    for (auto it = alias.find(value); it != alias.end(); it = alias.find(value))
      value = it->second;
    return value;
  }

  /// Live uses of every value, seen through the rotations folded so far.
  llvm::DenseMap<Value, SmallVector<OpOperand *>> liveUses() {
    llvm::DenseMap<Value, SmallVector<OpOperand *>> uses;
    func.walk([&](Operation *op) {
      if (folded.contains(op))
        return;
      for (OpOperand &operand : op->getOpOperands())
        uses[resolve(operand.get())].push_back(&operand);
    });
    return uses;
  }

  FailureOr<FoldFactor> factorOf(Operation *op) {
    FoldFactor factor;
    if (auto rotate = dyn_cast<RotateOp>(op)) {
      FailureOr<int> index = rotations.indexOf(rotate.getRotation(), result);
      if (failed(index))
        return failure();
      factor.rotation = *index;
      factor.blocks = rotate.getBlocks();
      factor.transpose = rotate.getTranspose();
      return factor;
    }
    auto hadamard = cast<HadamardOp>(op);
    factor.hadamard = program.instructions[instructionOf(op)].hadamard;
    factor.transpose = hadamard.getTranspose();
    int64_t n = factor.hadamard->size();
    if (n <= respin::exec::kDenseHadamardLimit) {
      // Columns H e_i: transform the rows of the identity, then transpose.
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
          rows = Eigen::MatrixXd::Identity(n, n);
      factor.hadamard->applyRows(
          llvm::MutableArrayRef<double>(rows.data(), rows.size()), false);
      factor.denseHadamard = rows.transpose();
    }
    return factor;
  }

  /// Folds `op` if --tfm-fold-rotations could now; returns whether it did.
  FailureOr<bool> tryFold(Operation *op) {
    auto uses = liveUses();
    Value input = resolve(op->getOperand(0)), output = op->getResult(0);
    Operation *producer = input.getDefiningOp();
    bool producerOnlyFeedsThis = producer && uses[input].size() == 1;
    SmallVector<Operation *> targets;
    bool outputSide = false;
    if (isa_and_nonnull<EmbeddingOp, LinearOp>(producer) &&
        producerOnlyFeedsThis) {
      targets.push_back(producer);
      outputSide = true;
    } else {
      SmallVector<OpOperand *> &users = uses[output];
      if (users.empty())
        return false;
      for (OpOperand *use : users) {
        if (!isa<LinearOp>(use->getOwner()) || use->getOperandNumber() != 0)
          return false;
        targets.push_back(use->getOwner());
      }
    }
    FailureOr<FoldFactor> factor = factorOf(op);
    if (failed(factor))
      return failure();
    for (Operation *target : targets) {
      Factors &factors = weightFactors[target];
      (outputSide ? factors.output : factors.input).push_back(*factor);
    }
    alias[output] = input;
    folded.insert(op);
    return true;
  }

  LogicalResult simulateFold() {
    SmallVector<Operation *> pending;
    func.walk([&](Operation *op) {
      if (isOffline(op))
        pending.push_back(op);
    });
    bool changed = true;
    while (changed && !pending.empty()) {
      changed = false;
      SmallVector<Operation *> remaining;
      for (Operation *op : pending) {
        FailureOr<bool> done = tryFold(op);
        if (failed(done))
          return failure();
        if (*done)
          changed = true;
        else
          remaining.push_back(op);
      }
      pending = std::move(remaining);
    }
    for (Operation *op : pending)
      op->emitOpError("cannot be folded: it is neither applied to an "
                      "embedding or single-use linear nor read only by "
                      "linears");
    return failure(!pending.empty());
  }

  LogicalResult collectTransitions() {
    WalkResult walk = func.walk([&](TransitionOp transition) {
      FailureOr<int> from = rotations.indexOf(transition.getFrom(), result);
      FailureOr<int> to = rotations.indexOf(transition.getTo(), result);
      if (failed(from) || failed(to))
        return WalkResult::interrupt();
      transitionRotations[transition] = {*from, *to};
      return WalkResult::advance();
    });
    result.numTransitions = int64_t(transitionRotations.size());
    return failure(walk.wasInterrupted());
  }

  /// Where --tfm-quantize-activations puts the input quantizer of each
  /// decoder linear: (group size) by linear op.
  llvm::DenseMap<Operation *, int64_t> activationQuantizers() {
    llvm::DenseMap<Operation *, int64_t> groups;
    if (quantization.activationBits >= kOffBits)
      return groups;
    for (const LinearTarget &target : classifyLinears(func)) {
      if (target.role == LinearRole::LMHead ||
          target.role == LinearRole::Unknown)
        continue;
      int64_t group = 0;
      if (target.role == LinearRole::Output && target.attention)
        group = target.attention.getHeadDim();
      groups[target.op] = group;
    }
    return groups;
  }

  bool isQuantizedWeight(Operation *op) {
    return quantization.weightBits < kOffBits && quantizedLinears.contains(op);
  }

  /// Copies the program without the folded instructions (their results
  /// become their inputs), with fake quantizers inserted, and records every
  /// foldable weight.
  void buildFoldedProgram() {
    respin::exec::Program &p = program;
    llvm::DenseMap<Operation *, int64_t> quantizerGroups =
        activationQuantizers();
    for (const LinearTarget &target : classifyLinears(func))
      if (target.role != LinearRole::LMHead &&
          target.role != LinearRole::Unknown)
        quantizedLinears.insert(target.op);

    std::vector<int> valueAlias(p.numValues, -1);
    llvm::DenseSet<int> removed;
    for (Operation *op : folded) {
      int index = instructionOf(op);
      removed.insert(index);
      valueAlias[p.instructions[index].result] =
          p.instructions[index].operands[0];
    }
    auto resolveNumber = [&](int value) {
      while (valueAlias[value] >= 0)
        value = valueAlias[value];
      return value;
    };
    llvm::DenseMap<int, Operation *> opOf;
    for (auto &[op, index] : instructionIndex)
      opOf[index] = op;

    std::vector<respin::exec::Instruction> instructions;
    std::map<std::pair<int, int64_t>, int> quantizers;
    std::vector<int> newIndex(p.instructions.size(), -1);
    auto addQuantizer = [&](int input, int64_t width, int bits, int64_t group,
                            const std::string &origin) {
      respin::exec::Instruction quantizer;
      quantizer.kind = respin::exec::OpKind::FakeQuant;
      quantizer.operands = {input};
      quantizer.result = p.numValues++;
      quantizer.width = width;
      quantizer.fakeQuant.bits = bits;
      quantizer.fakeQuant.groupSize = group;
      quantizer.origin = "quantizer of " + origin;
      instructions.push_back(std::move(quantizer));
      return instructions.back().result;
    };
    for (size_t index = 0; index < p.instructions.size(); ++index) {
      if (removed.contains(int(index)))
        continue;
      respin::exec::Instruction inst = p.instructions[index];
      for (int &operand : inst.operands)
        operand = resolveNumber(operand);
      Operation *op = opOf.lookup(int(index));
      auto group = quantizerGroups.find(op);
      if (group != quantizerGroups.end()) {
        int64_t width =
            cast<ShapedType>(op->getOperand(0).getType()).getDimSize(1);
        int &quantized = quantizers[{inst.operands[0], group->second}];
        if (!quantized)
          quantized =
              addQuantizer(inst.operands[0], width, quantization.activationBits,
                           group->second, inst.origin) +
              1;
        inst.operands[0] = quantized - 1;
      }
      if (inst.kind == respin::exec::OpKind::Attention &&
          quantization.kvBits < kOffBits)
        for (int operand : {1, 2}) {
          int64_t width =
              cast<ShapedType>(op->getOperand(operand).getType()).getDimSize(1);
          inst.operands[operand] =
              addQuantizer(inst.operands[operand], width, quantization.kvBits,
                           inst.attention.headDim, inst.origin);
        }
      newIndex[index] = int(instructions.size());
      instructions.push_back(std::move(inst));
    }
    p.resultValue = resolveNumber(p.resultValue);
    p.instructions = std::move(instructions);

    // Every embedding and linear, with the factors that fold into it.
    func.walk([&](Operation *op) {
      if (!isa<EmbeddingOp, LinearOp>(op))
        return;
      int index = newIndex[instructionOf(op)];
      const respin::exec::Instruction &inst = p.instructions[index];
      respin::exec::FoldedWeight weight;
      weight.instruction = index;
      weight.name = inst.weight->name;
      weight.embedding = isa<EmbeddingOp>(op);
      weight.frozen = inst.weight->matrix().cast<double>();
      if (weight.embedding)
        weight.frozen.transposeInPlace();
      if (inst.bias)
        weight.frozenBias = inst.bias->matrix().cast<double>();
      auto factors = weightFactors.find(op);
      if (factors != weightFactors.end()) {
        weight.output.assign(factors->second.output.begin(),
                             factors->second.output.end());
        weight.input.assign(factors->second.input.begin(),
                            factors->second.input.end());
      }
      weight.quantize = isQuantizedWeight(op);
      result.problem.folded.push_back(std::move(weight));
    });
    for (auto &[op, fromTo] : transitionRotations) {
      respin::exec::TransitionWeight transition;
      transition.instruction = newIndex[instructionOf(op)];
      transition.from = fromTo.first;
      transition.to = fromTo.second;
      result.problem.transitions.push_back(transition);
    }
    llvm::sort(result.problem.transitions, [](const auto &a, const auto &b) {
      return a.instruction < b.instruction;
    });
    result.problem.program = std::move(program);
  }

  func::FuncOp func;
  LearningQuantization quantization;
  LearnableRotations result;
  RotationTable rotations;
  respin::exec::Program program;
  llvm::DenseMap<Operation *, int> instructionIndex;
  llvm::DenseMap<Value, Value> alias;
  llvm::SetVector<Operation *> folded;
  llvm::DenseMap<Operation *, Factors> weightFactors;
  llvm::DenseMap<Operation *, std::pair<int, int>> transitionRotations;
  llvm::DenseSet<Operation *> quantizedLinears;
};

} // namespace

FailureOr<LearnableRotations>
mlir::tfm::buildLearnableRotations(func::FuncOp func,
                                   const LearningQuantization &quantization) {
  return ProblemBuilder(func, quantization).build();
}

LogicalResult
mlir::tfm::setRotations(func::FuncOp func, const LearnableRotations &learnable,
                        const std::vector<Eigen::MatrixXd> &rotations) {
  respin::ParameterSet &parameters = getParameterSet(func.getContext());
  for (auto [value, matrix] : llvm::zip(learnable.rotationValues, rotations)) {
    auto type = cast<RankedTensorType>(value.getType());
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
        rowMajor = matrix;
    llvm::ArrayRef<double> data(rowMajor.data(), rowMajor.size());
    if (auto param = value.getDefiningOp<ParamOp>()) {
      // Every tfm.param of this name reads the new tensor.
      if (type.getElementType().isF64())
        parameters.setPending(param.getName(), type.getShape(), data);
      else
        parameters.setPending(param.getName(), type.getShape(),
                              std::vector<float>(data.begin(), data.end()));
      continue;
    }
    auto constant = value.getDefiningOp<arith::ConstantOp>();
    if (!constant)
      return emitError(value.getLoc(), "rotation is neither a tfm.param nor "
                                       "an arith.constant");
    SmallVector<APFloat> elements;
    for (double element : data) {
      APFloat converted(element);
      bool lost;
      if (!type.getElementType().isF64())
        converted.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                          &lost);
      elements.push_back(converted);
    }
    constant.setValueAttr(DenseFPElementsAttr::get(type, elements));
  }
  return success();
}
