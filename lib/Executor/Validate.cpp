//===- Validate.cpp - Load-time checks of a program -----------------------===//
//
// Widths are inferred forward: a value's width is fixed by the instruction
// that defines it (a linear by its weight's rows, an embedding by its
// table's columns, row-wise ops by their input), every use is checked
// against what its kernel reads, and the inferred width must equal the
// width the IR declared. Products of sizes are formed only after checking
// that they cannot overflow.
//
//===----------------------------------------------------------------------===//

#include "respin/Executor/Validate.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/Twine.h"

#include <cmath>
#include <limits>

namespace respin::exec {
namespace {

std::string text(const llvm::Twine &twine) { return twine.str(); }

/// `a * b` when it fits an int64 and both are positive.
std::optional<int64_t> product(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0 || a > std::numeric_limits<int64_t>::max() / b)
    return std::nullopt;
  return a * b;
}

class Validator {
public:
  explicit Validator(const Program &program)
      : program(program), widths(std::max(program.numValues, 0), -1) {}

  std::optional<ProgramDefect> run() {
    if (program.numValues <= 0 || !isValue(program.resultValue))
      return whole("the program has no result value");
    int embeddings = 0;
    for (size_t i = 0; i < program.instructions.size(); ++i) {
      current = int(i);
      const Instruction &inst = program.instructions[i];
      embeddings += inst.kind == OpKind::Embedding;
      std::optional<std::string> problem = check(inst);
      if (problem)
        return ProgramDefect{current, *problem};
    }
    current = -1;
    if (embeddings == 0)
      return whole("the program has no tfm.embedding: nothing reads the "
                   "token ids");
    int64_t logits = widths[program.resultValue];
    if (logits < 0)
      return whole("the result is not computed by any instruction");
    if (logits != program.vocabSize)
      return whole(text("the result has " + llvm::Twine(logits) +
                        " logits per token but the embedding table has " +
                        llvm::Twine(program.vocabSize) +
                        " rows: token ids and logits must index the same "
                        "vocabulary"));
    return std::nullopt;
  }

private:
  bool isValue(int value) const {
    return value >= 0 && value < program.numValues;
  }
  std::optional<ProgramDefect> whole(std::string message) const {
    return ProgramDefect{-1, std::move(message)};
  }

  /// Width of operand `i`, or an explanation why it has none.
  std::optional<std::string> operandWidth(const Instruction &inst, size_t i,
                                          int64_t &width) const {
    if (i >= inst.operands.size())
      return text("needs operand #" + llvm::Twine(i));
    int value = inst.operands[i];
    if (!isValue(value) || widths[value] < 0)
      return text("operand #" + llvm::Twine(i) +
                  " is not computed before it is used");
    width = widths[value];
    return std::nullopt;
  }

  std::optional<std::string> checkWeight(const Weight *weight,
                                         llvm::StringRef role) {
    if (!weight || !weight->data)
      return text("has no " + role);
    std::optional<int64_t> count = product(weight->rows, weight->cols);
    if (!count)
      return text(role + " '" + weight->name + "' has the invalid shape [" +
                  llvm::Twine(weight->rows) + ", " + llvm::Twine(weight->cols) +
                  "]");
    if (!weight->owned.empty() && int64_t(weight->owned.size()) != *count)
      return text(role + " '" + weight->name + "' holds " +
                  llvm::Twine(weight->owned.size()) + " values for shape [" +
                  llvm::Twine(weight->rows) + ", " + llvm::Twine(weight->cols) +
                  "]");
    if (!checkedFinite.insert(weight).second)
      return std::nullopt;
    for (int64_t i = 0; i < *count; ++i)
      if (!std::isfinite(weight->data[i]))
        return text(role + " '" + weight->name + "' holds " +
                    (std::isnan(weight->data[i]) ? "NaN" : "Inf") + " at [" +
                    llvm::Twine(i / weight->cols) + ", " +
                    llvm::Twine(i % weight->cols) + "]");
    return std::nullopt;
  }

