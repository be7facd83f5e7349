//===- Quantizer.cpp - Weight and activation quantizers -------------------===//
//
// Every formula here is one of respin_rt.h's, in binary32 and in the order
// written there (this file is compiled with -ffp-contract=off like the
// runtime). The tests compare against the runtime's entry points bit for bit.
//
//===----------------------------------------------------------------------===//

#include "respin/Quantization/Quantizer.h"
#include "respin/Runtime/respin_rt.h"

#include "llvm/ADT/Twine.h"

#include <cmath>
#include <limits>

namespace respin::quant {

namespace {
/// Round half to even (respin_rt.h's rne; default rounding mode).
inline float rne(float v) { return std::nearbyint(v); }

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

void minMax(llvm::ArrayRef<float> values, float &minV, float &maxV) {
  minV = std::numeric_limits<float>::infinity();
  maxV = -minV;
  for (float v : values) {
    minV = std::fmin(minV, v);
    maxV = std::fmax(maxV, v);
  }
}
} // namespace

GroupParams weightGroupParams(float minV, float maxV, int bits, bool symmetric,
                              float clip) {
  GroupParams p;
  if (symmetric) {
    float absMax = std::fmax(std::fabs(minV), std::fabs(maxV));
    p.scale = clip * absMax / (float)((1 << (bits - 1)) - 1);
    // An all-zero group keeps scale 0: the runtime then writes code 0.
    if (!(p.scale > 0.0f))
      p.scale = 0.0f;
    return p;
  }
  float hi = clip * std::fmax(0.0f, maxV);
  float lo = clip * std::fmin(0.0f, minV);
  p.scale = (hi - lo) / (float)((1 << bits) - 1);
  if (!(p.scale > 0.0f)) {
    p.scale = 1.0f;
    p.zero = 0;
    return p;
  }
  p.zero = (int32_t)rne(-lo / p.scale);
  return p;
}

int8_t quantizeWeightValue(float w, GroupParams params, int bits,
                           bool symmetric) {
  int32_t offset = 1 << (bits - 1);
  if (symmetric) {
    float v = params.scale != 0.0f ? rne(w / params.scale) : 0.0f;
    v = std::fmin(std::fmax(v, (float)-offset), (float)(offset - 1));
    return (int8_t)(int32_t)v;
  }
  float r = rne(w / params.scale) + (float)params.zero;
  r = std::fmin(std::fmax(r, 0.0f), (float)((1 << bits) - 1));
  return (int8_t)((int32_t)r - offset);
}

std::vector<float> QuantizedWeight::dequantize() const {
  std::vector<float> values(codes.size());
  int64_t g = groupWidth(), groups = numGroups();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t j = r * groups + c / g;
      values[r * cols + c] = dequantizeValue(
          codes[r * cols + c], symmetric ? int8_t(0) : zeros[j], scales[j]);
    }
  return values;
}

llvm::Error checkSpec(const WeightQuantSpec &spec, int64_t cols,
                      llvm::StringRef what) {
  if (spec.bits < 2 || spec.bits > 8)
    return makeError(what + ": weight bits must be in [2, 8], got " +
                     llvm::Twine(spec.bits));
  if (spec.groupSize < 0)
    return makeError(what +
                     ": group size must be 0 (per channel) or "
                     "positive, got " +
                     llvm::Twine(spec.groupSize));
  if (spec.groupSize > 0 && cols % spec.groupSize != 0)
    return makeError(what + ": group size " + llvm::Twine(spec.groupSize) +
                     " does not divide its " + llvm::Twine(cols) +
                     " input columns");
  return llvm::Error::success();
}

llvm::Error checkFinite(llvm::ArrayRef<float> values, int64_t cols,
                        llvm::StringRef what) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      return makeError(what + ": element [" + llvm::Twine(int64_t(i) / cols) +
                       ", " + llvm::Twine(int64_t(i) % cols) + "] is " +
                       (std::isnan(values[i]) ? "NaN" : "Inf") +
                       "; cannot quantize");
  return llvm::Error::success();
}

