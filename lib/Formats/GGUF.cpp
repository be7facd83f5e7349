//===- GGUF.cpp - GGUF (v2/v3) reader and llama-family importer -----------===//
//
// GGUFFile::open parses the container with a bounds-checked cursor: every
// count is checked against the bytes left before anything is reserved, and
// every tensor's data range against the data section. loadGGUFCheckpoint then
// maps llama.cpp's metadata keys and tensor names to the canonical form.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/GGUF.h"
#include "FormatSupport.h"
#include "respin/Formats/InputFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace respin;

//===----------------------------------------------------------------------===//
// GGUFValue
//===----------------------------------------------------------------------===//

std::optional<int64_t> GGUFValue::asInt() const {
  if (const auto *u = std::get_if<uint64_t>(&value)) {
    if (*u > (uint64_t)INT64_MAX)
      return std::nullopt;
    return (int64_t)*u;
  }
  if (const auto *i = std::get_if<int64_t>(&value))
    return *i;
  return std::nullopt;
}

std::optional<double> GGUFValue::asFloat() const {
  if (const auto *d = std::get_if<double>(&value))
    return *d;
  if (const auto *u = std::get_if<uint64_t>(&value))
    return (double)*u;
  if (const auto *i = std::get_if<int64_t>(&value))
    return (double)*i;
  return std::nullopt;
}

const std::string *GGUFValue::asString() const {
  return std::get_if<std::string>(&value);
}

const GGUFValue::Array *GGUFValue::asArray() const {
  return std::get_if<Array>(&value);
}

//===----------------------------------------------------------------------===//
// Container parsing
//===----------------------------------------------------------------------===//

namespace {
/// GGUF metadata value type ids.
enum ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  ArrayType = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

/// Arrays of arrays are legal; bound the nesting so that a hostile file
/// cannot exhaust the stack.
constexpr unsigned kMaxArrayDepth = 8;
/// Metadata values (array elements included) a file may hold. Real models
/// need about 10^6 (vocabulary, scores, types, merges); the cap bounds the
/// memory a lying file can make us spend on GGUFValue objects.
constexpr uint64_t kMaxMetadataValues = uint64_t(1) << 23;
constexpr uint32_t kMaxDims = 4;

/// Bounds-checked little-endian cursor over the mapped file.
class Cursor {
public:
  Cursor(llvm::StringRef path, llvm::ArrayRef<uint8_t> bytes)
      : path(path), bytes(bytes) {}

  uint64_t offset() const { return pos; }
  uint64_t remaining() const { return bytes.size() - pos; }

  llvm::Error fail(const llvm::Twine &what) const {
    return makeError(path + ": " + what);
  }

  llvm::Expected<llvm::ArrayRef<uint8_t>> take(uint64_t n,
                                               const llvm::Twine &field) {
    if (n > remaining())
      return fail("truncated file: " + field + " at offset " +
                  llvm::Twine(pos) + " needs " + llvm::Twine(n) +
                  " bytes but only " + llvm::Twine(remaining()) + " remain");
    llvm::ArrayRef<uint8_t> result = bytes.slice(pos, n);
    pos += n;
    return result;
  }

  template <typename T> llvm::Expected<T> read(const llvm::Twine &field) {
    auto raw = take(sizeof(T), field);
    if (!raw)
      return raw.takeError();
    return llvm::support::endian::read<T, llvm::endianness::little>(
        raw->data());
  }

  llvm::Expected<std::string> readString(const llvm::Twine &field) {
    auto length = read<uint64_t>(field + " length");
    if (!length)
      return length.takeError();
    auto raw = take(*length, field);
    if (!raw)
      return raw.takeError();
    return std::string(raw->begin(), raw->end());
  }

  llvm::Expected<GGUFValue> readValue(uint32_t type, const llvm::Twine &field,
                                      unsigned depth = 0);

private:
  llvm::Expected<GGUFValue> readArray(const llvm::Twine &field, unsigned depth);

  llvm::StringRef path;
  llvm::ArrayRef<uint8_t> bytes;
  uint64_t pos = 0;
  uint64_t valuesLeft = kMaxMetadataValues;
};
} // namespace

