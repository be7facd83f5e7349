//===- Model.cpp - Loading and running a compiled respin model ------------===//
//
// The loader trusts nothing in the weights file: the safetensors header is
// bounds-checked and every tensor the manifest names must be present with
// the same dtype, shape and byte size before the forward function sees a
// pointer into the mapping.
//
//===----------------------------------------------------------------------===//

#include "respin/Runtime/respin_model.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

thread_local std::string lastError;

respin_model_status fail(respin_model_status status, const std::string &what) {
  lastError = what;
  return status;
}

struct WeightSpec {
  std::string name, dtype;
  size_t bytes = 0;
  std::vector<int64_t> shape;
};

struct CacheSpec {
  int64_t slot = 0, bits = 0, kvHeads = 0, headDim = 0;
};

struct Manifest {
  std::string name;
  int64_t vocab = 0, maxTokens = 0, workspace = 0;
  std::vector<CacheSpec> caches;
  std::vector<WeightSpec> weights;
};

bool parsePositive(const std::string &text, int64_t &value) {
  char *end = nullptr;
  errno = 0;
  long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno || end == text.c_str() || *end || parsed < 0)
    return false;
  value = parsed;
  return true;
}

respin_model_status parseManifest(const char *text, Manifest &manifest) {
  std::istringstream lines(text);
  std::string line;
  if (!std::getline(lines, line) || line != RESPIN_MODEL_MANIFEST_MAGIC)
    return fail(RESPIN_MODEL_ERR_MISMATCH,
                "the model's manifest does not start with '" +
                    std::string(RESPIN_MODEL_MANIFEST_MAGIC) +
                    "': the object was compiled by an incompatible respin");
  int lineNumber = 1;
  while (std::getline(lines, line)) {
    ++lineNumber;
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    auto bad = [&] {
      return fail(RESPIN_MODEL_ERR_MISMATCH, "manifest line " +
                                                 std::to_string(lineNumber) +
                                                 " is malformed: '" + line + "'");
    };
    std::vector<std::string> rest;
    for (std::string field; fields >> field;)
      rest.push_back(field);
    int64_t value = 0;
    if (key == "runtime-abi") {
      if (rest.size() != 1 || !parsePositive(rest[0], value))
        return bad();
      if (value != RESPIN_RT_ABI_VERSION)
        return fail(RESPIN_MODEL_ERR_MISMATCH,
                    "the model was compiled for runtime ABI " + rest[0] +
                        ", this runtime has ABI " +
                        std::to_string(RESPIN_RT_ABI_VERSION));
    } else if (key == "name" && rest.size() == 1) {
      manifest.name = rest[0];
    } else if (key == "vocab" || key == "max-tokens" || key == "workspace") {
      if (rest.size() != 1 || !parsePositive(rest[0], value))
        return bad();
      (key == "vocab"        ? manifest.vocab
       : key == "max-tokens" ? manifest.maxTokens
                             : manifest.workspace) = value;
    } else if (key == "kv-cache") {
      CacheSpec cache;
      if (rest.size() != 4 || !parsePositive(rest[0], cache.slot) ||
          !parsePositive(rest[1], cache.bits) ||
          !parsePositive(rest[2], cache.kvHeads) ||
          !parsePositive(rest[3], cache.headDim))
        return bad();
      manifest.caches.push_back(cache);
    } else if (key == "weight") {
      WeightSpec weight;
      int64_t index = 0, bytes = 0;
      if (rest.size() != 5 || !parsePositive(rest[0], index) ||
          index != int64_t(manifest.weights.size()) ||
          !parsePositive(rest[3], bytes))
        return bad();
      weight.name = rest[1];
      weight.dtype = rest[2];
      weight.bytes = size_t(bytes);
      std::istringstream dims(rest[4]);
      for (std::string dim; std::getline(dims, dim, 'x');) {
        int64_t size = 0;
        if (!parsePositive(dim, size))
          return bad();
        weight.shape.push_back(size);
      }
      manifest.weights.push_back(std::move(weight));
    } else if (!key.empty()) {
      return bad();
    }
  }
  if (manifest.vocab < 1 || manifest.maxTokens < 1)
    return fail(RESPIN_MODEL_ERR_MISMATCH,
                "the model's manifest lacks its vocabulary or max-tokens");
  return RESPIN_MODEL_OK;
}

