//===- GPTQ.h - Hessian-aware weight quantization --------------*- C++ -*-===//
//
// GPTQ (Frantar et al., 2022): quantize the columns of W one at a time and
// push each column's rounding error onto the columns not yet quantized,
// weighted by the inverse of the layer Hessian H = 2/n X^T X of the inputs
// the linear sees, so that ||X W^T - X Q^T|| stays small. Blocked lazy
// updates, optional act-order (columns by decreasing H_kk), damping.
//
// Robustness: a dead column (H_kk = 0: that input feature is zero on every
// calibration token) gets H_kk = 1 and is rounded without passing error on;
// a Hessian that is not positive definite after damping is retried with ten
// times the damping (up to kMaxDampingRetries times), then the layer falls
// back to round-to-nearest. The report says which of these happened.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_QUANTIZATION_GPTQ_H
#define RESPIN_QUANTIZATION_GPTQ_H

#include "respin/Quantization/Quantizer.h"

#include <Eigen/Core>

#include <string>

namespace respin::quant {

struct GPTQOptions {
  double dampRatio = 0.01; ///< damping = ratio * mean(diag H)
  int64_t blockSize = 128; ///< columns per lazy-update block
  bool actOrder = false;   ///< quantize columns by decreasing H_kk
  ClipSearch clip;         ///< how the scales are chosen
};

struct GPTQReport {
  int64_t deadColumns = 0;
  double dampRatioUsed = 0.0; ///< after retries
  int dampingRetries = 0;
  bool fellBackToRTN = false;
  std::string fallbackReason;
  /// tr((W - Q) H (W - Q)^T) / rows with the undamped Hessian: the output
  /// error GPTQ minimizes, for the result and for plain RTN.
  double proxyError = 0.0;
  double proxyErrorRTN = 0.0;
};

constexpr int kMaxDampingRetries = 4;

/// Accumulates sum_t x_t x_t^T over input rows in double precision.
class HessianAccumulator {
public:
  explicit HessianAccumulator(int64_t cols)
      : sum(Eigen::MatrixXd::Zero(cols, cols)) {}
  /// Adds the rows of a row-major [rows, cols] float block.
  void add(const float *x, int64_t rows);
  /// Adds another accumulator (same width).
  void merge(const HessianAccumulator &other);
  int64_t count() const { return samples; }
  /// H = 2/n X^T X (zero when nothing was added).
  Eigen::MatrixXd hessian() const;

private:
  Eigen::MatrixXd sum; ///< lower triangle maintained, mirrored on read
  int64_t samples = 0;
};

/// tr((W - Q) H (W - Q)^T) / rows, Q the dequantized weight.
double proxyError(const Eigen::MatrixXd &weight,
                  const QuantizedWeight &quantized,
                  const Eigen::MatrixXd &hessian);

/// Quantizes `weight` ([rows, cols]) with the Hessian `hessian` ([cols,
/// cols]) of its inputs. Fails (naming `what`) on NaN/Inf in either, bad
/// specs or mismatched shapes.
llvm::Expected<QuantizedWeight>
quantizeGPTQ(llvm::StringRef what, const Eigen::MatrixXd &weight,
             const Eigen::MatrixXd &hessian, const WeightQuantSpec &spec,
             const GPTQOptions &options, GPTQReport *report = nullptr);

} // namespace respin::quant

#endif // RESPIN_QUANTIZATION_GPTQ_H
