//===- Session.cpp - Running a program with a key/value cache -------------===//

#include "respin/Executor/Session.h"
#include "respin/Executor/Kernels.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace respin::exec {

Session::Session(const Program &program)
    : program(program), caches(program.numCacheSlots) {}

void Session::reset() {
  for (KVCache &cache : caches) {
    cache.keys.clear();
    cache.values.clear();
  }
  cacheLength = 0;
}

llvm::Error Session::checkTokens(llvm::ArrayRef<int32_t> tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= program.vocabSize)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "token id %d at index %zu is outside the vocabulary of %lld tokens",
          tokens[i], i, (long long)program.vocabSize);
  return llvm::Error::success();
}

llvm::Expected<RowMatrix> Session::forward(llvm::ArrayRef<int32_t> tokens) {
  if (llvm::Error error = checkTokens(tokens))
    return std::move(error);
  std::vector<int32_t> positions(tokens.size());
  std::iota(positions.begin(), positions.end(), int32_t(cacheLength));
  std::vector<RowMatrix> values(program.numValues);
  for (const Instruction &inst : program.instructions)
    execute(inst, tokens, positions, values);
  cacheLength += int64_t(tokens.size());
  return std::move(values[program.resultValue]);
}

llvm::Error Session::runRange(llvm::ArrayRef<int32_t> tokens, size_t begin,
                              size_t end, std::vector<RowMatrix> &values) {
  if (llvm::Error error = checkTokens(tokens))
    return error;
  reset();
  std::vector<int32_t> positions(tokens.size());
  std::iota(positions.begin(), positions.end(), 0);
  values.resize(program.numValues);
  end = std::min(end, program.instructions.size());
  for (size_t i = begin; i < end; ++i)
    execute(program.instructions[i], tokens, positions, values);
  return llvm::Error::success();
}

void Session::execute(const Instruction &inst, llvm::ArrayRef<int32_t> tokens,
                      llvm::ArrayRef<int32_t> positions,
                      std::vector<RowMatrix> &values) {
  RowMatrix &out = values[inst.result];
  auto operand = [&](int i) -> const RowMatrix & {
    return values[inst.operands[i]];
  };
  auto n = Eigen::Index(tokens.size());
  switch (inst.kind) {
  case OpKind::Embedding:
    out.resize(n, inst.width);
    for (Eigen::Index i = 0; i < n; ++i)
      out.row(i) = inst.weight->matrix().row(tokens[i]);
    break;
  case OpKind::RMSNorm:
    rmsNorm(operand(0), inst.weight, inst.epsilon, out);
    break;
  case OpKind::Linear:
    if (linearInputObserver)
      linearInputObserver(inst, operand(0));
    linear(operand(0), *inst.weight, inst.bias, out);
    break;
  case OpKind::Rope:
    rope(operand(0), positions, inst.rope, out);
    break;
  case OpKind::Attention: {
    KVCache &cache = caches[inst.attention.cacheSlot];
    const RowMatrix &keys = operand(1), &vals = operand(2);
    cache.keys.insert(cache.keys.end(), keys.data(), keys.data() + keys.size());
    cache.values.insert(cache.values.end(), vals.data(),
                        vals.data() + vals.size());
    attention(operand(0), cache.keys.data(), cache.values.data(), cacheLength,
              inst.attention, out);
    break;
  }
  case OpKind::SiluMul:
    siluMul(operand(0), operand(1), out);
    break;
  case OpKind::Add:
    out = operand(0) + operand(1);
    break;
  case OpKind::Rotate:
    rotate(operand(0), *inst.weight, inst.blocks, inst.transpose, out);
    break;
  case OpKind::Hadamard:
    hadamard(operand(0), *inst.hadamard, inst.transpose, out);
    break;
  case OpKind::ResidualAdapter:
    residualAdapter(operand(0), *inst.weight, *inst.bias, out);
    break;
  case OpKind::FakeQuant:
    fakeQuant(operand(0), inst.fakeQuant, out);
    break;
  }
}

double tokenNLL(const Eigen::Ref<const Eigen::RowVectorXf> &logits,
                int32_t target) {
  double maxLogit = logits.maxCoeff();
  double total = 0.0;
  for (Eigen::Index i = 0; i < logits.size(); ++i)
    total += std::exp(double(logits[i]) - maxLogit);
  return maxLogit + std::log(total) - double(logits[target]);
}

} // namespace respin::exec
