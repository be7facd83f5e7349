//===- Backward.cpp - Reverse-mode differentiation of programs ------------===//

#include "respin/Executor/Backward.h"
#include "respin/Quantization/Quantizer.h"

#include <cmath>
#include <limits>

namespace respin::exec {

template <typename T>
ProgramWeights<T> ProgramWeights<T>::fromProgram(const Program &program) {
  ProgramWeights<T> result;
  size_t n = program.instructions.size();
  result.weight.resize(n);
  result.bias.resize(n);
  auto convert = [](const Weight *w) {
    return w ? Matrix<T>(w->matrix().template cast<T>()) : Matrix<T>();
  };
  for (size_t i = 0; i < n; ++i) {
    const Instruction &inst = program.instructions[i];
    result.weight[i] = convert(inst.weight);
    result.bias[i] = convert(inst.bias);
    if (inst.kind == OpKind::Hadamard &&
        inst.hadamard->size() <= kDenseHadamardLimit) {
      // Rows of the identity transformed: the dense H_n (row i = H e_i
      // transposed, i.e. H^T), then transposed back.
      int64_t size = inst.hadamard->size();
      Matrix<T> dense = Matrix<T>::Identity(size, size);
      inst.hadamard->applyRows(
          llvm::MutableArrayRef<T>(dense.data(), dense.size()), false);
      result.weight[i] = dense.transpose();
    }
  }
  return result;
}

template <typename T>
WeightGradients<T>::WeightGradients(const Program &program)
    : weight(program.instructions.size()), bias(program.instructions.size()) {}

template <typename T>
void WeightGradients<T>::request(const ProgramWeights<T> &weights, int index) {
  const Matrix<T> &w = weights.weight[index], &b = weights.bias[index];
  weight[index].setZero(w.rows(), w.cols());
  if (b.size())
    bias[index].setZero(b.rows(), b.cols());
}

template <typename T> void WeightGradients<T>::setZero() {
  for (Matrix<T> &g : weight)
    g.setZero();
  for (Matrix<T> &g : bias)
    g.setZero();
}

namespace twin {

template <typename T>
void rmsNorm(const Matrix<T> &x, const Matrix<T> *gain, T epsilon, Matrix<T> &y,
             std::vector<T> &inverseRms) {
  y.resize(x.rows(), x.cols());
  inverseRms.resize(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    double sumSquares = 0.0;
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      sumSquares += double(x(i, j)) * double(x(i, j));
    inverseRms[i] =
        T(1.0 / std::sqrt(sumSquares / double(x.cols()) + double(epsilon)));
    y.row(i) = x.row(i) * inverseRms[i];
    if (gain)
      y.row(i).array() *= gain->col(0).transpose().array();
  }
}

// y_j = g_j x_j r with r = (mean(x^2) + eps)^(-1/2) and dr/dx_k = -r^3 x_k / n:
// dx_k = r u_k - r^3 x_k (u . x) / n for u = dy * g.
template <typename T>
void rmsNormBackward(const Matrix<T> &x, const Matrix<T> *gain,
                     const std::vector<T> &inverseRms, const Matrix<T> &dy,
                     Matrix<T> &dx, Matrix<T> *dGain) {
  dx.resize(x.rows(), x.cols());
  T n = T(x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    T r = inverseRms[i];
    Eigen::Matrix<T, 1, Eigen::Dynamic> u = dy.row(i);
    if (gain) {
      if (dGain)
        dGain->col(0) +=
            (dy.row(i).array() * x.row(i).array() * r).matrix().transpose();
      u.array() *= gain->col(0).transpose().array();
    }
    T dot = u.dot(x.row(i));
    dx.row(i) = r * u - (r * r * r * dot / n) * x.row(i);
  }
}

template <typename T>
void linear(const Matrix<T> &x, const Matrix<T> &w, const Matrix<T> *b,
            Matrix<T> &y) {
  y.noalias() = x * w.transpose();
  if (b)
    y.rowwise() += b->col(0).transpose();
}

template <typename T>
void linearBackward(const Matrix<T> &x, const Matrix<T> &w, const Matrix<T> &dy,
                    Matrix<T> *dx, Matrix<T> *dW, Matrix<T> *db) {
  if (dx)
    dx->noalias() = dy * w;
  if (dW)
    dW->noalias() += dy.transpose() * x;
  if (db)
    db->col(0) += dy.colwise().sum().transpose();
}

// Each pair (a, b) turns by +angle forward; the transpose turns by -angle.
template <typename T>
void rope(const Matrix<T> &x, const RopeParams &params, bool inverse,
          Matrix<T> &y) {
  y = x;
  int64_t half = params.rotaryDim / 2;
  for (Eigen::Index row = 0; row < x.rows(); ++row) {
    double position = double(row);
    for (int64_t pair = 0; pair < half; ++pair) {
      double angle = position * params.inverseFrequencies[pair];
      T c = T(std::cos(angle)), s = T(std::sin(angle));
      if (inverse)
        s = -s;
      int64_t first = params.interleaved ? 2 * pair : pair;
      int64_t second = params.interleaved ? 2 * pair + 1 : pair + half;
      for (int64_t head = 0; head < params.numHeads; ++head) {
        int64_t base = head * params.headDim;
        T a = x(row, base + first), b = x(row, base + second);
        y(row, base + first) = a * c - b * s;
        y(row, base + second) = a * s + b * c;
      }
    }
  }
}

template <typename T>
void attention(const Matrix<T> &q, const Matrix<T> &k, const Matrix<T> &v,
               const AttentionParams &params, Matrix<T> &out,
               std::vector<Matrix<T>> &probabilities) {
  int64_t n = q.rows(), d = params.headDim;
  int64_t group = params.numHeads / params.numKVHeads;
  out.setZero(n, params.numHeads * d);
  probabilities.resize(params.numHeads);
  for (int64_t head = 0; head < params.numHeads; ++head) {
    int64_t kv = (head / group) * d;
    Matrix<T> &p = probabilities[head];
    p.noalias() =
        (q.middleCols(head * d, d) * k.middleCols(kv, d).transpose()) *
        T(params.scale);
    for (int64_t i = 0; i < n; ++i) {
      T maxScore = p.row(i).head(i + 1).maxCoeff();
      double total = 0.0;
      for (int64_t t = 0; t <= i; ++t) {
        p(i, t) = std::exp(p(i, t) - maxScore);
        total += double(p(i, t));
      }
      p.row(i).head(i + 1) /= T(total);
      p.row(i).tail(n - i - 1).setZero();
    }
    out.middleCols(head * d, d).noalias() = p * v.middleCols(kv, d);
  }
}

// Per head: O = P V, P = softmax(S), S = scale Q K^T (causal):
// dV += P^T dO, dS = P * (dP - rowsum(dP * P)) with dP = dO V^T,
// dQ = scale dS K, dK += scale dS^T Q.
template <typename T>
void attentionBackward(const Matrix<T> &q, const Matrix<T> &k,
                       const Matrix<T> &v, const AttentionParams &params,
                       const std::vector<Matrix<T>> &probabilities,
                       const Matrix<T> &dOut, Matrix<T> &dq, Matrix<T> &dk,
                       Matrix<T> &dv) {
  int64_t d = params.headDim;
  int64_t group = params.numHeads / params.numKVHeads;
  dq.setZero(q.rows(), q.cols());
  dk.setZero(k.rows(), k.cols());
  dv.setZero(v.rows(), v.cols());
  Matrix<T> dP;
  for (int64_t head = 0; head < params.numHeads; ++head) {
    int64_t kv = (head / group) * d;
    const Matrix<T> &p = probabilities[head];
    auto dO = dOut.middleCols(head * d, d);
    dv.middleCols(kv, d).noalias() += p.transpose() * dO;
    dP.noalias() = dO * v.middleCols(kv, d).transpose();
    Eigen::Matrix<T, Eigen::Dynamic, 1> rowDot =
        (dP.array() * p.array()).rowwise().sum();
    dP = (p.array() * (dP.colwise() - rowDot).array()) * T(params.scale);
    dq.middleCols(head * d, d).noalias() = dP * k.middleCols(kv, d);
    dk.middleCols(kv, d).noalias() +=
        dP.transpose() * q.middleCols(head * d, d);
  }
}

template <typename T>
void siluMul(const Matrix<T> &gate, const Matrix<T> &up, Matrix<T> &y) {
  y = (gate.array() / (T(1) + (-gate.array()).exp())) * up.array();
}

// silu(g) = g s(g), silu'(g) = s(g) (1 + g (1 - s(g))).
template <typename T>
void siluMulBackward(const Matrix<T> &gate, const Matrix<T> &up,
                     const Matrix<T> &dy, Matrix<T> &dGate, Matrix<T> &dUp) {
  auto sigmoid = (T(1) / (T(1) + (-gate.array()).exp())).eval();
  dUp = dy.array() * gate.array() * sigmoid;
  dGate = dy.array() * up.array() * sigmoid *
          (T(1) + gate.array() * (T(1) - sigmoid));
}

template <typename T>
void rotate(const Matrix<T> &x, const Matrix<T> &r, int64_t blocks,
            bool transpose, Matrix<T> &y) {
  int64_t n = r.rows();
  y.resize(x.rows(), x.cols());
  for (int64_t block = 0; block < blocks; ++block) {
    if (transpose)
      y.middleCols(block * n, n).noalias() = x.middleCols(block * n, n) * r;
    else
      y.middleCols(block * n, n).noalias() =
          x.middleCols(block * n, n) * r.transpose();
  }
}

// Row form Y = X R^T: dX = dY R, dR += dY^T X (and with R^T: dX = dY R^T,
// dR += X^T dY).
template <typename T>
void rotateBackward(const Matrix<T> &x, const Matrix<T> &r, int64_t blocks,
                    bool transpose, const Matrix<T> &dy, Matrix<T> &dx,
                    Matrix<T> *dR) {
  int64_t n = r.rows();
  dx.resize(x.rows(), x.cols());
  for (int64_t block = 0; block < blocks; ++block) {
    auto xb = x.middleCols(block * n, n);
    auto dyb = dy.middleCols(block * n, n);
    if (transpose) {
      dx.middleCols(block * n, n).noalias() = dyb * r.transpose();
      if (dR)
        dR->noalias() += xb.transpose() * dyb;
    } else {
      dx.middleCols(block * n, n).noalias() = dyb * r;
      if (dR)
        dR->noalias() += dyb.transpose() * xb;
    }
  }
}

template <typename T>
void hadamard(const Matrix<T> &x, const FastHadamardTransform &transform,
              bool transpose, Matrix<T> &y) {
  y = x;
  transform.applyRows(llvm::MutableArrayRef<T>(y.data(), y.size()), transpose);
}

template <typename T>
void residualAdapter(const Matrix<T> &h, const Matrix<T> &q, const Matrix<T> &m,
                     Matrix<T> &y) {
  Matrix<T> mixed = (h * q) * m.transpose();
  y = h;
  y.noalias() += mixed * q.transpose();
}

// Y = H + Z M^T Q^T with Z = H Q: dH = dY + dY Q M Q^T,
// dM = (dY Q)^T Z, dQ = H^T dY Q M + dY^T Z M^T.
template <typename T>
void residualAdapterBackward(const Matrix<T> &h, const Matrix<T> &q,
                             const Matrix<T> &m, const Matrix<T> &dy,
                             Matrix<T> &dh, Matrix<T> *dQ, Matrix<T> *dM) {
  Matrix<T> dyQ = dy * q;
  dh = dy;
  dh.noalias() += (dyQ * m) * q.transpose();
  if (dQ || dM) {
    Matrix<T> z = h * q;
    if (dM)
      dM->noalias() += dyQ.transpose() * z;
    if (dQ) {
      dQ->noalias() += h.transpose() * (dyQ * m);
      dQ->noalias() += dy.transpose() * (z * m.transpose());
    }
  }
}

template <typename T>
void fakeQuant(const Matrix<T> &x, const FakeQuantParams &params,
               Matrix<T> &y) {
  quant::ActQuantSpec spec;
  spec.bits = params.bits;
  spec.symmetric = params.symmetric;
  spec.clip = params.clip;
  spec.groupSize = params.groupSize;
  RowMatrix in = x.template cast<float>(), out(x.rows(), x.cols());
  quant::fakeQuantRows(in.data(), in.rows(), in.cols(), spec, out.data());
  y = out.cast<T>();
}

template <typename T>
void fakeQuantBackward(const Matrix<T> &x, const FakeQuantParams &params,
                       const Matrix<T> &dy, Matrix<T> &dx) {
  dx = dy;
  if (params.clip >= 1.0f)
    return; // every element lies inside its group's range
  int64_t g = params.groupSize == 0 ? x.cols() : params.groupSize;
  T clip = T(params.clip);
  for (Eigen::Index row = 0; row < x.rows(); ++row)
    for (int64_t start = 0; start < x.cols(); start += g) {
      auto group = x.row(row).segment(start, g);
      T lo, hi;
      if (params.symmetric) {
        hi = clip * group.cwiseAbs().maxCoeff();
        lo = -hi;
      } else {
        hi = clip * std::max(T(0), group.maxCoeff());
        lo = clip * std::min(T(0), group.minCoeff());
      }
      for (int64_t j = 0; j < g; ++j)
        if (group(j) < lo || group(j) > hi)
          dx(row, start + j) = T(0);
    }
}

} // namespace twin

template <typename T>
double nextTokenCrossEntropy(const Matrix<T> &logits,
                             llvm::ArrayRef<int32_t> tokens, T scale,
                             Matrix<T> *dLogits) {
  int64_t n = logits.rows();
  if (dLogits)
    dLogits->setZero(n, logits.cols());
  double total = 0.0;
  std::vector<double> p(logits.cols());
  for (int64_t t = 0; t + 1 < n; ++t) {
    double maxLogit = double(logits.row(t).maxCoeff()), sum = 0.0;
    for (Eigen::Index j = 0; j < logits.cols(); ++j) {
      p[j] = std::exp(double(logits(t, j)) - maxLogit);
      sum += p[j];
    }
    int32_t target = tokens[t + 1];
    total += maxLogit + std::log(sum) - double(logits(t, target));
    if (dLogits) {
      for (Eigen::Index j = 0; j < logits.cols(); ++j)
        (*dLogits)(t, j) = T(p[j] / sum) * scale;
      (*dLogits)(t, target) -= scale;
    }
  }
  return total;
}

template <typename T>
llvm::Expected<const Matrix<T> &>
Tape<T>::forward(llvm::ArrayRef<int32_t> input) {
  for (size_t i = 0; i < input.size(); ++i)
    if (input[i] < 0 || input[i] >= program.vocabSize)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "token id %d at index %zu is outside the vocabulary of %lld tokens",
          input[i], i, (long long)program.vocabSize);
  tokens.assign(input.begin(), input.end());
  size_t numInstructions = program.instructions.size();
  values.resize(program.numValues);
  inverseRms.resize(numInstructions);
  attentionProbabilities.resize(numInstructions);
  auto n = Eigen::Index(tokens.size());

