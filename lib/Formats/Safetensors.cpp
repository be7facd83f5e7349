//===- Safetensors.cpp - safetensors reader and writer --------------------===//
//
// The reader maps the file and trusts nothing in the header: every length,
// offset and shape is checked against the file before a TensorView is made.
// The writer produces a deterministic header (sorted keys, padded so that the
// data section starts 8-byte aligned) and renames a temporary file into
// place, so a failed write never damages an existing file.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/Safetensors.h"
#include "FormatSupport.h"
#include "JsonSupport.h"
#include "respin/Formats/InputFile.h"
#include "respin/Formats/AtomicFile.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

using namespace respin;
using json = nlohmann::json;

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

namespace {
/// Validates the JSON header of one file and builds its TensorViews.
class HeaderParser {
public:
  HeaderParser(llvm::StringRef path, const uint8_t *dataStart,
               uint64_t dataSize)
      : path(path), dataStart(dataStart), dataSize(dataSize) {}

  llvm::Error parseTensor(const std::string &name, const json &entry,
                          TensorView &out) const;
  llvm::Error parseMetadata(const json &entry,
                            std::map<std::string, std::string> &out) const;
  llvm::Error checkOverlaps(std::vector<TensorView> &tensors) const;

private:
  llvm::Error tensorError(const std::string &name,
                          const llvm::Twine &what) const {
    return makeError(path + ": tensor '" + name + "': " + what);
  }
  llvm::Expected<std::vector<int64_t>> parseShape(const std::string &name,
                                                  const json &shape) const;

  llvm::StringRef path;
  const uint8_t *dataStart;
  uint64_t dataSize;
};
} // namespace

/// Reads a JSON integer that must be representable as a non-negative int64.
static std::optional<int64_t> nonNegativeInt(const json &value) {
  if (value.is_number_unsigned()) {
    uint64_t raw = value.get<uint64_t>();
    if (raw > (uint64_t)INT64_MAX)
      return std::nullopt;
    return (int64_t)raw;
  }
  if (value.is_number_integer()) {
    int64_t raw = value.get<int64_t>();
    if (raw < 0)
      return std::nullopt;
    return raw;
  }
  return std::nullopt;
}

llvm::Expected<std::vector<int64_t>>
HeaderParser::parseShape(const std::string &name, const json &shape) const {
  if (!shape.is_array())
    return tensorError(name, "'shape' must be an array, got " +
                                 std::string(shape.type_name()));
  std::vector<int64_t> dims;
  for (const json &dim : shape) {
    std::optional<int64_t> value = nonNegativeInt(dim);
    if (!value)
      return tensorError(name, "'shape' entry " + jsonSnippet(dim) +
                                   " is not a non-negative 64-bit integer");
    dims.push_back(*value);
  }
  return dims;
}

llvm::Error HeaderParser::parseTensor(const std::string &name,
                                      const json &entry,
                                      TensorView &out) const {
  if (!entry.is_object())
    return tensorError(name, "entry must be a JSON object");
  for (const char *field : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(field))
      return tensorError(name, llvm::Twine("missing field '") + field + "'");

  const json &dtypeJson = entry["dtype"];
  if (!dtypeJson.is_string())
    return tensorError(name, "'dtype' must be a string");
  std::string dtypeText = dtypeJson.get<std::string>();
  std::optional<DType> dtype = parseDTypeName(dtypeText);
  if (!dtype)
    return tensorError(name, "unsupported dtype " + dtypeText +
                                 " (supported: F32, F16, BF16, F64, I8)");

  auto shape = parseShape(name, entry["shape"]);
  if (!shape)
    return shape.takeError();
  auto numElements = checkedNumElements(
      *shape, dtypeSize(*dtype), (path + ": tensor '" + name + "'").str());
  if (!numElements)
    return numElements.takeError();

  const json &offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    return tensorError(name, "'data_offsets' must be an array [begin, end]");
  std::optional<int64_t> begin = nonNegativeInt(offsets[0]);
  std::optional<int64_t> end = nonNegativeInt(offsets[1]);
  if (!begin || !end)
    return tensorError(name, "'data_offsets' " + jsonSnippet(offsets) +
                                 " must hold non-negative integers");
  if (*begin > *end)
    return tensorError(name,
                       "'data_offsets' " + jsonSnippet(offsets) + " has begin > end");
  if ((uint64_t)*end > dataSize)
    return tensorError(name, "data range [" + llvm::Twine(*begin) + ", " +
                                 llvm::Twine(*end) +
                                 ") lies outside the data section of " +
                                 llvm::Twine(dataSize) + " bytes");
  // checkedNumElements bounds the product by 2^62, so this cannot overflow.
  int64_t expectedBytes = *numElements * (int64_t)dtypeSize(*dtype);
  if (*end - *begin != expectedBytes)
    return tensorError(
        name, "data range [" + llvm::Twine(*begin) + ", " + llvm::Twine(*end) +
                  ") holds " + llvm::Twine(*end - *begin) +
                  " bytes but shape " + formatShape(*shape) + " of " +
                  dtypeText + " needs " + llvm::Twine(expectedBytes));

  out.name = name;
  out.dtype = *dtype;
  out.shape = std::move(*shape);
  out.data = dataStart + *begin;
  out.numBytes = (size_t)expectedBytes;
  return llvm::Error::success();
}