  /// Checks `inst` and records the width of its result.
  std::optional<std::string> check(const Instruction &inst) {
    if (!isValue(inst.result))
      return std::string("has no result value");
    if (widths[inst.result] >= 0)
      return std::string("redefines a value");
    int64_t width = -1;
    std::optional<std::string> problem = infer(inst, width);
    if (problem)
      return problem;
    if (width != inst.width)
      return text("computes " + llvm::Twine(width) +
                  " features per token but its result type says " +
                  llvm::Twine(inst.width));
    widths[inst.result] = width;
    return std::nullopt;
  }

  std::optional<std::string> infer(const Instruction &inst, int64_t &width) {
    int64_t in = -1, other = -1;
    auto input = [&]() { return operandWidth(inst, 0, in); };
    switch (inst.kind) {
    case OpKind::Embedding:
      if (auto p = checkWeight(inst.weight, "embedding table"))
        return p;
      if (inst.weight->rows < program.vocabSize)
        return text("embedding table '" + inst.weight->name + "' has " +
                    llvm::Twine(inst.weight->rows) +
                    " rows, fewer than the vocabulary of " +
                    llvm::Twine(program.vocabSize));
      width = inst.weight->cols;
      return std::nullopt;
    case OpKind::RMSNorm:
      if (auto p = input())
        return p;
      if (!(std::isfinite(inst.epsilon) && inst.epsilon > 0.0f))
        return std::string("needs a finite positive epsilon");
      if (inst.weight) {
        if (auto p = checkWeight(inst.weight, "gain"))
          return p;
        if (inst.weight->rows * inst.weight->cols != in)
          return text("gain '" + inst.weight->name + "' has " +
                      llvm::Twine(inst.weight->rows * inst.weight->cols) +
                      " values for rows of " + llvm::Twine(in));
      }
      width = in;
      return std::nullopt;
    case OpKind::Linear:
      if (auto p = input())
        return p;
      if (auto p = checkWeight(inst.weight, "weight"))
        return p;
      if (inst.weight->cols != in)
        return text("weight '" + inst.weight->name + "' is [" +
                    llvm::Twine(inst.weight->rows) + ", " +
                    llvm::Twine(inst.weight->cols) + "] but the input has " +
                    llvm::Twine(in) + " features");
      if (inst.bias) {
        if (auto p = checkWeight(inst.bias, "bias"))
          return p;
        if (inst.bias->rows * inst.bias->cols != inst.weight->rows)
          return text("bias '" + inst.bias->name + "' has " +
                      llvm::Twine(inst.bias->rows * inst.bias->cols) +
                      " values for " + llvm::Twine(inst.weight->rows) +
                      " outputs");
      }
      width = inst.weight->rows;
      return std::nullopt;
    case OpKind::Rope: {
      if (auto p = input())
        return p;
      const RopeParams &rope = inst.rope;
      std::optional<int64_t> heads = product(rope.numHeads, rope.headDim);
      if (!heads || *heads != in)
        return text("rows of " + llvm::Twine(in) + " features are not " +
                    llvm::Twine(rope.numHeads) + " heads x " +
                    llvm::Twine(rope.headDim));
      if (rope.rotaryDim <= 0 || rope.rotaryDim % 2 != 0 ||
          rope.rotaryDim > rope.headDim)
        return text("rotary_dim " + llvm::Twine(rope.rotaryDim) +
                    " must be even, positive and at most head_dim " +
                    llvm::Twine(rope.headDim));
      if (int64_t(rope.inverseFrequencies.size()) != rope.rotaryDim / 2)
        return std::string("has no inverse frequency for every rotary pair");
      for (double frequency : rope.inverseFrequencies)
        if (!std::isfinite(frequency))
          return std::string("has a non-finite inverse frequency (theta or "
                             "scaling out of range)");
      width = in;
      return std::nullopt;
    }
    case OpKind::Attention: {
      const AttentionParams &a = inst.attention;
      int64_t keys = -1, values = -1;
      if (auto p = input())
        return p;
      if (auto p = operandWidth(inst, 1, keys))
        return p;
      if (auto p = operandWidth(inst, 2, values))
        return p;
      std::optional<int64_t> queryWidth = product(a.numHeads, a.headDim);
      std::optional<int64_t> kvWidth = product(a.numKVHeads, a.headDim);
      if (!queryWidth || !kvWidth || a.numHeads % a.numKVHeads != 0)
        return text("cannot split " + llvm::Twine(a.numHeads) +
                    " query heads over " + llvm::Twine(a.numKVHeads) +
                    " key/value heads of " + llvm::Twine(a.headDim));
      if (in != *queryWidth || keys != *kvWidth || values != *kvWidth)
        return text("query, key and value have " + llvm::Twine(in) + ", " +
                    llvm::Twine(keys) + " and " + llvm::Twine(values) +
                    " features; the heads need " + llvm::Twine(*queryWidth) +
                    ", " + llvm::Twine(*kvWidth) + " and " +
                    llvm::Twine(*kvWidth));
      if (!std::isfinite(a.scale))
        return std::string("needs a finite scale");
      if (a.cacheSlot < 0 || a.cacheSlot >= program.numCacheSlots ||
          !cacheSlots.insert(a.cacheSlot).second)
        return text("key/value cache slot " + llvm::Twine(a.cacheSlot) +
                    " is out of range or shared (the program has " +
                    llvm::Twine(program.numCacheSlots) + " slots)");
      width = in;
      return std::nullopt;
    }
    case OpKind::SiluMul:
    case OpKind::Add:
      if (auto p = input())
        return p;
      if (auto p = operandWidth(inst, 1, other))
        return p;
      if (in != other)
        return text("operands have " + llvm::Twine(in) + " and " +
                    llvm::Twine(other) + " features");
      width = in;
      return std::nullopt;
    case OpKind::Rotate: {
      if (auto p = input())
        return p;
      if (auto p = checkWeight(inst.weight, "rotation"))
        return p;
      int64_t n = inst.weight->rows;
      std::optional<int64_t> covered = product(inst.blocks, n);
      if (inst.weight->cols != n || !covered || *covered != in)
        return text("rows of " + llvm::Twine(in) + " features are not " +
                    llvm::Twine(inst.blocks) + " blocks of the [" +
                    llvm::Twine(n) + ", " + llvm::Twine(inst.weight->cols) +
                    "] rotation '" + inst.weight->name + "'");
      width = in;
      return std::nullopt;
    }
    case OpKind::Hadamard:
      if (auto p = input())
        return p;
      if (!inst.hadamard || inst.hadamard->size() <= 0 ||
          in % inst.hadamard->size() != 0)
        return text("the Hadamard size does not divide rows of " +
                    llvm::Twine(in) + " features");
      width = in;
      return std::nullopt;
    case OpKind::ResidualAdapter: {
      if (auto p = input())
        return p;
      if (auto p = checkWeight(inst.weight, "basis"))
        return p;
      if (auto p = checkWeight(inst.bias, "update"))
        return p;
      int64_t rank = inst.weight->cols;
      if (inst.weight->rows != in || inst.bias->rows != rank ||
          inst.bias->cols != rank)
        return text("basis '" + inst.weight->name + "' [" +
                    llvm::Twine(inst.weight->rows) + ", " +
                    llvm::Twine(rank) + "] and update [" +
                    llvm::Twine(inst.bias->rows) + ", " +
                    llvm::Twine(inst.bias->cols) + "] do not fit rows of " +
                    llvm::Twine(in) + " features");
      width = in;
      return std::nullopt;
    }
    case OpKind::FakeQuant: {
      if (auto p = input())
        return p;
      const FakeQuantParams &q = inst.fakeQuant;
      if (q.bits < 2 || q.bits > 8 || !(q.clip > 0.0f && q.clip <= 1.0f) ||
          q.groupSize < 0 || (q.groupSize > 0 && in % q.groupSize != 0))
        return text("bits " + llvm::Twine(q.bits) + ", clip and group_size " +
                    llvm::Twine(q.groupSize) + " do not fit rows of " +
                    llvm::Twine(in) + " features");
      width = in;
      return std::nullopt;
    }
    }
    return std::string("has an unknown instruction kind");
  }

  const Program &program;
  std::vector<int64_t> widths;
  llvm::DenseSet<const Weight *> checkedFinite;
  llvm::DenseSet<int64_t> cacheSlots;
  int current = -1;
};

} // namespace

std::optional<ProgramDefect> validateProgram(const Program &program) {
  return Validator(program).run();
}

} // namespace respin::exec