/// Smallest encoding of one value of `type`, used to reject element counts
/// that the rest of the file cannot possibly hold. 0 for unknown types.
static uint64_t minValueSize(uint32_t type) {
  switch (type) {
  case U8:
  case I8:
  case Bool:
    return 1;
  case U16:
  case I16:
    return 2;
  case U32:
  case I32:
  case F32:
    return 4;
  case U64:
  case I64:
  case F64:
  case String:
    return 8;
  case ArrayType:
    return 12;
  default:
    return 0;
  }
}

llvm::Expected<GGUFValue> Cursor::readArray(const llvm::Twine &field,
                                            unsigned depth) {
  if (depth >= kMaxArrayDepth)
    return fail(field + ": arrays nested deeper than " +
                llvm::Twine(kMaxArrayDepth) + " levels");
  auto elementType = read<uint32_t>(field + " element type");
  if (!elementType)
    return elementType.takeError();
  uint64_t elementSize = minValueSize(*elementType);
  if (elementSize == 0)
    return fail(field + ": unknown array element type " +
                llvm::Twine(*elementType));
  auto count = read<uint64_t>(field + " element count");
  if (!count)
    return count.takeError();
  if (*count > remaining() / elementSize)
    return fail(field + ": array of " + llvm::Twine(*count) +
                " elements does not fit in the " + llvm::Twine(remaining()) +
                " bytes left in the file");
  if (*count > valuesLeft)
    return fail(field + ": array of " + llvm::Twine(*count) +
                " elements exceeds the limit of " +
                llvm::Twine(kMaxMetadataValues) + " metadata values");
  valuesLeft -= *count;
  GGUFValue::Array elements;
  elements.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    auto element =
        readValue(*elementType, field + "[" + llvm::Twine(i) + "]", depth + 1);
    if (!element)
      return element.takeError();
    elements.push_back(std::move(*element));
  }
  return GGUFValue{std::move(elements)};
}

llvm::Expected<GGUFValue>
Cursor::readValue(uint32_t type, const llvm::Twine &field, unsigned depth) {
  // Widens a fixed-size scalar into the variant's 64-bit alternative.
  auto scalar = [&](auto tag, auto widen) -> llvm::Expected<GGUFValue> {
    auto raw = read<decltype(tag)>(field);
    if (!raw)
      return raw.takeError();
    return GGUFValue{widen(*raw)};
  };
  auto asUnsigned = [](auto v) { return (uint64_t)v; };
  auto asSigned = [](auto v) { return (int64_t)v; };
  switch (type) {
  case U8:
    return scalar(uint8_t(), asUnsigned);
  case I8:
    return scalar(int8_t(), asSigned);
  case U16:
    return scalar(uint16_t(), asUnsigned);
  case I16:
    return scalar(int16_t(), asSigned);
  case U32:
    return scalar(uint32_t(), asUnsigned);
  case I32:
    return scalar(int32_t(), asSigned);
  case U64:
    return scalar(uint64_t(), asUnsigned);
  case I64:
    return scalar(int64_t(), asSigned);
  case F32:
    return scalar(uint32_t(), [](uint32_t bits) {
      return (double)llvm::bit_cast<float>(bits);
    });
  case F64:
    return scalar(uint64_t(),
                  [](uint64_t bits) { return llvm::bit_cast<double>(bits); });
  case Bool: {
    auto raw = read<uint8_t>(field);
    if (!raw)
      return raw.takeError();
    if (*raw > 1)
      return fail(field + ": boolean byte " + llvm::Twine(unsigned(*raw)) +
                  " is neither 0 nor 1");
    return GGUFValue{*raw == 1};
  }
  case String: {
    auto text = readString(field);
    if (!text)
      return text.takeError();
    return GGUFValue{std::move(*text)};
  }
  case ArrayType:
    return readArray(field, depth);
  default:
    return fail(field + ": unknown metadata value type " + llvm::Twine(type));
  }
}

