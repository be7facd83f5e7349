//===- LayerwiseCalibration.cpp - One forward pass for all Hessians -------===//

#include "respin/Transforms/LayerwiseCalibration.h"
#include "respin/Executor/Session.h"
#include "respin/Interpreter/ModelLoader.h"

#include <algorithm>
#include <atomic>
#include <limits>

using namespace mlir;
using namespace mlir::tfm;
using respin::exec::Instruction;
using respin::exec::OpKind;
using respin::exec::RowMatrix;

namespace {

/// Multiply-adds per token of one instruction, for progress estimates only.
double estimatedCost(const Instruction &inst, int64_t sequenceLength) {
  switch (inst.kind) {
  case OpKind::Linear:
    return double(inst.weight->rows) * double(inst.weight->cols);
  case OpKind::Attention:
    // q.k and p.v over (L + 1) / 2 visible rows on average.
    return 2.0 * double(inst.attention.numHeads * inst.attention.headDim) *
           double(sequenceLength + 1) / 2.0;
  case OpKind::Hadamard: {
    respin::HadamardSplit split = inst.hadamard->split();
    return double(inst.width) * double(split.m + split.k);
  }
  case OpKind::Rotate:
    return double(inst.width) * double(inst.weight->rows);
  case OpKind::ResidualAdapter:
    return 2.0 * double(inst.width) * double(inst.weight->cols) +
           double(inst.weight->cols) * double(inst.weight->cols);
  default:
    return double(inst.width);
  }
}

} // namespace

FailureOr<std::unique_ptr<CalibrationStream>>
CalibrationStream::create(func::FuncOp func, const CalibrationWindows &windows,
                          unsigned threads) {
  if (windows.empty())
    return func.emitError("calibration needs at least one window");
  std::unique_ptr<CalibrationStream> stream(
      new CalibrationStream(windows, resolveThreadCount(threads)));
  FailureOr<respin::exec::Program> program =
      respin::buildProgram(func, &stream->instructionIndex);
  if (failed(program))
    return failure();
  stream->program = std::move(*program);
  const std::vector<Instruction> &instructions = stream->program.instructions;

  stream->lastUse.assign(stream->program.numValues, 0);
  for (size_t i = 0; i < instructions.size(); ++i)
    for (int operand : instructions[i].operands)
      stream->lastUse[operand] = std::max(stream->lastUse[operand], i);
  if (stream->program.resultValue >= 0)
    stream->lastUse[stream->program.resultValue] =
        std::numeric_limits<size_t>::max();

  stream->costBefore.assign(instructions.size() + 1, 0.0);
  for (size_t i = 0; i < instructions.size(); ++i)
    stream->costBefore[i + 1] =
        stream->costBefore[i] +
        estimatedCost(instructions[i], int64_t(windows.front().size()));
  stream->tables.resize(windows.size());
  return stream;
}

FailureOr<size_t> CalibrationStream::indexOf(LinearOp linear) const {
  auto found = instructionIndex.find(linear);
  if (found == instructionIndex.end())
    return linear.emitError("calibration: this linear is not in the program");
  return size_t(found->second);
}

LogicalResult CalibrationStream::runTo(size_t end, Operation *anchor) {
  std::atomic<size_t> next{0};
  std::vector<std::string> errors(windows.size());
  auto worker = [&]() {
    respin::exec::Session session(program);
    for (size_t w = next++; w < windows.size(); w = next++) {
      std::vector<RowMatrix> &values = tables[w];
      if (llvm::Error error =
              session.runRange(windows[w], position, end, values)) {
        errors[w] = llvm::toString(std::move(error));
        continue;
      }
      // Free what no later instruction reads (lastUse < end): only the
      // values live across `end` stay, for every window.
      for (size_t v = 0; v < values.size(); ++v)
        if (values[v].size() != 0 && lastUse[v] < end)
          values[v] = RowMatrix();
    }
  };
  runWorkers(unsigned(std::min<size_t>(threads, windows.size())), worker);
  for (size_t w = 0; w < windows.size(); ++w)
    if (!errors[w].empty())
      return anchor->emitError()
             << "calibration run failed on window " << w << ": " << errors[w];
  position = end;
  return success();
}

FailureOr<respin::quant::HessianAccumulator>
CalibrationStream::advanceTo(LinearOp linear) {
  FailureOr<size_t> index = indexOf(linear);
  if (failed(index))
    return failure();
  if (*index < position)
    return linear.emitError("calibration: this linear lies before the point "
                            "the calibration windows have reached");
  if (failed(runTo(*index, linear)))
    return failure();
  int input = program.instructions[*index].operands[0];
  int64_t cols = cast<ShapedType>(linear.getInput().getType()).getDimSize(1);
  int64_t slots = std::min<int64_t>(kHessianSlots, windows.size());
  std::vector<respin::quant::HessianAccumulator> sums(
      slots, respin::quant::HessianAccumulator(cols));
  std::atomic<int64_t> next{0};
  runWorkers(unsigned(std::min<int64_t>(threads, slots)), [&]() {
    for (int64_t slot = next++; slot < slots; slot = next++)
      for (size_t w = slot; w < windows.size(); w += slots) {
        const RowMatrix &x = tables[w][input];
        sums[slot].add(x.data(), x.rows());
      }
  });
  respin::quant::HessianAccumulator total(cols);
  for (const respin::quant::HessianAccumulator &sum : sums)
    total.merge(sum);
  return total;
}

LogicalResult CalibrationStream::replaceWeight(LinearOp linear,
                                               std::vector<float> weight) {
  FailureOr<size_t> index = indexOf(linear);
  if (failed(index))
    return failure();
  Instruction &inst = program.instructions[*index];
  if (int64_t(weight.size()) != inst.weight->rows * inst.weight->cols)
    return linear.emitError()
           << "calibration: replacement weight has " << weight.size()
           << " values, expected " << inst.weight->rows << " x "
           << inst.weight->cols;
  respin::exec::Weight replacement;
  replacement.name = inst.weight->name;
  replacement.rows = inst.weight->rows;
  replacement.cols = inst.weight->cols;
  replacement.owned = std::move(weight);
  program.weights.push_back(std::move(replacement));
  respin::exec::Weight &stored = program.weights.back();
  stored.data = stored.owned.data();
  inst.weight = &stored;
  return success();
}

double CalibrationStream::fractionDone() const {
  return costBefore.back() > 0.0 ? costBefore[position] / costBefore.back()
                                 : 0.0;
}

double CalibrationStream::fractionBefore(LinearOp linear) const {
  auto found = instructionIndex.find(linear);
  if (found == instructionIndex.end() || costBefore.back() <= 0.0)
    return fractionDone();
  return costBefore[found->second] / costBefore.back();
}