llvm::Error
HeaderParser::parseMetadata(const json &entry,
                            std::map<std::string, std::string> &out) const {
  if (!entry.is_object())
    return makeError(path + ": '__metadata__' must be a JSON object");
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    if (!it.value().is_string())
      return makeError(path + ": '__metadata__' key '" + it.key() +
                       "' must map to a string, got " + it.value().type_name());
    out[it.key()] = it.value().get<std::string>();
  }
  return llvm::Error::success();
}

llvm::Error
HeaderParser::checkOverlaps(std::vector<TensorView> &tensors) const {
  // Order by data offset: this is the order the bytes appear in the file.
  llvm::stable_sort(tensors, [](const TensorView &a, const TensorView &b) {
    return a.data != b.data ? a.data < b.data : a.numBytes < b.numBytes;
  });
  const TensorView *furthest = nullptr;
  for (const TensorView &tensor : tensors) {
    if (tensor.numBytes == 0)
      continue;
    if (furthest && tensor.data < furthest->data + furthest->numBytes)
      return makeError(path + ": tensor '" + tensor.name + "' (data range [" +
                       llvm::Twine(tensor.data - dataStart) + ", " +
                       llvm::Twine(tensor.data - dataStart + tensor.numBytes) +
                       ")) overlaps tensor '" + furthest->name + "'");
    if (!furthest ||
        tensor.data + tensor.numBytes > furthest->data + furthest->numBytes)
      furthest = &tensor;
  }
  return llvm::Error::success();
}