/// Name of a GGML tensor type id, for diagnostics.
static std::string ggmlTypeName(uint32_t type) {
  static const char *const kNames[] = {
      "F32",     "F16",      "Q4_0",     "Q4_1",     "Q4_2",    "Q4_3",
      "Q5_0",    "Q5_1",     "Q8_0",     "Q8_1",     "Q2_K",    "Q3_K",
      "Q4_K",    "Q5_K",     "Q6_K",     "Q8_K",     "IQ2_XXS", "IQ2_XS",
      "IQ3_XXS", "IQ1_S",    "IQ4_NL",   "IQ3_S",    "IQ2_S",   "IQ4_XS",
      "I8",      "I16",      "I32",      "I64",      "F64",     "IQ1_M",
      "BF16",    "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",   "TQ2_0"};
  if (type < std::size(kNames))
    return kNames[type];
  return "with unknown id " + std::to_string(type);
}

/// The dtype of a GGML tensor type respin can compute with.
static std::optional<DType> ggmlDType(uint32_t type) {
  switch (type) {
  case 0:
    return DType::F32;
  case 1:
    return DType::F16;
  case 30:
    return DType::BF16;
  default:
    return std::nullopt;
  }
}

namespace {
/// A tensor info record before its data range is resolved.
struct RawTensorInfo {
  std::string name;
  std::vector<int64_t> shape; ///< row-major (ne reversed)
  uint32_t type = 0;
  uint64_t offset = 0;
};
} // namespace

static llvm::Expected<RawTensorInfo> readTensorInfo(Cursor &cursor,
                                                    uint64_t index) {
  RawTensorInfo info;
  auto name = cursor.readString("tensor info " + llvm::Twine(index) + " name");
  if (!name)
    return name.takeError();
  info.name = std::move(*name);
  std::string what = "tensor '" + info.name + "'";
  auto numDims = cursor.read<uint32_t>(what + " n_dims");
  if (!numDims)
    return numDims.takeError();
  if (*numDims > kMaxDims)
    return cursor.fail(what + ": n_dims = " + llvm::Twine(*numDims) +
                       " exceeds the GGUF maximum of 4");
  std::vector<int64_t> ne;
  for (uint32_t d = 0; d < *numDims; ++d) {
    auto dim = cursor.read<uint64_t>(what + " ne[" + llvm::Twine(d) + "]");
    if (!dim)
      return dim.takeError();
    if (*dim > (uint64_t)INT64_MAX)
      return cursor.fail(what + ": ne[" + llvm::Twine(d) +
                         "] = " + llvm::Twine(*dim) + " overflows int64");
    ne.push_back((int64_t)*dim);
  }
  // ne[0] varies fastest: reversing gives the row-major shape.
  info.shape.assign(ne.rbegin(), ne.rend());
  auto type = cursor.read<uint32_t>(what + " type");
  if (!type)
    return type.takeError();
  info.type = *type;
  auto offset = cursor.read<uint64_t>(what + " offset");
  if (!offset)
    return offset.takeError();
  info.offset = *offset;
  return info;
}

/// Resolves a tensor's data range inside the data section.
static llvm::Expected<TensorView> resolveTensor(llvm::StringRef path,
                                                const RawTensorInfo &info,
                                                llvm::ArrayRef<uint8_t> data,
                                                uint64_t alignment) {
  std::string what = (path + ": tensor '" + info.name + "'").str();
  std::optional<DType> dtype = ggmlDType(info.type);
  if (!dtype)
    return makeError(what + " has unsupported GGUF type " +
                     ggmlTypeName(info.type) +
                     " (only F32, F16, BF16 are supported)");
  auto numElements = checkedNumElements(info.shape, dtypeSize(*dtype), what);
  if (!numElements)
    return numElements.takeError();
  uint64_t numBytes = (uint64_t)*numElements * dtypeSize(*dtype);
  if (info.offset % alignment != 0)
    return makeError(what + ": data offset " + llvm::Twine(info.offset) +
                     " is not a multiple of the alignment " +
                     llvm::Twine(alignment));
  if (info.offset > data.size() || numBytes > data.size() - info.offset) {
    uint64_t end;
    std::string endText = __builtin_add_overflow(info.offset, numBytes, &end)
                              ? std::string("overflow")
                              : std::to_string(end);
    return makeError(what + ": data range [" + llvm::Twine(info.offset) + ", " +
                     endText + ") lies outside the data section of " +
                     llvm::Twine(data.size()) + " bytes");
  }
  TensorView view;
  view.name = info.name;
  view.dtype = *dtype;
  view.shape = info.shape;
  view.data = data.data() + info.offset;
  view.numBytes = numBytes;
  return view;
}