float searchClip(llvm::ArrayRef<float> w, int bits, bool symmetric,
                 const ClipSearch &search) {
  if (!search.enabled || w.empty())
    return 1.0f;
  float minV, maxV;
  minMax(w, minV, maxV);
  int candidates = std::max(1, int(search.maxShrink * search.grid + 1e-9));
  float best = 1.0f;
  double bestError = std::numeric_limits<double>::infinity();
  for (int i = 0; i < candidates; ++i) {
    float clip = float(1.0 - double(i) / search.grid);
    GroupParams p = weightGroupParams(minV, maxV, bits, symmetric, clip);
    int8_t zero = storedZero(p, bits, symmetric);
    double error = 0.0;
    for (float v : w) {
      float q = dequantizeValue(quantizeWeightValue(v, p, bits, symmetric),
                                zero, p.scale);
      error += std::pow(std::fabs(double(q) - double(v)), search.norm);
    }
    // Strict: ties keep the larger ratio (less clipping).
    if (error < bestError) {
      bestError = error;
      best = clip;
    }
  }
  return best;
}

std::vector<GroupParams> computeGroupParams(llvm::ArrayRef<float> w,
                                            int64_t rows, int64_t cols,
                                            const WeightQuantSpec &spec,
                                            const ClipSearch &search) {
  int64_t g = spec.groupSize == 0 ? cols : spec.groupSize, groups = cols / g;
  std::vector<GroupParams> params(rows * groups);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < groups; ++j) {
      llvm::ArrayRef<float> group = w.slice(r * cols + j * g, g);
      float clip = searchClip(group, spec.bits, spec.symmetric, search);
      float minV, maxV;
      minMax(group, minV, maxV);
      params[r * groups + j] =
          weightGroupParams(minV, maxV, spec.bits, spec.symmetric, clip);
    }
  return params;
}

llvm::Expected<QuantizedWeight> quantizeRTN(llvm::StringRef what,
                                            llvm::ArrayRef<float> w,
                                            int64_t rows, int64_t cols,
                                            const WeightQuantSpec &spec,
                                            const ClipSearch &search) {
  if (int64_t(w.size()) != rows * cols || cols < 1)
    return makeError(what + ": expected " + llvm::Twine(rows) + " x " +
                     llvm::Twine(cols) + " values, got " +
                     llvm::Twine(w.size()));
  if (llvm::Error error = checkSpec(spec, cols, what))
    return std::move(error);
  if (llvm::Error error = checkFinite(w, cols, what))
    return std::move(error);
  QuantizedWeight q;
  q.bits = spec.bits;
  q.rows = rows;
  q.cols = cols;
  q.groupSize = spec.groupSize;
  q.symmetric = spec.symmetric;
  std::vector<GroupParams> params =
      computeGroupParams(w, rows, cols, spec, search);
  q.scales.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i)
    q.scales[i] = params[i].scale;
  q.codes.resize(rows * cols);
  if (spec.symmetric) {
    // The runtime's own weight rounding, so codes agree by construction.
    respin_rt_status status = respin_rt_quantize_weights(
        w.data(), cols, rows, cols, spec.bits, spec.groupSize, q.scales.data(),
        q.codes.data(), cols);
    if (status != RESPIN_RT_OK)
      return makeError(what + ": " + respin_rt_last_error());
    return q;
  }
  int64_t g = q.groupWidth(), groups = q.numGroups();
  q.zeros.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i)
    q.zeros[i] = storedZero(params[i], spec.bits, false);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      q.codes[r * cols + c] = quantizeWeightValue(
          w[r * cols + c], params[r * groups + c / g], spec.bits, false);
  return q;
}

void fakeQuantRows(const float *x, int64_t rows, int64_t cols,
                   const ActQuantSpec &spec, float *out) {
  int64_t g = spec.groupSize == 0 ? cols : spec.groupSize, groups = cols / g;
  std::vector<uint8_t> codes(cols);
  std::vector<float> scales(groups);
  std::vector<int32_t> zeros(groups);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * cols;
    float *result = out + r * cols;
    // One row at a time so that `out` may alias `x`.
    respin_rt_status status = respin_rt_quantize_rows(
        row, cols, 1, cols, spec.bits, spec.symmetric ? 1 : 0, spec.clip,
        spec.groupSize, codes.data(), cols, scales.data(), zeros.data());
    for (int64_t j = 0; j < groups; ++j) {
      bool finite = status == RESPIN_RT_OK;
      for (int64_t i = j * g; finite && i < (j + 1) * g; ++i)
        finite = std::isfinite(row[i]);
      for (int64_t i = j * g; i < (j + 1) * g; ++i)
        result[i] = finite ? float(int32_t(codes[i]) - zeros[j]) * scales[j]
                           : std::numeric_limits<float>::quiet_NaN();
    }
  }
}

} // namespace respin::quant