/// A read-only mapping of the weights file.
struct Mapping {
  void *base = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (base != MAP_FAILED)
      munmap(base, size);
  }
};

/// Memory freed with std::free (64-byte aligned).
struct AlignedDeleter {
  void operator()(void *p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<void, AlignedDeleter>;

AlignedBuffer allocateAligned(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (p)
    std::memset(p, 0, rounded ? rounded : 64);
  return AlignedBuffer(p);
}

} // namespace

struct respin_model {
  Manifest manifest;
  respin_model_forward_fn forward = nullptr;
  Mapping mapping;
  std::vector<void *> weights;
  std::vector<AlignedBuffer> cacheStorage;
  std::vector<respin_rt_kv_cache> caches;
  std::vector<const respin_rt_kv_cache *> cachePointers;
  AlignedBuffer workspace;
  std::vector<float> discard; ///< logits nobody asked for
  int64_t maxSeq = 0, position = 0;
  size_t stateBytes = 0;
};

namespace {

respin_model_status mapWeights(respin_model &model, const char *path) {
  std::string file = path;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(RESPIN_MODEL_ERR_IO,
                file + ": cannot open the weights: " + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return fail(RESPIN_MODEL_ERR_IO, file + ": not a regular file");
  }
  if (info.st_size < 8) {
    close(fd);
    return fail(RESPIN_MODEL_ERR_MISMATCH,
                file + ": truncated (" + std::to_string(info.st_size) +
                    " bytes, not a safetensors archive)");
  }
  model.mapping.size = size_t(info.st_size);
  model.mapping.base =
      mmap(nullptr, model.mapping.size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (model.mapping.base == MAP_FAILED)
    return fail(RESPIN_MODEL_ERR_IO,
                file + ": cannot map the weights: " + std::strerror(errno));
  const uint8_t *bytes = static_cast<const uint8_t *>(model.mapping.base);
  uint64_t headerSize = 0;
  std::memcpy(&headerSize, bytes, 8); // little-endian hosts only
  if (headerSize > model.mapping.size - 8)
    return fail(RESPIN_MODEL_ERR_MISMATCH,
                file + ": header of " + std::to_string(headerSize) +
                    " bytes runs past the end of the file (truncated?)");
  nlohmann::json header = nlohmann::json::parse(
      bytes + 8, bytes + 8 + headerSize, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object())
    return fail(RESPIN_MODEL_ERR_MISMATCH,
                file + ": the safetensors header is not a JSON object");
  const nlohmann::json *meta =
      header.contains("__metadata__") ? &header["__metadata__"] : nullptr;
  if (!meta || !meta->is_object() || !meta->contains("format") ||
      (*meta)["format"] != RESPIN_MODEL_WEIGHTS_FORMAT)
    return fail(RESPIN_MODEL_ERR_MISMATCH,
                file + ": not a compiled respin weights archive (metadata "
                       "format is not '" RESPIN_MODEL_WEIGHTS_FORMAT "')");
  if (!meta->contains("model") || (*meta)["model"] != model.manifest.name)
    return fail(RESPIN_MODEL_ERR_MISMATCH,
                file + ": the weights were compiled for model '" +
                    (meta->contains("model") && (*meta)["model"].is_string()
                         ? (*meta)["model"].get<std::string>()
                         : std::string("?")) +
                    "', not '" + model.manifest.name + "'");
  const uint8_t *data = bytes + 8 + headerSize;
  size_t dataSize = model.mapping.size - 8 - headerSize;
  for (const WeightSpec &spec : model.manifest.weights) {
    auto mismatch = [&](const std::string &what) {
      return fail(RESPIN_MODEL_ERR_MISMATCH,
                  file + ": tensor '" + spec.name + "' " + what);
    };
    if (!header.contains(spec.name))
      return mismatch("is missing");
    const nlohmann::json &entry = header[spec.name];
    if (!entry.is_object() || !entry.contains("dtype") ||
        !entry.contains("shape") || !entry.contains("data_offsets"))
      return mismatch("has a malformed header entry");
    if (entry["dtype"] != spec.dtype)
      return mismatch("has dtype " + entry["dtype"].dump() + ", expected " +
                      spec.dtype);
    const nlohmann::json &shape = entry["shape"];
    bool sameShape = shape.is_array() && shape.size() == spec.shape.size();
    for (size_t d = 0; sameShape && d < spec.shape.size(); ++d)
      sameShape = shape[d].is_number_integer() &&
                  shape[d].get<int64_t>() == spec.shape[d];
    if (!sameShape)
      return mismatch("has shape " + shape.dump() +
                      " which differs from the compiled model's");
    const nlohmann::json &offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 ||
        !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return mismatch("has malformed data_offsets");
    uint64_t begin = offsets[0], end = offsets[1];
    if (begin > end || end > dataSize)
      return mismatch("lies outside the file's data (truncated?)");
    if (end - begin != spec.bytes)
      return mismatch("holds " + std::to_string(end - begin) +
                      " bytes, the compiled model expects " +
                      std::to_string(spec.bytes));
    const uint8_t *at = data + begin;
    if (reinterpret_cast<uintptr_t>(at) % 4 != 0)
      return mismatch("is not 4-byte aligned in the file");
    model.weights.push_back(const_cast<uint8_t *>(at));
  }
  return RESPIN_MODEL_OK;
}

respin_model_status allocateState(respin_model &model) {
  for (const CacheSpec &spec : model.manifest.caches) {
    respin_rt_kv_cache cache{};
    cache.bits = int32_t(spec.bits);
    cache.n_kv_heads = int32_t(spec.kvHeads);
    cache.head_dim = int32_t(spec.headDim);
    cache.max_seq = int32_t(model.maxSeq);
    size_t codeBytes = respin_rt_kv_cache_code_bytes(
        int(spec.bits), spec.kvHeads, spec.headDim, model.maxSeq);
    if (codeBytes == 0)
      return fail(RESPIN_MODEL_ERR_MISMATCH,
                  "KV cache of slot " + std::to_string(spec.slot) + ": " +
                      respin_rt_last_error());
    size_t rowBytes = size_t(spec.kvHeads * model.maxSeq) * 4;
    for (int part = 0; part < 2; ++part) {
      AlignedBuffer codes = allocateAligned(codeBytes);
      if (!codes)
        return fail(RESPIN_MODEL_ERR_OUT_OF_MEMORY, "KV cache allocation");
      (part ? cache.v_codes : cache.k_codes) =
          static_cast<uint8_t *>(codes.get());
      model.cacheStorage.push_back(std::move(codes));
      model.stateBytes += codeBytes;
      if (spec.bits == 32)
        continue;
      AlignedBuffer scales = allocateAligned(rowBytes);
      AlignedBuffer zeros = allocateAligned(rowBytes);
      if (!scales || !zeros)
        return fail(RESPIN_MODEL_ERR_OUT_OF_MEMORY, "KV cache allocation");
      (part ? cache.v_scales : cache.k_scales) =
          static_cast<float *>(scales.get());
      (part ? cache.v_zeros : cache.k_zeros) =
          static_cast<int32_t *>(zeros.get());
      model.cacheStorage.push_back(std::move(scales));
      model.cacheStorage.push_back(std::move(zeros));
      model.stateBytes += 2 * rowBytes;
    }
    model.caches.push_back(cache);
  }
  for (const respin_rt_kv_cache &cache : model.caches)
    model.cachePointers.push_back(&cache);
  model.workspace = allocateAligned(size_t(model.manifest.workspace));
  if (!model.workspace)
    return fail(RESPIN_MODEL_ERR_OUT_OF_MEMORY,
                "workspace of " + std::to_string(model.manifest.workspace) +
                    " bytes");
  model.stateBytes += size_t(model.manifest.workspace);
  return RESPIN_MODEL_OK;
}

} // namespace

extern "C" {

respin_model_status respin_model_create(const char *manifest,
                                        respin_model_forward_fn forward,
                                        const char *weights_path,
                                        int64_t max_seq, respin_model **out) {
  lastError.clear();
  if (!out)
    return fail(RESPIN_MODEL_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (!manifest || !forward || !weights_path)
    return fail(RESPIN_MODEL_ERR_INVALID_ARGUMENT,
                "manifest, forward and weights_path must not be NULL");
  if (max_seq < 0 || max_seq > (int64_t(1) << 24))
    return fail(RESPIN_MODEL_ERR_INVALID_ARGUMENT,
                "max_seq " + std::to_string(max_seq) +
                    " is outside [0, 2^24] (0: 2048)");
  auto model = std::make_unique<respin_model>();
  model->forward = forward;
  model->maxSeq = max_seq ? max_seq : 2048;
  if (respin_model_status status = parseManifest(manifest, model->manifest))
    return status;
  if (respin_model_status status = mapWeights(*model, weights_path))
    return status;
  if (respin_model_status status = allocateState(*model))
    return status;
  *out = model.release();
  return RESPIN_MODEL_OK;
}

void respin_model_destroy(respin_model *model) { delete model; }

void respin_model_reset(respin_model *model) {
  if (model)
    model->position = 0;
}

respin_model_status respin_model_prefill(respin_model *model,
                                         const int32_t *tokens, int64_t n,
                                         float *logits) {
  if (!model || !tokens || n < 1)
    return fail(RESPIN_MODEL_ERR_INVALID_ARGUMENT,
                "prefill needs a model and n >= 1 tokens");
  if (n > model->maxSeq - model->position)
    return fail(RESPIN_MODEL_ERR_CONTEXT_FULL,
                "the context holds " + std::to_string(model->maxSeq) +
                    " positions; " + std::to_string(model->position) +
                    " are used and " + std::to_string(n) + " more were given");
  const int64_t vocab = model->manifest.vocab;
  const int64_t chunk = model->manifest.maxTokens;
  if (!logits && model->discard.empty())
    model->discard.resize(size_t(chunk * vocab));
  for (int64_t done = 0; done < n;) {
    int64_t count = std::min(chunk, n - done);
    float *out = logits ? logits + done * vocab : model->discard.data();
    int32_t status = model->forward(model->weights.data(),
                                    model->cachePointers.data(),
                                    model->workspace.get(), tokens + done,
                                    count, model->position, out);
    if (status != RESPIN_RT_OK)
      return fail(status == RESPIN_RT_ERR_INVALID_ARGUMENT
                      ? RESPIN_MODEL_ERR_INVALID_ARGUMENT
                      : RESPIN_MODEL_ERR_RUNTIME,
                  std::string("at position ") +
                      std::to_string(model->position) + ": " +
                      respin_rt_last_error());
    model->position += count;
    done += count;
  }
  return RESPIN_MODEL_OK;
}

respin_model_status respin_model_decode(respin_model *model, int32_t token,
                                        float *logits) {
  return respin_model_prefill(model, &token, 1, logits);
}

int64_t respin_model_vocab_size(const respin_model *model) {
  return model ? model->manifest.vocab : 0;
}
int64_t respin_model_position(const respin_model *model) {
  return model ? model->position : 0;
}
int64_t respin_model_max_seq(const respin_model *model) {
  return model ? model->maxSeq : 0;
}
size_t respin_model_state_bytes(const respin_model *model) {
  return model ? model->stateBytes : 0;
}
size_t respin_model_weights_bytes(const respin_model *model) {
  return model ? model->mapping.size : 0;
}

respin_model_status respin_model_set_num_threads(int num_threads) {
  if (respin_rt_set_num_threads(num_threads) != RESPIN_RT_OK)
    return fail(RESPIN_MODEL_ERR_INVALID_ARGUMENT, respin_rt_last_error());
  return RESPIN_MODEL_OK;
}

const char *respin_model_last_error(void) { return lastError.c_str(); }

} // extern "C"