/// Rejects tensors whose data ranges overlap.
static llvm::Error checkOverlaps(llvm::StringRef path,
                                 llvm::ArrayRef<TensorView> tensors) {
  std::vector<const TensorView *> order;
  for (const TensorView &tensor : tensors)
    if (tensor.numBytes != 0)
      order.push_back(&tensor);
  llvm::stable_sort(order, [](const TensorView *a, const TensorView *b) {
    return a->data < b->data;
  });
  const TensorView *furthest = nullptr;
  for (const TensorView *tensor : order) {
    if (furthest && tensor->data < furthest->data + furthest->numBytes)
      return makeError(path + ": tensor '" + tensor->name +
                       "' overlaps the data of tensor '" + furthest->name +
                       "'");
    if (!furthest ||
        tensor->data + tensor->numBytes > furthest->data + furthest->numBytes)
      furthest = tensor;
  }
  return llvm::Error::success();
}

/// Reads general.alignment (default 32); must be a power of two.
static llvm::Expected<uint64_t>
readAlignment(llvm::StringRef path,
              const std::map<std::string, GGUFValue> &meta) {
  auto it = meta.find("general.alignment");
  if (it == meta.end())
    return 32;
  std::optional<int64_t> alignment = it->second.asInt();
  if (!alignment || *alignment <= 0 || *alignment > (1 << 20) ||
      !llvm::isPowerOf2_64(*alignment))
    return makeError(path +
                     ": metadata 'general.alignment' must be a power of two "
                     "between 1 and 2^20");
  return (uint64_t)*alignment;
}

llvm::Expected<std::unique_ptr<GGUFFile>> GGUFFile::open(llvm::StringRef path) {
  auto bufferOrErr = readInputFile(path);
  if (!bufferOrErr)
    return bufferOrErr.takeError();
  std::unique_ptr<GGUFFile> file(new GGUFFile());
  file->filePath = path.str();
  file->buffer = std::move(*bufferOrErr);
  llvm::ArrayRef<uint8_t> bytes(
      reinterpret_cast<const uint8_t *>(file->buffer->getBufferStart()),
      file->buffer->getBufferSize());
  Cursor cursor(path, bytes);

  auto magic = cursor.take(4, "magic");
  if (!magic)
    return magic.takeError();
  if (llvm::StringRef((const char *)magic->data(), 4) != "GGUF")
    return makeError(path + ": bad magic (expected \"GGUF\"): not a GGUF file");
  auto version = cursor.read<uint32_t>("version");
  if (!version)
    return version.takeError();
  if (*version == 0x02000000 || *version == 0x03000000)
    return makeError(path + ": big-endian GGUF files are not supported");
  if (*version != 2 && *version != 3)
    return makeError(path + ": unsupported GGUF version " +
                     llvm::Twine(*version) + " (only versions 2 and 3)");
  file->fileVersion = *version;

  auto tensorCount = cursor.read<uint64_t>("tensor count");
  if (!tensorCount)
    return tensorCount.takeError();
  auto metaCount = cursor.read<uint64_t>("metadata count");
  if (!metaCount)
    return metaCount.takeError();
  // Minimal encodings: key (8-byte length) + type + 1 byte of value; tensor
  // info: name length + n_dims + type + offset.
  if (*metaCount > cursor.remaining() / 13)
    return makeError(path + ": metadata count " + llvm::Twine(*metaCount) +
                     " cannot fit in a file of " + llvm::Twine(bytes.size()) +
                     " bytes");
  if (*tensorCount > cursor.remaining() / 24)
    return makeError(path + ": tensor count " + llvm::Twine(*tensorCount) +
                     " cannot fit in a file of " + llvm::Twine(bytes.size()) +
                     " bytes");

  for (uint64_t i = 0; i < *metaCount; ++i) {
    auto key = cursor.readString("metadata key " + llvm::Twine(i));
    if (!key)
      return key.takeError();
    auto type = cursor.read<uint32_t>("metadata '" + *key + "' type");
    if (!type)
      return type.takeError();
    auto value = cursor.readValue(*type, "metadata '" + *key + "'");
    if (!value)
      return value.takeError();
    if (!file->meta.emplace(*key, std::move(*value)).second)
      return makeError(path + ": duplicate metadata key '" + *key + "'");
  }

  std::vector<RawTensorInfo> infos;
  infos.reserve(*tensorCount);
  std::map<std::string, size_t> seen;
  for (uint64_t i = 0; i < *tensorCount; ++i) {
    auto info = readTensorInfo(cursor, i);
    if (!info)
      return info.takeError();
    if (!seen.emplace(info->name, i).second)
      return makeError(path + ": duplicate tensor '" + info->name + "'");
    infos.push_back(std::move(*info));
  }

  auto alignment = readAlignment(path, file->meta);
  if (!alignment)
    return alignment.takeError();
  uint64_t dataStart = llvm::alignTo(cursor.offset(), *alignment);
  llvm::ArrayRef<uint8_t> data = dataStart <= bytes.size()
                                     ? bytes.drop_front(dataStart)
                                     : llvm::ArrayRef<uint8_t>();
  for (const RawTensorInfo &info : infos) {
    auto view = resolveTensor(path, info, data, *alignment);
    if (!view)
      return view.takeError();
    file->tensorList.push_back(std::move(*view));
  }
  if (auto err = checkOverlaps(path, file->tensorList))
    return std::move(err);
  return std::move(file);
}

