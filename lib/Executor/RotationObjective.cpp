//===- RotationObjective.cpp - Loss of a folded network and its rotations -===//

#include "respin/Executor/RotationObjective.h"
#include "respin/Quantization/Quantizer.h"

#include <atomic>
#include <mutex>
#include <thread>

namespace respin::exec {

namespace {
using Eigen::MatrixXd;

bool isLearned(const FoldFactor &factor) { return factor.rotation >= 0; }

/// m <- F m, or F^T m with `transposed`.
void applyLeft(const FoldFactor &factor, const std::vector<MatrixXd> &rotations,
               MatrixXd &m, bool transposed) {
  bool useTranspose = factor.transpose != transposed;
  if (factor.hadamard && factor.denseHadamard.size()) {
    const MatrixXd &h = factor.denseHadamard;
    int64_t n = h.rows();
    for (int64_t block = 0; block * n < m.rows(); ++block) {
      auto rows = m.middleRows(block * n, n);
      rows = useTranspose ? (h.transpose() * rows).eval() : (h * rows).eval();
    }
    return;
  }
  if (factor.hadamard) {
    // The columns of the column-major m are contiguous: as a row-major
    // buffer, applyRows transforms each length-n chunk of every column.
    factor.hadamard->applyRows(
        llvm::MutableArrayRef<double>(m.data(), m.size()), useTranspose);
    return;
  }
  const MatrixXd &r = rotations[factor.rotation];
  int64_t n = r.rows();
  for (int64_t block = 0; block < factor.blocks; ++block) {
    auto rows = m.middleRows(block * n, n);
    if (useTranspose)
      rows = (r.transpose() * rows).eval();
    else
      rows = (r * rows).eval();
  }
}

/// m <- m F, or m F^T with `transposed` (m F = (F^T m^T)^T).
void applyRight(const FoldFactor &factor,
                const std::vector<MatrixXd> &rotations, MatrixXd &m,
                bool transposed) {
  MatrixXd t = m.transpose();
  applyLeft(factor, rotations, t, !transposed);
  m = t.transpose();
}

/// Adds the gradient of R to `dR` given the gradient `dF` of the whole
/// factor F = I_b kron R (or R^T).
void addBlockGradient(const FoldFactor &factor, const MatrixXd &dF,
                      MatrixXd &dR) {
  int64_t n = dR.rows();
  MatrixXd sum = MatrixXd::Zero(n, n);
  for (int64_t block = 0; block < factor.blocks; ++block)
    sum += dF.block(block * n, block * n, n, n);
  if (factor.transpose)
    dR += sum.transpose();
  else
    dR += sum;
}

unsigned threadCount(unsigned requested, size_t work) {
  unsigned threads =
      requested ? requested : std::max(1u, std::thread::hardware_concurrency());
  return unsigned(std::max<size_t>(1, std::min<size_t>(threads, work)));
}
} // namespace

/// A_j = W In_1..In_j (A_0 = W), B_j = Out_j..Out_1 A_m, c_j = Out_j..Out_1 b.
template <typename T> struct RotationObjective<T>::Partials {
  std::vector<MatrixXd> input, output, bias;
};

template <typename T>
RotationObjective<T>::RotationObjective(const RotationProblem &problem,
                                        unsigned threads)
    : problem(problem), threads(threads),
      weights(ProgramWeights<T>::fromProgram(problem.program)),
      partials(problem.folded.size()) {}

template <typename T> RotationObjective<T>::~RotationObjective() = default;

template <typename T>
llvm::Error RotationObjective<T>::fold(const std::vector<MatrixXd> &rotations) {
  for (size_t i = 0; i < problem.folded.size(); ++i) {
    const FoldedWeight &spec = problem.folded[i];
    Partials &p = partials[i];
    p.input.assign(1, spec.frozen);
    for (const FoldFactor &factor : spec.input) {
      p.input.push_back(p.input.back());
      applyRight(factor, rotations, p.input.back(), false);
    }
    p.output.assign(1, p.input.back());
    p.bias.assign(1, spec.frozenBias);
    for (const FoldFactor &factor : spec.output) {
      p.output.push_back(p.output.back());
      applyLeft(factor, rotations, p.output.back(), false);
      if (spec.frozenBias.size()) {
        p.bias.push_back(p.bias.back());
        applyLeft(factor, rotations, p.bias.back(), false);
      }
    }
    const MatrixXd &folded = p.output.back();
    Matrix<T> &target = weights.weight[spec.instruction];
    if (spec.embedding)
      target = folded.transpose().cast<T>();
    else
      target = folded.cast<T>();
    if (spec.frozenBias.size())
      weights.bias[spec.instruction] = p.bias.back().template cast<T>();
    if (!spec.quantize || problem.weightBits >= 16)
      continue;
    RowMatrix values = folded.cast<float>();
    quant::WeightQuantSpec quantSpec;
    quantSpec.bits = problem.weightBits;
    auto quantized = quant::quantizeRTN(
        spec.name, llvm::ArrayRef<float>(values.data(), values.size()),
        values.rows(), values.cols(), quantSpec, quant::ClipSearch());
    if (!quantized)
      return quantized.takeError();
    std::vector<float> dequantized = quantized->dequantize();
    target = Eigen::Map<const RowMatrix>(dequantized.data(), values.rows(),
                                         values.cols())
                 .cast<T>();
  }
  for (const TransitionWeight &transition : problem.transitions)
    weights.weight[transition.instruction] =
        (rotations[transition.to] * rotations[transition.from].transpose())
            .cast<T>();
  return llvm::Error::success();
}

template <typename T>
void RotationObjective<T>::chainToRotations(
    const std::vector<MatrixXd> &rotations,
    const WeightGradients<double> &grads, std::vector<MatrixXd> &out) const {
  for (size_t i = 0; i < problem.folded.size(); ++i) {
    const FoldedWeight &spec = problem.folded[i];
    const Partials &p = partials[i];
    if (grads.weight[spec.instruction].size() == 0)
      continue;
    MatrixXd g = grads.weight[spec.instruction];
    if (spec.embedding)
      g.transposeInPlace();
    MatrixXd gBias;
    if (spec.frozenBias.size())
      gBias = grads.bias[spec.instruction];
    // Output side, outermost first: dOut_j = G_j B_{j-1}^T,
    // G_{j-1} = Out_j^T G_j.
    for (size_t j = spec.output.size(); j-- > 0;) {
      const FoldFactor &factor = spec.output[j];
      if (isLearned(factor)) {
        MatrixXd dF = g * p.output[j].transpose();
        if (gBias.size())
          dF += gBias * p.bias[j].transpose();
        addBlockGradient(factor, dF, out[factor.rotation]);
      }
      applyLeft(factor, rotations, g, /*transposed=*/true);
      if (gBias.size())
        applyLeft(factor, rotations, gBias, /*transposed=*/true);
    }
    // Input side, outermost first: dIn_j = A_{j-1}^T H_j,
    // H_{j-1} = H_j In_j^T.
    for (size_t j = spec.input.size(); j-- > 0;) {
      const FoldFactor &factor = spec.input[j];
      if (isLearned(factor))
        addBlockGradient(factor, p.input[j].transpose() * g,
                         out[factor.rotation]);
      applyRight(factor, rotations, g, /*transposed=*/true);
    }
  }
  for (const TransitionWeight &transition : problem.transitions) {
    const MatrixXd &dT = grads.weight[transition.instruction];
    out[transition.to] += dT * rotations[transition.from];
    out[transition.from] += dT.transpose() * rotations[transition.to];
  }
}

template <typename T>
llvm::Expected<ObjectiveValue>
RotationObjective<T>::evaluate(const std::vector<MatrixXd> &rotations,
                               llvm::ArrayRef<std::vector<int32_t>> windows,
                               bool withGradient) {
  if (rotations.size() != problem.rotationNames.size())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "expected %zu rotations, got %zu",
        problem.rotationNames.size(), rotations.size());
  if (llvm::Error error = fold(rotations))
    return std::move(error);