/// Parses `text` as JSON, converting parser exceptions to an llvm::Error.
static llvm::Expected<json> parseJson(llvm::StringRef text,
                                      llvm::StringRef path) {
  const auto *begin = reinterpret_cast<const llvm::UTF8 *>(text.begin());
  if (!llvm::isLegalUTF8String(
          &begin, reinterpret_cast<const llvm::UTF8 *>(text.end())))
    return makeError(path + ": header is not valid UTF-8 (at byte " +
                     llvm::Twine((const char *)begin - text.begin()) + ")");
  if (llvm::Error error = checkJsonNesting(text, path + ": header"))
    return std::move(error);
  // nlohmann keeps the last of duplicate keys; a repeated tensor name would
  // silently hide a tensor, so top-level duplicates are recorded and refused.
  std::string duplicate;
  std::set<std::string> keys;
  auto callback = [&](int depth, json::parse_event_t event, json &parsed) {
    if (depth == 1 && event == json::parse_event_t::key &&
        !keys.insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception &e) {
    return makeError(path + ": header is not valid JSON: " + e.what());
  }
  if (!duplicate.empty())
    return makeError(path + ": header names '" + duplicate + "' twice");
  return header;
}

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(llvm::StringRef path) {
  auto bufferOrErr = readInputFile(path);
  if (!bufferOrErr)
    return bufferOrErr.takeError();
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->filePath = path.str();
  file->buffer = std::move(*bufferOrErr);

  const auto *bytes =
      reinterpret_cast<const uint8_t *>(file->buffer->getBufferStart());
  uint64_t fileSize = file->buffer->getBufferSize();
  if (fileSize < 8)
    return makeError(path + ": file of " + llvm::Twine(fileSize) +
                     " bytes is too small for the 8-byte header length");
  uint64_t headerSize = llvm::support::endian::read64le(bytes);
  if (headerSize > fileSize - 8)
    return makeError(path + ": header length " + llvm::Twine(headerSize) +
                     " lies past the end of the file (" +
                     llvm::Twine(fileSize) + " bytes)");

  // Like the reference implementation, refuse headers over 100 MB: JSON
  // parsing costs a multiple of the text size in memory.
  constexpr uint64_t kMaxHeaderBytes = 100'000'000;
  if (headerSize > kMaxHeaderBytes)
    return makeError(path + ": header length " + llvm::Twine(headerSize) +
                     " exceeds the limit of " + llvm::Twine(kMaxHeaderBytes) +
                     " bytes");
  llvm::StringRef headerText(reinterpret_cast<const char *>(bytes) + 8,
                             headerSize);
  auto header = parseJson(headerText, path);
  if (!header)
    return header.takeError();
  if (!header->is_object())
    return makeError(path + ": header must be a JSON object, got " +
                     header->type_name());

  const uint8_t *dataStart = bytes + 8 + headerSize;
  HeaderParser parser(path, dataStart, fileSize - 8 - headerSize);
  try {
    for (auto it = header->begin(); it != header->end(); ++it) {
      if (it.key() == "__metadata__") {
        if (auto err = parser.parseMetadata(it.value(), file->meta))
          return std::move(err);
        continue;
      }
      TensorView tensor;
      if (auto err = parser.parseTensor(it.key(), it.value(), tensor))
        return std::move(err);
      file->tensorList.push_back(std::move(tensor));
    }
  } catch (const json::exception &e) {
    // Defensive: all accesses are type-checked, but no exception may escape.
    return makeError(path + ": malformed header: " + e.what());
  }
  if (auto err = parser.checkOverlaps(file->tensorList))
    return std::move(err);
  for (size_t i = 0; i < file->tensorList.size(); ++i)
    file->tensorIndex[file->tensorList[i].name] = i;
  return std::move(file);
}

const TensorView *SafetensorsFile::lookup(llvm::StringRef name) const {
  auto it = tensorIndex.find(name.str());
  return it == tensorIndex.end() ? nullptr : &tensorList[it->second];
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

void SafetensorsWriter::setMetadata(llvm::StringRef key,
                                    llvm::StringRef value) {
  meta[key.str()] = value.str();
}

void SafetensorsWriter::addEntry(Entry entry) {
  bool duplicate = llvm::any_of(
      entries, [&](const Entry &other) { return other.name == entry.name; });
  if (duplicate && duplicateName.empty())
    duplicateName = entry.name;
  entries.push_back(std::move(entry));
}

void SafetensorsWriter::addTensor(llvm::StringRef name, DType dtype,
                                  llvm::ArrayRef<int64_t> shape,
                                  llvm::ArrayRef<uint8_t> bytes) {
  addEntry(Entry{name.str(), dtype, shape.vec(), bytes, nullptr});
}

void SafetensorsWriter::addTensor(llvm::StringRef name, DType dtype,
                                  llvm::ArrayRef<int64_t> shape,
                                  std::vector<uint8_t> bytes) {
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  addEntry(Entry{name.str(), dtype, shape.vec(), *owned, owned});
}

/// Builds the header text, padded with spaces so that 8 + its length is a
/// multiple of 8 (the data section then starts 8-byte aligned).
static llvm::Expected<std::string>
buildHeader(llvm::StringRef path,
            const std::vector<std::pair<std::string, json>> &tensorEntries,
            const std::map<std::string, std::string> &meta) {
  json header = json::object();
  for (const auto &[name, entry] : tensorEntries)
    header[name] = entry;
  if (!meta.empty())
    header["__metadata__"] = meta;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception &e) {
    return makeError(path + ": cannot encode header: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

llvm::Error SafetensorsWriter::write(llvm::StringRef path) const {
  return writeFileAtomically(
      path, [&](llvm::raw_ostream &os) { return writeTo(path, os); });
}

llvm::Error SafetensorsWriter::write(llvm::StringRef path, OutputSet &outputs,
                                     llvm::StringRef role) const {
  return outputs.write(path, role, [&](llvm::raw_ostream &os) {
    return writeTo(path, os);
  });
}

llvm::Error SafetensorsWriter::writeTo(llvm::StringRef path,
                                       llvm::raw_ostream &os) const {
  if (!duplicateName.empty())
    return makeError(path + ": tensor '" + duplicateName + "' was added twice");
  std::vector<std::pair<std::string, json>> tensorEntries;
  uint64_t offset = 0;
  for (const Entry &entry : entries) {
    if (entry.name == "__metadata__")
      return makeError(path + ": '__metadata__' is not a valid tensor name");
    auto numElements =
        checkedNumElements(entry.shape, dtypeSize(entry.dtype),
                           (path + ": tensor '" + entry.name + "'").str());
    if (!numElements)
      return numElements.takeError();
    uint64_t expected = (uint64_t)*numElements * dtypeSize(entry.dtype);
    if (entry.bytes.size() != expected)
      return makeError(path + ": tensor '" + entry.name +
                       "': " + llvm::Twine(entry.bytes.size()) +
                       " bytes given but shape " + formatShape(entry.shape) +
                       " of " + dtypeName(entry.dtype) + " needs " +
                       llvm::Twine(expected));
    json item = {{"dtype", dtypeName(entry.dtype).str()},
                 {"shape", entry.shape},
                 {"data_offsets", {offset, offset + expected}}};
    tensorEntries.emplace_back(entry.name, std::move(item));
    offset += expected;
  }
  auto header = buildHeader(path, tensorEntries, meta);
  if (!header)
    return header.takeError();

  char lengthBytes[8];
  llvm::support::endian::write64le(lengthBytes, header->size());
  os.write(lengthBytes, 8);
  os << *header;
  for (const Entry &entry : entries)
    os.write(reinterpret_cast<const char *>(entry.bytes.data()),
             entry.bytes.size());
  return llvm::Error::success();
}