const GGUFValue *GGUFFile::lookup(llvm::StringRef key) const {
  auto it = meta.find(key.str());
  return it == meta.end() ? nullptr : &it->second;
}

//===----------------------------------------------------------------------===//
// llama-family import
//===----------------------------------------------------------------------===//

namespace {
/// Typed access to metadata with errors naming the file and key.
class MetadataReader {
public:
  explicit MetadataReader(const GGUFFile &file) : file(file) {}

  llvm::Error missing(llvm::StringRef key) const {
    return makeError(file.path() + ": metadata '" + key + "' is missing");
  }
  llvm::Error wrongType(llvm::StringRef key, llvm::StringRef expected) const {
    return makeError(file.path() + ": metadata '" + key + "' must be " +
                     expected);
  }

  llvm::Expected<std::optional<int64_t>> optInt(llvm::StringRef key) const {
    const GGUFValue *value = file.lookup(key);
    if (!value)
      return std::nullopt;
    if (std::optional<int64_t> result = value->asInt())
      return result;
    return wrongType(key, "an integer (per-layer arrays are not supported)");
  }
  llvm::Expected<int64_t> reqInt(llvm::StringRef key) const {
    auto value = optInt(key);
    if (!value)
      return value.takeError();
    if (!*value)
      return missing(key);
    return **value;
  }
  llvm::Expected<std::optional<double>> optFloat(llvm::StringRef key) const {
    const GGUFValue *value = file.lookup(key);
    if (!value)
      return std::nullopt;
    if (std::optional<double> result = value->asFloat())
      return result;
    return wrongType(key, "a number");
  }
  llvm::Expected<std::optional<std::string>>
  optString(llvm::StringRef key) const {
    const GGUFValue *value = file.lookup(key);
    if (!value)
      return std::nullopt;
    if (const std::string *text = value->asString())
      return *text;
    return wrongType(key, "a string");
  }
  llvm::Expected<std::optional<bool>> optBool(llvm::StringRef key) const {
    const GGUFValue *value = file.lookup(key);
    if (!value)
      return std::nullopt;
    if (const bool *flag = std::get_if<bool>(&value->value))
      return *flag;
    return wrongType(key, "a boolean");
  }
  /// nullptr when absent; error when present but not an array.
  llvm::Expected<const GGUFValue::Array *> optArray(llvm::StringRef key) const {
    const GGUFValue *value = file.lookup(key);
    if (!value)
      return nullptr;
    if (const GGUFValue::Array *array = value->asArray())
      return array;
    return wrongType(key, "an array");
  }

private:
  const GGUFFile &file;
};
} // namespace