  ObjectiveValue result;
  for (const std::vector<int32_t> &window : windows)
    result.tokens += std::max<int64_t>(0, int64_t(window.size()) - 1);
  if (result.tokens == 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no window has a token to predict");
  T scale = T(1.0 / double(result.tokens));

  // Which weights the chain rule reads.
  std::vector<int> needed;
  if (withGradient) {
    for (const FoldedWeight &spec : problem.folded)
      if (llvm::any_of(spec.output, isLearned) ||
          llvm::any_of(spec.input, isLearned))
        needed.push_back(spec.instruction);
    for (const TransitionWeight &transition : problem.transitions)
      needed.push_back(transition.instruction);
  }
  std::vector<WeightGradients<T>> slots;
  if (withGradient)
    slots.assign(windows.size(), WeightGradients<T>(problem.program));
  std::vector<double> losses(windows.size());
  std::atomic<size_t> next{0};
  std::mutex errorMutex;
  std::string firstError;
  auto worker = [&]() {
    Tape<T> tape(problem.program, weights);
    Matrix<T> dLogits;
    for (size_t w = next++; w < windows.size(); w = next++) {
      auto logits = tape.forward(windows[w]);
      if (!logits) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (firstError.empty())
          firstError = llvm::toString(logits.takeError());
        return;
      }
      losses[w] = nextTokenCrossEntropy<T>(*logits, windows[w], scale,
                                           withGradient ? &dLogits : nullptr);
      if (!withGradient)
        continue;
      for (int index : needed)
        slots[w].request(weights, index);
      tape.backward(dLogits, slots[w]);
    }
  };
  unsigned count = threadCount(threads, windows.size());
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < count; ++i)
    pool.emplace_back(worker);
  worker();
  for (std::thread &thread : pool)
    thread.join();
  if (!firstError.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                   firstError.c_str());

  double total = 0.0;
  for (double loss : losses) // window order
    total += loss;
  result.loss = total / double(result.tokens);
  if (!withGradient)
    return result;

  WeightGradients<double> sum(problem.program);
  for (int index : needed) {
    sum.weight[index].setZero(weights.weight[index].rows(),
                              weights.weight[index].cols());
    if (weights.bias[index].size())
      sum.bias[index].setZero(weights.bias[index].rows(),
                              weights.bias[index].cols());
    for (const WeightGradients<T> &slot : slots) { // window order
      sum.weight[index] += slot.weight[index].template cast<double>();
      if (slot.bias[index].size())
        sum.bias[index] += slot.bias[index].template cast<double>();
    }
  }
  result.gradients.reserve(rotations.size());
  for (const MatrixXd &rotation : rotations)
    result.gradients.push_back(
        MatrixXd::Zero(rotation.rows(), rotation.cols()));
  chainToRotations(rotations, sum, result.gradients);
  return result;
}

template class RotationObjective<float>;
template class RotationObjective<double>;

} // namespace respin::exec
