//===- FormatsTestUtil.h - Helpers for the weight-format tests -*- C++ -*-===//
//
// Small binary-writing helpers (little-endian byte builders, GGUF and
// safetensors assemblers), a self-deleting temporary directory, synthetic
// llama-style weights, and error assertions that check message content.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TEST_UNIT_FORMATSTESTUTIL_H
#define RESPIN_TEST_UNIT_FORMATSTESTUTIL_H

#include "respin/Formats/Checkpoint.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace respin::test {

inline std::string dataPath(llvm::StringRef relative) {
  return std::string(RESPIN_DATA_DIR) + "/" + relative.str();
}

/// A fresh directory removed (with its contents) on destruction.
class TempDir {
public:
  TempDir() {
    llvm::SmallString<128> dir;
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("respin-formats-test", dir);
    EXPECT_FALSE(ec) << ec.message();
    path = std::string(dir);
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  std::string file(llvm::StringRef name) const {
    llvm::SmallString<256> result(path);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }
  /// Names of the entries in the directory, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string path;
};

inline void writeFile(const std::string &path, llvm::StringRef bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), (std::streamsize)bytes.size());
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

/// Appends little-endian scalars and raw bytes.
class Bytes {
public:
  template <typename T> Bytes &scalar(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T)); // the test host is little-endian
    text.append(raw, sizeof(T));
    return *this;
  }
  Bytes &u8(uint8_t v) { return scalar(v); }
  Bytes &u32(uint32_t v) { return scalar(v); }
  Bytes &i32(int32_t v) { return scalar(v); }
  Bytes &u64(uint64_t v) { return scalar(v); }
  Bytes &f32(float v) { return scalar(v); }
  Bytes &raw(llvm::StringRef bytes) {
    text.append(bytes.data(), bytes.size());
    return *this;
  }
  /// GGUF string: u64 length + bytes.
  Bytes &str(llvm::StringRef s) { return u64(s.size()).raw(s); }
  Bytes &padTo(size_t alignment) {
    while (text.size() % alignment)
      text.push_back('\0');
    return *this;
  }
  size_t size() const { return text.size(); }

  std::string text;
};

/// Raw bytes of float values.
inline std::string floatBytes(const std::vector<float> &values) {
  return std::string(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(float));
}

/// A safetensors file from a literal header and data section.
inline std::string safetensorsBytes(llvm::StringRef header,
                                    llvm::StringRef data) {
  return Bytes().u64(header.size()).raw(header).raw(data).text;
}

/// Assembles GGUF files: metadata is given as pre-encoded (type, bytes).
class GGUFBuilder {
public:
  GGUFBuilder &kvString(llvm::StringRef key, llvm::StringRef value) {
    return kv(key, 8, Bytes().str(value).text);
  }
  GGUFBuilder &kvU32(llvm::StringRef key, uint32_t value) {
    return kv(key, 4, Bytes().u32(value).text);
  }
  GGUFBuilder &kvF32(llvm::StringRef key, float value) {
    return kv(key, 6, Bytes().f32(value).text);
  }
  GGUFBuilder &kv(llvm::StringRef key, uint32_t type, std::string encoded) {
    metadata.push_back({key.str(), type, std::move(encoded)});
    return *this;
  }
  /// Adds a tensor with row-major `shape` (written as reversed ne[]).
  GGUFBuilder &tensor(llvm::StringRef name, std::vector<int64_t> shape,
                      uint32_t type, std::string data) {
    tensors.push_back({name.str(), std::move(shape), type, std::move(data)});
    return *this;
  }

  std::string build() const {
    Bytes out;
    out.raw(magic).u32(version).u64(tensors.size()).u64(metadata.size());
    for (const auto &entry : metadata)
      out.str(entry.key).u32(entry.type).raw(entry.encoded);
    uint64_t offset = 0;
    for (const auto &t : tensors) {
      out.str(t.name).u32((uint32_t)t.shape.size());
      for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
        out.u64((uint64_t)*it);
      out.u32(t.type).u64(offset);
      offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    out.padTo(alignment);
    for (const auto &t : tensors)
      out.raw(t.data).padTo(alignment);
    return out.text;
  }

  std::string magic = "GGUF";
  uint32_t version = 3;
  size_t alignment = 32;

private:
  struct KV {
    std::string key;
    uint32_t type;
    std::string encoded;
  };
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    uint32_t type;
    std::string data;
  };
  std::vector<KV> metadata;
  std::vector<Tensor> tensors;
};