static llvm::Expected<ModelConfig> readConfig(const GGUFFile &file) {
  MetadataReader meta(file);
  ModelConfig config;
  auto arch = meta.optString("general.architecture");
  if (!arch)
    return arch.takeError();
  if (!*arch)
    return meta.missing("general.architecture");
  config.architecture = **arch;
  if (config.architecture != "llama" && config.architecture != "mistral" &&
      config.architecture != "qwen2")
    return makeError(file.path() + ": unsupported architecture '" +
                     config.architecture +
                     "' (supported: llama, mistral, qwen2)");
  std::string prefix = config.architecture + ".";
  auto key = [&](llvm::StringRef suffix) { return prefix + suffix.str(); };

  for (auto [suffix, field] :
       {std::pair<const char *, int64_t *>{"embedding_length",
                                           &config.hiddenSize},
        {"feed_forward_length", &config.intermediateSize},
        {"block_count", &config.numLayers},
        {"attention.head_count", &config.numHeads}}) {
    auto value = meta.reqInt(key(suffix));
    if (!value)
      return value.takeError();
    *field = *value;
  }
  if (config.numHeads <= 0)
    return makeError(file.path() + ": metadata '" +
                     key("attention.head_count") + "' must be positive");
  config.numKVHeads = config.numHeads;
  if (auto err = assignIfPresent(meta.optInt(key("attention.head_count_kv")),
                                 config.numKVHeads))
    return std::move(err);

  config.headDim = config.hiddenSize / config.numHeads;
  auto keyLength = meta.optInt(key("attention.key_length"));
  if (!keyLength)
    return keyLength.takeError();
  if (*keyLength) {
    config.headDim = **keyLength;
  } else if (config.hiddenSize % config.numHeads != 0) {
    return makeError(file.path() + ": '" + key("embedding_length") +
                     "' is not a multiple of '" + key("attention.head_count") +
                     "' and '" + key("attention.key_length") + "' is missing");
  }
  auto valueLength = meta.optInt(key("attention.value_length"));
  if (!valueLength)
    return valueLength.takeError();
  if (*valueLength && **valueLength != config.headDim)
    return makeError(file.path() + ": '" + key("attention.value_length") +
                     "' differs from the key length: not supported");

  config.rotaryDim = config.headDim;
  if (auto err = assignIfPresent(meta.optInt(key("rope.dimension_count")),
                                 config.rotaryDim))
    return std::move(err);
  if (auto err = assignIfPresent(meta.optFloat(key("rope.freq_base")),
                                 config.ropeTheta))
    return std::move(err);
  auto scaling = meta.optString(key("rope.scaling.type"));
  if (!scaling)
    return scaling.takeError();
  if (*scaling && **scaling != "none")
    return makeError(file.path() + ": RoPE scaling type '" + **scaling +
                     "' ('" + key("rope.scaling.type") + "') is not supported");
  auto eps = meta.optFloat(key("attention.layer_norm_rms_epsilon"));
  if (!eps)
    return eps.takeError();
  if (!*eps)
    return meta.missing(key("attention.layer_norm_rms_epsilon"));
  config.rmsNormEps = **eps;
  if (auto err = assignIfPresent(meta.optInt(key("context_length")),
                                 config.maxPositions))
    return std::move(err);

  auto vocab = meta.optInt(key("vocab_size"));
  if (!vocab)
    return vocab.takeError();
  auto tokens = meta.optArray("tokenizer.ggml.tokens");
  if (!tokens)
    return tokens.takeError();
  if (*vocab)
    config.vocabSize = **vocab;
  else if (*tokens)
    config.vocabSize = (int64_t)(*tokens)->size();
  else
    return makeError(file.path() + ": cannot determine the vocabulary size ('" +
                     key("vocab_size") +
                     "' and 'tokenizer.ggml.tokens' are "
                     "both missing)");

  // llama.cpp's converter permutes llama Q/K into the interleaved layout;
  // qwen2 uses NeoX-style (half-split) rotation.
  config.ropeLayout = config.architecture == "qwen2" ? RopeLayout::HalfSplit
                                                     : RopeLayout::Interleaved;
  config.attentionBias = config.architecture == "qwen2";
  return config;
}