  for (size_t index = 0; index < numInstructions; ++index) {
    const Instruction &inst = program.instructions[index];
    Matrix<T> &out = values[inst.result];
    const Matrix<T> &w = weights.weight[index], &b = weights.bias[index];
    auto operand = [&](int i) -> const Matrix<T> & {
      return values[inst.operands[i]];
    };
    switch (inst.kind) {
    case OpKind::Embedding:
      out.resize(n, w.cols());
      for (Eigen::Index i = 0; i < n; ++i)
        out.row(i) = w.row(tokens[i]);
      break;
    case OpKind::RMSNorm:
      twin::rmsNorm(operand(0), w.size() ? &w : nullptr, T(inst.epsilon), out,
                    inverseRms[index]);
      break;
    case OpKind::Linear:
      twin::linear(operand(0), w, b.size() ? &b : nullptr, out);
      break;
    case OpKind::Rope:
      twin::rope(operand(0), inst.rope, /*inverse=*/false, out);
      break;
    case OpKind::Attention:
      twin::attention(operand(0), operand(1), operand(2), inst.attention, out,
                      attentionProbabilities[index]);
      break;
    case OpKind::SiluMul:
      twin::siluMul(operand(0), operand(1), out);
      break;
    case OpKind::Add:
      out = operand(0) + operand(1);
      break;
    case OpKind::Rotate:
      twin::rotate(operand(0), w, inst.blocks, inst.transpose, out);
      break;
    case OpKind::Hadamard:
      if (w.size())
        twin::rotate(operand(0), w, operand(0).cols() / w.rows(),
                     inst.transpose, out);
      else
        twin::hadamard(operand(0), *inst.hadamard, inst.transpose, out);
      break;
    case OpKind::ResidualAdapter:
      twin::residualAdapter(operand(0), w, b, out);
      break;
    case OpKind::FakeQuant:
      twin::fakeQuant(operand(0), inst.fakeQuant, out);
      break;
    }
  }
  return values[program.resultValue];
}

