//===- GPTQ.cpp - Hessian-aware weight quantization -----------------------===//
//
// Notation: W [rows, cols] (one row per output channel), H [cols, cols].
// With U the upper Cholesky factor of H^-1 (H^-1 = U^T U), quantizing column
// i with error e = (w_i - q_i) / U_ii and subtracting e U_i,j from every
// later column j is the optimal update of the remaining columns (OBS); the
// updates inside a block are applied immediately, those to later blocks once
// per block.
//
//===----------------------------------------------------------------------===//

#include "respin/Quantization/GPTQ.h"

#include "llvm/ADT/Twine.h"

#include <Eigen/Cholesky>

#include <cmath>
#include <numeric>

namespace respin::quant {

namespace {
llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

using RowMajorMatrixXf =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<float> toFloatRowMajor(const Eigen::MatrixXd &m) {
  std::vector<float> values(m.size());
  Eigen::Map<RowMajorMatrixXf>(values.data(), m.rows(), m.cols()) =
      m.cast<float>();
  return values;
}

/// Upper Cholesky factor U of (H + lambda I)^-1 = U^T U, or false when the
/// damped Hessian or its inverse is not numerically positive definite.
bool inverseCholesky(const Eigen::MatrixXd &hessian, double lambda,
                     Eigen::MatrixXd &upper) {
  Eigen::MatrixXd damped = hessian;
  damped.diagonal().array() += lambda;
  Eigen::LLT<Eigen::MatrixXd> factor(damped);
  if (factor.info() != Eigen::Success)
    return false;
  Eigen::MatrixXd inverse =
      factor.solve(Eigen::MatrixXd::Identity(hessian.rows(), hessian.cols()));
  Eigen::LLT<Eigen::MatrixXd> inverseFactor(inverse);
  if (inverseFactor.info() != Eigen::Success)
    return false;
  upper = inverseFactor.matrixU();
  return upper.allFinite() && (upper.diagonal().array() > 0.0).all();
}
} // namespace

void HessianAccumulator::add(const float *x, int64_t rows) {
  if (rows <= 0)
    return;
  Eigen::MatrixXd block =
      Eigen::Map<const RowMajorMatrixXf>(x, rows, sum.cols()).cast<double>();
  sum.selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
  samples += rows;
}

void HessianAccumulator::merge(const HessianAccumulator &other) {
  sum += other.sum;
  samples += other.samples;
}

Eigen::MatrixXd HessianAccumulator::hessian() const {
  Eigen::MatrixXd full = sum.selfadjointView<Eigen::Lower>();
  if (samples == 0)
    return full;
  return full * (2.0 / double(samples));
}

double proxyError(const Eigen::MatrixXd &weight,
                  const QuantizedWeight &quantized,
                  const Eigen::MatrixXd &hessian) {
  std::vector<float> values = quantized.dequantize();
  Eigen::MatrixXd q = Eigen::Map<const RowMajorMatrixXf>(
                          values.data(), quantized.rows, quantized.cols)
                          .cast<double>();
  Eigen::MatrixXd delta = weight - q;
  return (delta * hessian).cwiseProduct(delta).sum() / double(weight.rows());
}

llvm::Expected<QuantizedWeight>
quantizeGPTQ(llvm::StringRef what, const Eigen::MatrixXd &weight,
             const Eigen::MatrixXd &hessian, const WeightQuantSpec &spec,
             const GPTQOptions &options, GPTQReport *reportOut) {
  const int64_t rows = weight.rows(), cols = weight.cols();
  if (hessian.rows() != cols || hessian.cols() != cols)
    return makeError(what + ": Hessian is " + llvm::Twine(hessian.rows()) +
                     " x " + llvm::Twine(hessian.cols()) + ", expected " +
                     llvm::Twine(cols) + " x " + llvm::Twine(cols));
  if (llvm::Error error = checkSpec(spec, cols, what))
    return std::move(error);
  if (!hessian.allFinite())
    return makeError(what + ": the calibration Hessian has NaN/Inf entries "
                            "(non-finite activations); cannot run GPTQ");
  if (!(options.dampRatio >= 0.0) || options.blockSize < 1)
    return makeError(what + ": GPTQ needs damp >= 0 and block size >= 1");
  std::vector<float> original = toFloatRowMajor(weight);
  if (llvm::Error error = checkFinite(original, cols, what))
    return std::move(error);

  GPTQReport report;
  // RTN with the same scales rule: the baseline of the report, and the
  // fallback when the Hessian cannot be inverted.
  llvm::Expected<QuantizedWeight> rtn =
      quantizeRTN(what, original, rows, cols, spec, options.clip);
  if (!rtn)
    return rtn.takeError();
  report.proxyErrorRTN = proxyError(weight, *rtn, hessian);

  // Dead inputs: no information, no coupling; H_kk = 1 keeps H invertible.
  Eigen::MatrixXd h = hessian;
  for (int64_t k = 0; k < cols; ++k)
    if (h(k, k) == 0.0) {
      h(k, k) = 1.0;
      ++report.deadColumns;
    }

  std::vector<int64_t> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  if (options.actOrder)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return h(a, a) > h(b, b); });
  Eigen::MatrixXd hp(cols, cols);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      hp(i, j) = h(perm[i], perm[j]);

  double meanDiag = hp.diagonal().mean();
  Eigen::MatrixXd upper;
  bool factored = false;
  for (int attempt = 0; attempt <= kMaxDampingRetries && !factored; ++attempt) {
    // A zero ratio gets no second chance at zero: retries start at 1%.
    double base = options.dampRatio > 0.0 ? options.dampRatio : 0.001;
    double ratio =
        attempt == 0 ? options.dampRatio : base * std::pow(10.0, attempt);
    report.dampRatioUsed = ratio;
    report.dampingRetries = attempt;
    factored = inverseCholesky(hp, ratio * meanDiag, upper);
  }
  if (!factored) {
    report.fellBackToRTN = true;
    report.fallbackReason =
        "the damped Hessian is not positive definite even with damping " +
        std::to_string(report.dampRatioUsed) + " x mean diagonal";
    report.proxyError = report.proxyErrorRTN;
    if (reportOut)
      *reportOut = report;
    return rtn;
  }

  QuantizedWeight q;
  q.bits = spec.bits;
  q.rows = rows;
  q.cols = cols;
  q.groupSize = spec.groupSize;
  q.symmetric = spec.symmetric;
  q.codes.assign(rows * cols, 0);
  int64_t g = q.groupWidth(), groups = q.numGroups();
  // Per-channel scales, and group scales under act-order ("static groups":
  // a permuted column order would otherwise scatter the groups), come from
  // the original weights; plain groups are scaled when reached, from the
  // weights as updated so far (as in GPTQ).
  bool dynamicGroups = spec.groupSize > 0 && !options.actOrder;
  std::vector<GroupParams> params =
      computeGroupParams(original, rows, cols, spec, options.clip);

  Eigen::MatrixXd w(rows, cols);
  for (int64_t i = 0; i < cols; ++i)
    w.col(i) = weight.col(perm[i]);

  for (int64_t i1 = 0; i1 < cols; i1 += options.blockSize) {
    int64_t i2 = std::min(i1 + options.blockSize, cols), count = i2 - i1;
    Eigen::MatrixXd errors(rows, count);
    for (int64_t i = i1; i < i2; ++i) {
      int64_t col = perm[i], group = col / g;
      if (dynamicGroups && col % g == 0) {
        std::vector<float> current(rows * g);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < g; ++c)
            current[r * g + c] = float(w(r, i + c));
        WeightQuantSpec one = spec;
        one.groupSize = 0;
        std::vector<GroupParams> fresh =
            computeGroupParams(current, rows, g, one, options.clip);
        for (int64_t r = 0; r < rows; ++r)
          params[r * groups + group] = fresh[r];
      }
      Eigen::VectorXd err(rows);
      for (int64_t r = 0; r < rows; ++r) {
        const GroupParams &p = params[r * groups + group];
        int8_t code =
            quantizeWeightValue(float(w(r, i)), p, spec.bits, spec.symmetric);
        q.codes[r * cols + col] = code;
        double value = dequantizeValue(
            code, storedZero(p, spec.bits, spec.symmetric), p.scale);
        err(r) = (w(r, i) - value) / upper(i, i);
      }
      if (i + 1 < i2)
        w.block(0, i + 1, rows, i2 - i - 1).noalias() -=
            err * upper.row(i).segment(i + 1, i2 - i - 1);
      errors.col(i - i1) = err;
    }
    if (i2 < cols)
      w.rightCols(cols - i2).noalias() -=
          errors * upper.block(i1, i2, count, cols - i2);
  }

  q.scales.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i)
    q.scales[i] = params[i].scale;
  if (!spec.symmetric) {
    q.zeros.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i)
      q.zeros[i] = storedZero(params[i], spec.bits, false);
  }
  report.proxyError = proxyError(weight, q, hessian);
  if (reportOut)
    *reportOut = report;
  return q;
}

} // namespace respin::quant