/// Maps a llama.cpp tensor name to its canonical HF name.
static std::optional<std::string> canonicalName(llvm::StringRef name) {
  if (name == "token_embd.weight")
    return names::embedTokens();
  if (name == "output_norm.weight")
    return names::finalNorm();
  if (name == "output.weight")
    return names::lmHead();
  if (!name.consume_front("blk."))
    return std::nullopt;
  auto [indexText, suffix] = name.split('.');
  unsigned layer;
  if (indexText.getAsInteger(10, layer))
    return std::nullopt;
  static const std::pair<const char *, const char *> kSuffixes[] = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  for (const auto &[ggufSuffix, hfSuffix] : kSuffixes)
    if (suffix == ggufSuffix)
      return names::layer(layer, hfSuffix);
  return std::nullopt;
}

/// Reads a metadata array of strings.
static llvm::Expected<std::vector<std::string>>
stringArray(const GGUFFile &file, const GGUFValue::Array &array,
            llvm::StringRef key) {
  std::vector<std::string> result;
  result.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string *text = array[i].asString();
    if (!text)
      return makeError(file.path() + ": metadata '" + key + "'[" +
                       llvm::Twine(i) + "] is not a string");
    result.push_back(*text);
  }
  return result;
}

/// Reads token ids (bos/eos/unk); each must index the vocabulary.
static llvm::Error readTokenId(const GGUFFile &file, llvm::StringRef key,
                               size_t vocab, int32_t &out) {
  MetadataReader meta(file);
  auto id = meta.optInt(key);
  if (!id)
    return id.takeError();
  if (!*id)
    return llvm::Error::success();
  if (**id < 0 || (uint64_t) * *id >= vocab)
    return makeError(
        file.path() + ": metadata '" + key + "' = " + llvm::Twine(**id) +
        " is not a token id (vocabulary of " + llvm::Twine(vocab) + ")");
  out = (int32_t) * *id;
  return llvm::Error::success();
}

static llvm::Error readScoresAndTypes(const GGUFFile &file,
                                      TokenizerData &data) {
  MetadataReader meta(file);
  size_t vocab = data.tokens.size();
  auto scores = meta.optArray("tokenizer.ggml.scores");
  if (!scores)
    return scores.takeError();
  if (*scores) {
    if ((*scores)->size() != vocab)
      return makeError(file.path() + ": 'tokenizer.ggml.scores' has " +
                       llvm::Twine((*scores)->size()) + " entries for " +
                       llvm::Twine(vocab) + " tokens");
    for (const GGUFValue &score : **scores) {
      std::optional<double> value = score.asFloat();
      if (!value)
        return meta.wrongType("tokenizer.ggml.scores", "an array of numbers");
      data.scores.push_back((float)*value);
    }
  }
  auto types = meta.optArray("tokenizer.ggml.token_type");
  if (!types)
    return types.takeError();
  if (*types) {
    if ((*types)->size() != vocab)
      return makeError(file.path() + ": 'tokenizer.ggml.token_type' has " +
                       llvm::Twine((*types)->size()) + " entries for " +
                       llvm::Twine(vocab) + " tokens");
    for (const GGUFValue &type : **types) {
      std::optional<int64_t> value = type.asInt();
      if (!value || *value < INT32_MIN || *value > INT32_MAX)
        return meta.wrongType("tokenizer.ggml.token_type",
                              "an array of 32-bit integers");
      data.tokenTypes.push_back((int32_t)*value);
    }
  }
  return llvm::Error::success();
}