template <typename T>
void Tape<T>::backward(const Matrix<T> &dLogits, WeightGradients<T> &grads) {
  valueGradients.assign(program.numValues, Matrix<T>());
  valueGradients[program.resultValue] = dLogits;
  // Adds `g` into the gradient of value `v` (the first contribution moves).
  auto accumulate = [&](int v, Matrix<T> &&g) {
    if (valueGradients[v].size() == 0)
      valueGradients[v] = std::move(g);
    else
      valueGradients[v] += g;
  };
  for (size_t index = program.instructions.size(); index-- > 0;) {
    const Instruction &inst = program.instructions[index];
    const Matrix<T> &dy = valueGradients[inst.result];
    if (dy.size() == 0)
      continue; // nothing downstream depends on it
    const Matrix<T> &w = weights.weight[index], &b = weights.bias[index];
    Matrix<T> *dW = grads.weight[index].size() ? &grads.weight[index] : nullptr;
    Matrix<T> *db = grads.bias[index].size() ? &grads.bias[index] : nullptr;
    auto operand = [&](int i) -> const Matrix<T> & {
      return values[inst.operands[i]];
    };
    Matrix<T> dx, dx1, dx2;
    switch (inst.kind) {
    case OpKind::Embedding:
      if (dW)
        for (Eigen::Index i = 0; i < dy.rows(); ++i)
          dW->row(tokens[i]) += dy.row(i);
      break;
    case OpKind::RMSNorm:
      twin::rmsNormBackward(operand(0), w.size() ? &w : nullptr,
                            inverseRms[index], dy, dx, dW);
      accumulate(inst.operands[0], std::move(dx));
      break;
    case OpKind::Linear:
      twin::linearBackward(operand(0), w, dy, &dx, dW, db);
      accumulate(inst.operands[0], std::move(dx));
      break;
    case OpKind::Rope:
      twin::rope(dy, inst.rope, /*inverse=*/true, dx);
      accumulate(inst.operands[0], std::move(dx));
      break;
    case OpKind::Attention:
      twin::attentionBackward(operand(0), operand(1), operand(2),
                              inst.attention, attentionProbabilities[index], dy,
                              dx, dx1, dx2);
      accumulate(inst.operands[0], std::move(dx));
      accumulate(inst.operands[1], std::move(dx1));
      accumulate(inst.operands[2], std::move(dx2));
      break;
    case OpKind::SiluMul:
      twin::siluMulBackward(operand(0), operand(1), dy, dx, dx1);
      accumulate(inst.operands[0], std::move(dx));
      accumulate(inst.operands[1], std::move(dx1));
      break;
    case OpKind::Add:
      accumulate(inst.operands[0], Matrix<T>(dy));
      accumulate(inst.operands[1], Matrix<T>(dy));
      break;
    case OpKind::Rotate:
      twin::rotateBackward(operand(0), w, inst.blocks, inst.transpose, dy, dx,
                           dW);
      accumulate(inst.operands[0], std::move(dx));
      break;
    case OpKind::Hadamard:
      // The transform is orthogonal: its transpose is its inverse.
      if (w.size())
        twin::rotate(dy, w, dy.cols() / w.rows(), !inst.transpose, dx);
      else
        twin::hadamard(dy, *inst.hadamard, !inst.transpose, dx);
      accumulate(inst.operands[0], std::move(dx));
      break;
    case OpKind::ResidualAdapter:
      twin::residualAdapterBackward(operand(0), w, b, dy, dx, dW, db);
      accumulate(inst.operands[0], std::move(dx));
      break;
    case OpKind::FakeQuant:
      twin::fakeQuantBackward(operand(0), inst.fakeQuant, dy, dx);
      accumulate(inst.operands[0], std::move(dx));
      break;
    }
  }
}