/// Shapes of every canonical tensor of `config` (as Checkpoint expects).
inline std::map<std::string, std::vector<int64_t>>
canonicalShapes(const ModelConfig &c) {
  int64_t q = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim;
  std::map<std::string, std::vector<int64_t>> shapes = {
      {names::embedTokens(), {c.vocabSize, c.hiddenSize}},
      {names::finalNorm(), {c.hiddenSize}}};
  if (!c.tiedEmbeddings)
    shapes[names::lmHead()] = {c.vocabSize, c.hiddenSize};
  for (int64_t l = 0; l < c.numLayers; ++l) {
    shapes[names::layer(l, "input_layernorm.weight")] = {c.hiddenSize};
    shapes[names::layer(l, "post_attention_layernorm.weight")] = {c.hiddenSize};
    shapes[names::layer(l, "self_attn.q_proj.weight")] = {q, c.hiddenSize};
    shapes[names::layer(l, "self_attn.k_proj.weight")] = {kv, c.hiddenSize};
    shapes[names::layer(l, "self_attn.v_proj.weight")] = {kv, c.hiddenSize};
    shapes[names::layer(l, "self_attn.o_proj.weight")] = {c.hiddenSize, q};
    shapes[names::layer(l, "mlp.gate_proj.weight")] = {c.intermediateSize,
                                                       c.hiddenSize};
    shapes[names::layer(l, "mlp.up_proj.weight")] = {c.intermediateSize,
                                                     c.hiddenSize};
    shapes[names::layer(l, "mlp.down_proj.weight")] = {c.hiddenSize,
                                                       c.intermediateSize};
    if (c.attentionBias) {
      shapes[names::layer(l, "self_attn.q_proj.bias")] = {q};
      shapes[names::layer(l, "self_attn.k_proj.bias")] = {kv};
      shapes[names::layer(l, "self_attn.v_proj.bias")] = {kv};
    }
  }
  return shapes;
}

/// Deterministic, distinct float values for tensor number `seed`.
inline std::vector<float> syntheticValues(int64_t count, int seed) {
  std::vector<float> values(count);
  for (int64_t i = 0; i < count; ++i)
    values[i] = (float)((i * 37 + seed * 101) % 211) / 211.0f - 0.5f;
  return values;
}

inline int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Deterministic xorshift64 generator for the corruption tests.
class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed ? seed : 1) {}
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  /// Uniform-ish in [0, bound).
  uint64_t below(uint64_t bound) { return next() % bound; }

private:
  uint64_t state;
};

/// `original` with a few random bytes overwritten (positions below
/// `hotPrefix` half of the time, where headers live) or cut short.
inline std::string corrupt(const std::string &original, Rng &rng,
                           size_t hotPrefix) {
  std::string bytes = original;
  if (rng.below(8) == 0)
    return bytes.substr(0, rng.below(bytes.size()));
  int edits = 1 + (int)rng.below(4);
  for (int i = 0; i < edits; ++i) {
    size_t limit =
        rng.below(2) ? std::min(hotPrefix, bytes.size()) : bytes.size();
    size_t pos = rng.below(limit);
    // Mostly small values and 0xff runs: they hit counts, types and lengths.
    static const uint8_t kValues[] = {0x00, 0x01, 0x02, 0x04, 0x05,
                                      0x1e, 0x7f, 0x80, 0xfe, 0xff};
    bytes[pos] = rng.below(2) ? (char)kValues[rng.below(sizeof(kValues))]
                              : (char)rng.below(256);
  }
  return bytes;
}

/// Message of `err` ("" for success); consumes it.
inline std::string errorText(llvm::Error err) {
  if (!err)
    return "";
  return llvm::toString(std::move(err));
}

/// Prints `message` when RESPIN_TEST_PRINT_ERRORS is set (for reviewing the
/// wording of diagnostics).
inline void maybePrint(const std::string &message) {
  if (std::getenv("RESPIN_TEST_PRINT_ERRORS"))
    llvm::errs() << "  error: " << message << "\n";
}

/// Fails the test unless `value` is an error whose message holds every
/// fragment; returns the message.
template <typename T>
std::string expectError(llvm::Expected<T> value,
                        std::initializer_list<llvm::StringRef> fragments) {
  if (value) {
    ADD_FAILURE() << "expected an error, got success";
    return "";
  }
  std::string message = llvm::toString(value.takeError());
  maybePrint(message);
  for (llvm::StringRef fragment : fragments)
    EXPECT_NE(message.find(fragment.str()), std::string::npos)
        << "message '" << message << "' lacks '" << fragment.str() << "'";
  return message;
}

inline std::string
expectError(llvm::Error err, std::initializer_list<llvm::StringRef> fragments) {
  if (!err) {
    ADD_FAILURE() << "expected an error, got success";
    return "";
  }
  std::string message = llvm::toString(std::move(err));
  maybePrint(message);
  for (llvm::StringRef fragment : fragments)
    EXPECT_NE(message.find(fragment.str()), std::string::npos)
        << "message '" << message << "' lacks '" << fragment.str() << "'";
  return message;
}

/// Unwraps an Expected, failing the test (fatally) with its message.
#define RESPIN_ASSERT_OK_AND_ASSIGN(var, expr)                                 \
  auto var##OrErr = (expr);                                                    \
  ASSERT_TRUE(!!var##OrErr) << llvm::toString(var##OrErr.takeError());         \
  auto &var = *var##OrErr

} // namespace respin::test

#endif // RESPIN_TEST_UNIT_FORMATSTESTUTIL_H