/// Reads the embedded tokenizer; std::nullopt when the file carries none.
static llvm::Expected<std::optional<TokenizerData>>
readTokenizer(const GGUFFile &file) {
  MetadataReader meta(file);
  auto model = meta.optString("tokenizer.ggml.model");
  if (!model)
    return model.takeError();
  if (!*model || **model == "none" || **model == "no")
    return std::nullopt;
  TokenizerData data;
  if (**model == "llama") {
    data.kind = TokenizerData::Kind::SentencePieceBPE;
    data.addBos = true;
  } else if (**model == "gpt2") {
    data.kind = TokenizerData::Kind::ByteLevelBPE;
    data.addBos = false;
  } else {
    return makeError(file.path() + ": tokenizer model '" + **model +
                     "' ('tokenizer.ggml.model') is not supported (only "
                     "llama and gpt2)");
  }

  auto tokens = meta.optArray("tokenizer.ggml.tokens");
  if (!tokens)
    return tokens.takeError();
  if (!*tokens)
    return meta.missing("tokenizer.ggml.tokens");
  auto tokenList = stringArray(file, **tokens, "tokenizer.ggml.tokens");
  if (!tokenList)
    return tokenList.takeError();
  data.tokens = std::move(*tokenList);
  if (auto err = readScoresAndTypes(file, data))
    return std::move(err);
  if (data.kind == TokenizerData::Kind::SentencePieceBPE && data.scores.empty())
    return meta.missing("tokenizer.ggml.scores");

  if (data.kind == TokenizerData::Kind::ByteLevelBPE) {
    auto merges = meta.optArray("tokenizer.ggml.merges");
    if (!merges)
      return merges.takeError();
    if (!*merges)
      return meta.missing("tokenizer.ggml.merges");
    auto mergeList = stringArray(file, **merges, "tokenizer.ggml.merges");
    if (!mergeList)
      return mergeList.takeError();
    data.merges = std::move(*mergeList);
    auto pre = meta.optString("tokenizer.ggml.pre");
    if (!pre)
      return pre.takeError();
    // llama.cpp names the Llama-3 pre-tokenizer "llama-bpe".
    std::string preName = pre->value_or("gpt2");
    if (preName == "llama-bpe")
      preName = "llama3";
    else if (preName == "default")
      preName = "gpt2";
    data.preTokenizer = preName;
  }

  size_t vocab = data.tokens.size();
  if (auto err =
          readTokenId(file, "tokenizer.ggml.bos_token_id", vocab, data.bosId))
    return std::move(err);
  if (auto err =
          readTokenId(file, "tokenizer.ggml.eos_token_id", vocab, data.eosId))
    return std::move(err);
  if (auto err = readTokenId(file, "tokenizer.ggml.unknown_token_id", vocab,
                             data.unkId))
    return std::move(err);
  if (auto err = assignIfPresent(meta.optBool("tokenizer.ggml.add_bos_token"),
                                 data.addBos))
    return std::move(err);
  return std::optional<TokenizerData>(std::move(data));
}

llvm::Expected<Checkpoint> respin::loadGGUFCheckpoint(llvm::StringRef path) {
  auto file = GGUFFile::open(path);
  if (!file)
    return file.takeError();
  Checkpoint checkpoint;
  checkpoint.source = path.str();
  auto config = readConfig(**file);
  if (!config)
    return config.takeError();
  checkpoint.config = std::move(*config);

  bool hasOutput = false;
  for (const TensorView &tensor : (*file)->tensors()) {
    if (tensor.name == "rope_freqs.weight")
      return makeError(path + ": tensor 'rope_freqs.weight' (Llama-3 RoPE "
                              "frequency factors) is not supported; import "
                              "the Hugging Face checkpoint instead");
    std::optional<std::string> name = canonicalName(tensor.name);
    if (!name)
      return makeError(path + ": tensor '" + tensor.name +
                       "' is not a known llama-family tensor");
    hasOutput |= *name == names::lmHead();
    TensorView view = tensor;
    view.name = *name;
    checkpoint.tensors.emplace(*name, std::move(view));
  }
  checkpoint.config.tiedEmbeddings = !hasOutput;

  auto tokenizer = readTokenizer(**file);
  if (!tokenizer)
    return tokenizer.takeError();
  checkpoint.tokenizer = std::move(*tokenizer);
  if (checkpoint.tokenizer && (int64_t)checkpoint.tokenizer->tokens.size() !=
                                  checkpoint.config.vocabSize)
    return makeError(path + ": the tokenizer has " +
                     llvm::Twine(checkpoint.tokenizer->tokens.size()) +
                     " tokens but the model's vocabulary size is " +
                     llvm::Twine(checkpoint.config.vocabSize));

  checkpoint.mappedFiles.push_back((*file)->takeBuffer());
  if (auto err = checkpoint.validate(path))
    return std::move(err);
  return std::move(checkpoint);
}
