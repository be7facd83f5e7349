//===- Tensor.cpp - Tensor views, dtypes and float conversions ------------===//
//
// Element-type helpers shared by every weight-format reader: dtype names and
// sizes, overflow-checked element counts, and exact F16/BF16 <-> F32
// conversions (round to nearest even on narrowing).
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/Tensor.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <cstring>

using namespace respin;

size_t respin::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::F64:
    return 8;
  case DType::I8:
    return 1;
  }
  return 0;
}

llvm::StringRef respin::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::F64:
    return "F64";
  case DType::I8:
    return "I8";
  }
  return "?";
}

std::optional<DType> respin::parseDTypeName(llvm::StringRef name) {
  if (name == "F32")
    return DType::F32;
  if (name == "F16")
    return DType::F16;
  if (name == "BF16")
    return DType::BF16;
  if (name == "F64")
    return DType::F64;
  if (name == "I8")
    return DType::I8;
  return std::nullopt;
}

llvm::Expected<int64_t>
respin::checkedNumElements(llvm::ArrayRef<int64_t> shape, size_t elementSize,
                           llvm::StringRef what) {
  // Byte counts beyond 2^62 cannot be real weights and leave headroom so that
  // callers may add offsets without overflowing.
  constexpr int64_t kMaxBytes = int64_t(1) << 62;
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     what + ": negative dimension in shape " +
                                         formatShape(shape));
    if (__builtin_mul_overflow(count, dim, &count))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     what + ": element count of shape " +
                                         formatShape(shape) +
                                         " overflows 64 bits");
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(count, (int64_t)elementSize, &bytes) ||
      bytes > kMaxBytes)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   what + ": shape " + formatShape(shape) +
                                       " needs more than 2^62 bytes");
  return count;
}

std::string respin::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape, [&](int64_t dim) { text += std::to_string(dim); },
      [&] { text += ", "; });
  return text + "]";
}

int64_t TensorView::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

/// Reads element `index` as double (exact for every dtype). memcpy because
/// mapped data need not be aligned for the element type.
static double loadElementExact(const TensorView &tensor, size_t index) {
  if (tensor.dtype == DType::I8)
    return double(int8_t(tensor.data[index]));
  if (tensor.dtype == DType::F64) {
    double value;
    std::memcpy(&value, tensor.data + index * 8, 8);
    return value;
  }
  float value;
  if (tensor.dtype == DType::F32) {
    std::memcpy(&value, tensor.data + index * 4, 4);
    return value;
  }
  uint16_t bits;
  std::memcpy(&bits, tensor.data + index * 2, 2);
  return tensor.dtype == DType::F16 ? halfToFloat(bits) : bfloat16ToFloat(bits);
}

/// Reads element `index` as float.
static float loadElement(const TensorView &tensor, size_t index) {
  switch (tensor.dtype) {
  case DType::F64:
  case DType::I8:
    return float(loadElementExact(tensor, index));
  case DType::F32: {
    float value;
    std::memcpy(&value, tensor.data + index * 4, 4);
    return value;
  }
  case DType::F16:
  case DType::BF16: {
    uint16_t bits;
    std::memcpy(&bits, tensor.data + index * 2, 2);
    return tensor.dtype == DType::F16 ? halfToFloat(bits)
                                      : bfloat16ToFloat(bits);
  }
  }
  return 0.0f;
}

/// Number of whole elements actually backed by bytes (guards against views
/// whose numBytes disagree with their shape).
static size_t backedElements(const TensorView &tensor) {
  size_t fromBytes = tensor.numBytes / dtypeSize(tensor.dtype);
  int64_t fromShape = tensor.numElements();
  return std::min(fromBytes, (size_t)std::max<int64_t>(fromShape, 0));
}

std::vector<float> TensorView::toFloat32() const {
  size_t count = backedElements(*this);
  std::vector<float> values(count);
  if (dtype == DType::F32) {
    std::memcpy(values.data(), data, count * 4);
    return values;
  }
  for (size_t i = 0; i < count; ++i)
    values[i] = loadElement(*this, i);
  return values;
}

std::vector<double> TensorView::toFloat64() const {
  size_t count = backedElements(*this);
  std::vector<double> values(count);
  for (size_t i = 0; i < count; ++i)
    values[i] = loadElementExact(*this, i);
  return values;
}

std::optional<int64_t> TensorView::firstNonFinite() const {
  size_t count = backedElements(*this);
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(loadElementExact(*this, i)))
      return (int64_t)i;
  return std::nullopt;
}

llvm::Expected<std::vector<float>> TensorView::toFiniteFloat32() const {
  std::vector<float> values = toFloat32();
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "tensor '" + name + "': element " + std::to_string(i) + " is " +
              (std::isnan(values[i]) ? "NaN" : "Inf"));
  return values;
}

//===----------------------------------------------------------------------===//
// Half and bfloat16 conversions
//===----------------------------------------------------------------------===//

static float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

static uint32_t floatToBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

float respin::halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f) // Inf or NaN: keep the payload.
    return bitsToFloat(sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: value = mantissa * 2^-24, exact in float.
    float magnitude = std::ldexp((float)mantissa, -24);
    return sign ? -magnitude : magnitude;
  }
  return bitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float respin::bfloat16ToFloat(uint16_t bits) {
  return bitsToFloat(uint32_t(bits) << 16);
}

uint16_t respin::floatToHalf(float value) {
  uint32_t bits = floatToBits(value);
  uint16_t sign = (bits >> 16) & 0x8000;
  uint32_t exponent = (bits >> 23) & 0xff;
  uint32_t mantissa = bits & 0x7fffff;
  if (exponent == 0xff) {
    if (mantissa == 0)
      return sign | 0x7c00;
    // NaN: keep the top payload bits and force quiet so it stays a NaN.
    return sign | 0x7e00 | uint16_t(mantissa >> 13);
  }
  int32_t halfExponent = int32_t(exponent) - 127 + 15;
  if (halfExponent >= 0x1f)
    return sign | 0x7c00; // Overflow to infinity.
  if (halfExponent <= 0) {
    // Subnormal half (or zero): shift the full significand into place and
    // round to nearest even on the dropped bits.
    if (halfExponent < -10)
      return sign; // Below half the smallest subnormal: rounds to zero.
    uint32_t significand = mantissa | 0x800000;
    uint32_t shift = uint32_t(14 - halfExponent);
    uint32_t result = significand >> shift;
    uint32_t remainder = significand & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (result & 1)))
      ++result; // May carry into the smallest normal: still correct.
    return sign | uint16_t(result);
  }
  uint32_t result = (uint32_t(halfExponent) << 10) | (mantissa >> 13);
  uint32_t remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder == 0x1000 && (result & 1)))
    ++result; // A carry into the exponent rounds up to the next binade/Inf.
  return sign | uint16_t(result);
}

uint16_t respin::floatToBFloat16(float value) {
  uint32_t bits = floatToBits(value);
  if ((bits & 0x7fffffff) > 0x7f800000) // NaN: truncate, keep it quiet.
    return uint16_t((bits >> 16) | 0x0040);
  uint32_t roundingBias = 0x7fff + ((bits >> 16) & 1);
  return uint16_t((bits + roundingBias) >> 16);
}
