//===- Quantizer.h - Weight and activation quantizers ----------*- C++ -*-===//
//
// The compiler side of the quantization semantics fixed by the runtime
// (include/respin/Runtime/respin_rt.h, "Quantization semantics"): the same
// rounding (round half to even), the same integer ranges, the same scale and
// zero-point formulas, evaluated in binary32 in the same order. Where the
// runtime has an entry point (respin_rt_quantize_rows,
// respin_rt_quantize_weights) it is called; the per-value rules below are the
// scalar form the GPTQ loop needs, tested bit for bit against the runtime.
//
// Stored weight form (tfm.dequantize): codes int8 in [-2^(b-1), 2^(b-1)-1],
// scales [N, G] float, asymmetric zero points [N, G] int8 in the same range;
// value = (float)(code - zero) * scale. Asymmetric codes are the runtime's
// unsigned activation codes shifted by -2^(b-1) (and so are their zeros).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_QUANTIZATION_QUANTIZER_H
#define RESPIN_QUANTIZATION_QUANTIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace respin::quant {

/// Scale and zero point of one channel or group. `zero` is in the runtime's
/// unsigned code domain (asymmetric) and 0 for symmetric weights.
struct GroupParams {
  float scale = 0.0f;
  int32_t zero = 0;
};

/// Weight scale/zero of a group with extremes [minV, maxV] and clip ratio
/// c in (0, 1]. Symmetric: s = c * max(|minV|, |maxV|) / (2^(b-1) - 1), and
/// s = 0 for an all-zero group (its codes are 0). Asymmetric: the runtime's
/// activation rule (range widened to include 0, degenerate s = 1, z = 0).
GroupParams weightGroupParams(float minV, float maxV, int bits, bool symmetric,
                              float clip);

/// Stored code of one weight value (see the file comment).
int8_t quantizeWeightValue(float w, GroupParams params, int bits,
                           bool symmetric);

/// Stored zero point of an asymmetric group (0 when symmetric).
inline int8_t storedZero(GroupParams params, int bits, bool symmetric) {
  return symmetric ? 0 : int8_t(params.zero - (1 << (bits - 1)));
}

/// The value a stored code represents: (float)(code - zero) * scale.
inline float dequantizeValue(int8_t code, int8_t zero, float scale) {
  return float(int32_t(code) - int32_t(zero)) * scale;
}

/// Settings of a weight quantizer.
struct WeightQuantSpec {
  int bits = 4;
  int64_t groupSize = 0; ///< 0: one group per output channel
  bool symmetric = true;
};

/// MSE clip search: ratios p = 1, 1 - 1/grid, ... while p > 1 - maxShrink,
/// minimizing sum |dequantized - w|^norm per group (SpinQuant b.6: grid 100,
/// max shrink 0.8, norm 2.4; QuaRot: norm 2).
struct ClipSearch {
  bool enabled = true;
  int grid = 100;
  double maxShrink = 0.8;
  double norm = 2.4;
};

/// A quantized [rows, cols] weight in stored form.
struct QuantizedWeight {
  int bits = 4;
  int64_t rows = 0, cols = 0;
  int64_t groupSize = 0; ///< as given (0: per channel)
  bool symmetric = true;
  std::vector<int8_t> codes; ///< [rows][cols]
  std::vector<float> scales; ///< [rows][numGroups()]
  std::vector<int8_t> zeros; ///< [rows][numGroups()]; empty when symmetric

  int64_t groupWidth() const { return groupSize == 0 ? cols : groupSize; }
  int64_t numGroups() const { return cols / groupWidth(); }
  /// The tfm.dequantize rule, row-major [rows][cols].
  std::vector<float> dequantize() const;
};

/// Checks a spec against a weight of `cols` input columns; the error names
/// `what` (e.g. the weight's parameter name).
llvm::Error checkSpec(const WeightQuantSpec &spec, int64_t cols,
                      llvm::StringRef what);

/// Fails naming `what` and the first NaN/Inf element [row, col].
llvm::Error checkFinite(llvm::ArrayRef<float> values, int64_t cols,
                        llvm::StringRef what);

/// Best clip ratio of one group `w` (1 when the search is disabled).
float searchClip(llvm::ArrayRef<float> w, int bits, bool symmetric,
                 const ClipSearch &search);

/// Parameters of every group of a row-major [rows, cols] weight (row r,
/// group j at r * G + j), each with its own searched clip ratio.
std::vector<GroupParams> computeGroupParams(llvm::ArrayRef<float> w,
                                            int64_t rows, int64_t cols,
                                            const WeightQuantSpec &spec,
                                            const ClipSearch &search);

/// Round-to-nearest quantization of a row-major [rows, cols] weight with
/// per-channel/group parameters from computeGroupParams. Fails on NaN/Inf
/// and bad specs, naming `what`.
llvm::Expected<QuantizedWeight> quantizeRTN(llvm::StringRef what,
                                            llvm::ArrayRef<float> w,
                                            int64_t rows, int64_t cols,
                                            const WeightQuantSpec &spec,
                                            const ClipSearch &search);

/// Activation quantizer settings (tfm.fake_quant).
struct ActQuantSpec {
  int bits = 8;
  bool symmetric = false;
  float clip = 1.0f;
  int64_t groupSize = 0; ///< 0: per token (whole row)
};

/// Quantize-dequantize of rows x[r][0..cols) with the runtime's
/// respin_rt_quantize_rows, writing (float)(q - z) * s to `out` (which may
/// alias `x`). A group holding NaN/Inf becomes NaN (the runtime leaves such
/// codes unspecified; NaN keeps the problem visible). The spec must be valid
/// (bits 2..8, clip in (0, 1], group size dividing cols).
void fakeQuantRows(const float *x, int64_t rows, int64_t cols,
                   const ActQuantSpec &spec, float *out);

} // namespace respin::quant

#endif // RESPIN_QUANTIZATION_QUANTIZER_H
