//===- Kernels.cpp - Float reference kernels of the executor --------------===//

#include "respin/Executor/Kernels.h"
#include "respin/Quantization/Quantizer.h"

#include <cmath>

namespace respin::exec {

void rmsNorm(const RowMatrix &x, const Weight *gain, float epsilon,
             RowMatrix &out) {
  out.resize(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    double sumSquares = 0.0;
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      sumSquares += double(x(i, j)) * double(x(i, j));
    float inverseRms =
        float(1.0 / std::sqrt(sumSquares / double(x.cols()) + epsilon));
    out.row(i) = x.row(i) * inverseRms;
    if (gain)
      out.row(i).array() *= gain->vector().transpose().array();
  }
}

void linear(const RowMatrix &x, const Weight &weight, const Weight *bias,
            RowMatrix &out) {
  out.noalias() = x * weight.matrix().transpose();
  if (bias)
    out.rowwise() += bias->vector().transpose();
}

void rope(const RowMatrix &x, llvm::ArrayRef<int32_t> positions,
          const RopeParams &params, RowMatrix &out) {
  out = x;
  int64_t half = params.rotaryDim / 2;
  for (Eigen::Index row = 0; row < x.rows(); ++row) {
    double position = positions[row];
    for (int64_t pair = 0; pair < half; ++pair) {
      double angle = position * params.inverseFrequencies[pair];
      float c = float(std::cos(angle)), s = float(std::sin(angle));
      int64_t first = params.interleaved ? 2 * pair : pair;
      int64_t second = params.interleaved ? 2 * pair + 1 : pair + half;
      for (int64_t head = 0; head < params.numHeads; ++head) {
        int64_t base = head * params.headDim;
        float a = x(row, base + first), b = x(row, base + second);
        out(row, base + first) = a * c - b * s;
        out(row, base + second) = a * s + b * c;
      }
    }
  }
}

void attention(const RowMatrix &query, const float *keys, const float *values,
               int64_t cachedRows, const AttentionParams &params,
               RowMatrix &out) {
  int64_t headDim = params.headDim;
  int64_t group = params.numHeads / params.numKVHeads;
  int64_t kvWidth = params.numKVHeads * headDim;
  out.setZero(query.rows(), params.numHeads * headDim);
  std::vector<float> scores;
  for (Eigen::Index row = 0; row < query.rows(); ++row) {
    int64_t visible = cachedRows + row + 1; // causal: itself and earlier
    scores.resize(visible);
    for (int64_t head = 0; head < params.numHeads; ++head) {
      int64_t kvOffset = (head / group) * headDim;
      Eigen::Map<const Eigen::RowVectorXf> q(&query(row, head * headDim),
                                             headDim);
      float maxScore = -INFINITY;
      for (int64_t t = 0; t < visible; ++t) {
        Eigen::Map<const Eigen::RowVectorXf> k(keys + t * kvWidth + kvOffset,
                                               headDim);
        scores[t] = q.dot(k) * params.scale;
        maxScore = std::max(maxScore, scores[t]);
      }
      double total = 0.0;
      for (int64_t t = 0; t < visible; ++t) {
        scores[t] = std::exp(scores[t] - maxScore);
        total += scores[t];
      }
      auto result = out.row(row).segment(head * headDim, headDim);
      for (int64_t t = 0; t < visible; ++t) {
        Eigen::Map<const Eigen::RowVectorXf> v(
            values + t * kvWidth + kvOffset, headDim);
        result += (float(scores[t] / total)) * v;
      }
    }
  }
}

void rotate(const RowMatrix &x, const Weight &rotation, int64_t blocks,
            bool transpose, RowMatrix &out) {
  int64_t n = rotation.rows;
  out.resize(x.rows(), x.cols());
  // Row form: rows times R^T applies R to each row (and rows times R
  // applies R^T).
  for (int64_t block = 0; block < blocks; ++block) {
    auto in = x.middleCols(block * n, n);
    auto result = out.middleCols(block * n, n);
    if (transpose)
      result.noalias() = in * rotation.matrix();
    else
      result.noalias() = in * rotation.matrix().transpose();
  }
}

void hadamard(const RowMatrix &x, const FastHadamardTransform &transform,
              bool transpose, RowMatrix &out) {
  out = x;
  transform.applyRows(llvm::MutableArrayRef<float>(out.data(), out.size()),
                      transpose);
}

void residualAdapter(const RowMatrix &h, const Weight &basis,
                     const Weight &update, RowMatrix &out) {
  RowMatrix projected = h * basis.matrix();             // Q^T h per row
  RowMatrix mixed = projected * update.matrix().transpose(); // M (.)
  out = h;
  out.noalias() += mixed * basis.matrix().transpose();  // + Q (.)
}

void siluMul(const RowMatrix &gate, const RowMatrix &up, RowMatrix &out) {
  out = (gate.array() / (1.0f + (-gate.array()).exp())) * up.array();
}

void fakeQuant(const RowMatrix &x, const FakeQuantParams &params,
               RowMatrix &out) {
  out.resize(x.rows(), x.cols());
  quant::ActQuantSpec spec;
  spec.bits = params.bits;
  spec.symmetric = params.symmetric;
  spec.clip = params.clip;
  spec.groupSize = params.groupSize;
  quant::fakeQuantRows(x.data(), x.rows(), x.cols(), spec, out.data());
}

} // namespace respin::exec