#define RESPIN_INSTANTIATE_BACKWARD(T)                                         \
  template struct ProgramWeights<T>;                                           \
  template struct WeightGradients<T>;                                          \
  template class Tape<T>;                                                      \
  template double nextTokenCrossEntropy<T>(                                    \
      const Matrix<T> &, llvm::ArrayRef<int32_t>, T, Matrix<T> *);             \
  namespace twin {                                                             \
  template void rmsNorm<T>(const Matrix<T> &, const Matrix<T> *, T,            \
                           Matrix<T> &, std::vector<T> &);                     \
  template void rmsNormBackward<T>(const Matrix<T> &, const Matrix<T> *,       \
                                   const std::vector<T> &, const Matrix<T> &,  \
                                   Matrix<T> &, Matrix<T> *);                  \
  template void linear<T>(const Matrix<T> &, const Matrix<T> &,                \
                          const Matrix<T> *, Matrix<T> &);                     \
  template void linearBackward<T>(const Matrix<T> &, const Matrix<T> &,        \
                                  const Matrix<T> &, Matrix<T> *, Matrix<T> *, \
                                  Matrix<T> *);                                \
  template void rope<T>(const Matrix<T> &, const RopeParams &, bool,           \
                        Matrix<T> &);                                          \
  template void attention<T>(const Matrix<T> &, const Matrix<T> &,             \
                             const Matrix<T> &, const AttentionParams &,       \
                             Matrix<T> &, std::vector<Matrix<T>> &);           \
  template void attentionBackward<T>(const Matrix<T> &, const Matrix<T> &,     \
                                     const Matrix<T> &,                        \
                                     const AttentionParams &,                  \
                                     const std::vector<Matrix<T>> &,           \
                                     const Matrix<T> &, Matrix<T> &,           \
                                     Matrix<T> &, Matrix<T> &);                \
  template void siluMul<T>(const Matrix<T> &, const Matrix<T> &, Matrix<T> &); \
  template void siluMulBackward<T>(const Matrix<T> &, const Matrix<T> &,       \
                                   const Matrix<T> &, Matrix<T> &,             \
                                   Matrix<T> &);                               \
  template void rotate<T>(const Matrix<T> &, const Matrix<T> &, int64_t, bool, \
                          Matrix<T> &);                                        \
  template void rotateBackward<T>(const Matrix<T> &, const Matrix<T> &,        \
                                  int64_t, bool, const Matrix<T> &,            \
                                  Matrix<T> &, Matrix<T> *);                   \
  template void hadamard<T>(const Matrix<T> &, const FastHadamardTransform &,  \
                            bool, Matrix<T> &);                                \
  template void residualAdapter<T>(const Matrix<T> &, const Matrix<T> &,       \
                                   const Matrix<T> &, Matrix<T> &);            \
  template void residualAdapterBackward<T>(const Matrix<T> &,                  \
                                           const Matrix<T> &,                  \
                                           const Matrix<T> &,                  \
                                           const Matrix<T> &, Matrix<T> &,     \
                                           Matrix<T> *, Matrix<T> *);          \
  template void fakeQuant<T>(const Matrix<T> &, const FakeQuantParams &,       \
                             Matrix<T> &);                                     \
  template void fakeQuantBackward<T>(const Matrix<T> &,                        \
                                     const FakeQuantParams &,                  \
                                     const Matrix<T> &, Matrix<T> &);          \
  }

RESPIN_INSTANTIATE_BACKWARD(float)
RESPIN_INSTANTIATE_BACKWARD(double)

} // namespace respin::exec
