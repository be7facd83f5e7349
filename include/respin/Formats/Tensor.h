//===- Tensor.h - Typed views of weight tensors in mapped files -*- C++ -*-===//
//
// A TensorView describes one named weight tensor whose bytes live in memory
// owned by someone else (usually a memory-mapped checkpoint). Every format
// reader produces TensorViews; nothing copies weights until it must convert.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_TENSOR_H
#define RESPIN_FORMATS_TENSOR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace respin {

/// Element types that weight files may hold and that respin can compute with.
/// F64 holds rotations and other matrices that passes build in double; I8
/// holds the integer codes of quantized weights.
enum class DType { F32, F16, BF16, F64, I8 };

/// Bytes per element of `dtype`.
size_t dtypeSize(DType dtype);
/// Safetensors spelling: "F32", "F16", "BF16", "F64", "I8".
llvm::StringRef dtypeName(DType dtype);
/// Parses a safetensors dtype name; std::nullopt when unknown.
std::optional<DType> parseDTypeName(llvm::StringRef name);

/// Product of `shape`, or an error naming `what` when a dimension is negative
/// or the product overflows int64 (or would need more than 2^62 bytes).
llvm::Expected<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape,
                                           size_t elementSize,
                                           llvm::StringRef what);

/// Formats a shape as "[a, b, c]" for diagnostics.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// A named tensor whose bytes are owned elsewhere (e.g. a mapped file).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t numBytes = 0;

  int64_t numElements() const;
  /// Converts to float32 (F16/BF16 widen exactly, F64 rounds).
  std::vector<float> toFloat32() const;
  /// Converts to float64 (exact for every dtype).
  std::vector<double> toFloat64() const;
  /// Same as toFloat32 but fails, naming the tensor and the first bad index,
  /// when an element is NaN or Inf.
  llvm::Expected<std::vector<float>> toFiniteFloat32() const;
  /// Index of the first NaN/Inf element, without copying the tensor.
  std::optional<int64_t> firstNonFinite() const;
};

/// IEEE half / bfloat16 <-> float conversions (round to nearest even).
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
uint16_t floatToBFloat16(float value);

} // namespace respin

#endif // RESPIN_FORMATS_TENSOR_H
