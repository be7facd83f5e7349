//===- respin-synth.cpp - Synthetic Hugging Face checkpoints of real shapes ===//
//
// Writes a Hugging Face LLaMA checkpoint directory (config.json +
// model.safetensors, bf16) whose shapes are those of a real model and whose
// values are seeded random numbers: linears and embeddings N(0, 0.02), norm
// gains 1 + N(0, 0.02). Weight values do not change the speed of a compiled
// model, so these stand in for checkpoints that are not available offline.
//
// The file is streamed tensor by tensor (the header is computed from the
// shapes first), so memory stays at one chunk whatever the model size. The
// directory is written under a temporary name next to the output and renamed
// into place at the end; an existing non-empty output is refused.
//
// Every tensor has its own random stream seeded by (seed, tensor index), so
// the bytes depend only on --seed, --preset and --layers.
//
//===----------------------------------------------------------------------===//

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace cl = llvm::cl;

namespace {

struct Preset {
  const char *name;
  const char *description;
  int64_t dim, layers, heads, kvHeads, ffn, vocab, maxPositions;
  double ropeTheta, rmsNormEps;
  bool tied;
};

// Shapes from the published config.json of each model.
const Preset presets[] = {
    {"tinyllama-1.1b", "TinyLlama-1.1B (Llama-2 architecture)", 2048, 22, 32, 4,
     5632, 32000, 2048, 10000.0, 1e-5, false},
    {"llama-3.2-1b", "Llama-3.2-1B without rope_scaling", 2048, 16, 32, 8,
     8192, 128256, 131072, 500000.0, 1e-5, true},
    {"tiny", "smoke-test model", 256, 2, 8, 2, 512, 512, 2048, 10000.0, 1e-5,
     false},
};

cl::OptionCategory category("respin-synth options");
cl::opt<std::string> presetName(
    "preset", cl::Required,
    cl::desc("Model shape: tinyllama-1.1b | llama-3.2-1b | tiny"),
    cl::cat(category));
cl::opt<std::string> outputDir("o", cl::Required,
                               cl::desc("Output checkpoint directory (must "
                                        "not exist, or be empty)"),
                               cl::value_desc("dir"), cl::cat(category));
cl::opt<uint64_t> seed("seed", cl::init(0),
                       cl::desc("Seed of the random weights (default 0)"),
                       cl::cat(category));
cl::opt<int64_t> layersOverride(
    "layers", cl::init(0),
    cl::desc("Number of decoder layers instead of the preset's (for quick "
             "runs; 0: the preset's)"),
    cl::cat(category));
cl::opt<bool> quiet("q", cl::desc("Print nothing on success"),
                    cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "respin-synth") << message << "\n";
  return 1;
}

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool norm; // gain: 1 + N(0, 0.02); otherwise N(0, 0.02)
  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

std::vector<TensorSpec> tensorList(const Preset &p) {
  int64_t headDim = p.dim / p.heads;
  std::vector<TensorSpec> list;
  list.push_back({"model.embed_tokens.weight", {p.vocab, p.dim}, false});
  for (int64_t l = 0; l < p.layers; ++l) {
    std::string prefix = "model.layers." + std::to_string(l) + ".";
    list.push_back({prefix + "input_layernorm.weight", {p.dim}, true});
    list.push_back(
        {prefix + "self_attn.q_proj.weight", {p.heads * headDim, p.dim}, false});
    list.push_back({prefix + "self_attn.k_proj.weight",
                    {p.kvHeads * headDim, p.dim}, false});
    list.push_back({prefix + "self_attn.v_proj.weight",
                    {p.kvHeads * headDim, p.dim}, false});
    list.push_back(
        {prefix + "self_attn.o_proj.weight", {p.dim, p.heads * headDim}, false});
    list.push_back({prefix + "post_attention_layernorm.weight", {p.dim}, true});
    list.push_back({prefix + "mlp.gate_proj.weight", {p.ffn, p.dim}, false});
    list.push_back({prefix + "mlp.up_proj.weight", {p.ffn, p.dim}, false});
    list.push_back({prefix + "mlp.down_proj.weight", {p.dim, p.ffn}, false});
  }
  list.push_back({"model.norm.weight", {p.dim}, true});
  if (!p.tied)
    list.push_back({"lm_head.weight", {p.vocab, p.dim}, false});
  return list;
}

std::string jsonNumber(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

std::string configJson(const Preset &p) {
  int64_t headDim = p.dim / p.heads;
  std::string s = "{\n";
  auto field = [&](const char *key, const std::string &value, bool last = false) {
    s += "  \"" + std::string(key) + "\": " + value + (last ? "\n" : ",\n");
  };
  field("architectures", "[\"LlamaForCausalLM\"]");
  field("model_type", "\"llama\"");
  field("hidden_act", "\"silu\"");
  field("hidden_size", std::to_string(p.dim));
  field("intermediate_size", std::to_string(p.ffn));
  field("num_hidden_layers", std::to_string(p.layers));
  field("num_attention_heads", std::to_string(p.heads));
  field("num_key_value_heads", std::to_string(p.kvHeads));
  field("head_dim", std::to_string(headDim));
  field("vocab_size", std::to_string(p.vocab));
  field("max_position_embeddings", std::to_string(p.maxPositions));
  field("rms_norm_eps", jsonNumber(p.rmsNormEps));
  field("rope_theta", jsonNumber(p.ropeTheta));
  field("rope_scaling", "null");
  field("attention_bias", "false");
  field("mlp_bias", "false");
  field("bos_token_id", "1");
  field("eos_token_id", "2");
  field("torch_dtype", "\"bfloat16\"");
  field("respin_synthetic",
        "\"respin-synth --preset " + std::string(p.name) + " --seed " +
            std::to_string(seed) + "\"");
  field("tie_word_embeddings", p.tied ? "true" : "false", /*last=*/true);
  return s + "}\n";
}

/// splitmix64: a small, fast, well-mixed generator; one stream per tensor.
struct Random {
  uint64_t state;
  explicit Random(uint64_t s) : state(s) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in (0, 1].
  double uniform() { return double((next() >> 11) + 1) * 0x1.0p-53; }
};

/// float -> bf16 with round-to-nearest-even (values here are finite).
uint16_t toBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return uint16_t((bits + rounding) >> 16);
}

/// Safetensors header: names, dtypes, shapes and offsets in file order,
/// padded with spaces to a multiple of 8 bytes.
std::string safetensorsHeader(const std::vector<TensorSpec> &list) {
  std::string h = "{\"__metadata__\":{\"format\":\"pt\",\"generator\":"
                  "\"respin-synth\"}";
  uint64_t offset = 0;
  for (const TensorSpec &t : list) {
    uint64_t bytes = uint64_t(t.elements()) * 2;
    h += ",\"" + t.name + "\":{\"dtype\":\"BF16\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d)
      h += (d ? "," : "") + std::to_string(t.shape[d]);
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," +
         std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  h += "}";
  while (h.size() % 8)
    h += ' ';
  return h;
}

bool writeAll(std::FILE *f, const void *data, size_t bytes) {
  return std::fwrite(data, 1, bytes, f) == bytes;
}

/// Streams model.safetensors to `path`; returns an error message or "".
std::string writeWeights(const std::string &path,
                         const std::vector<TensorSpec> &list) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return path + ": " + std::strerror(errno);
  std::string header = safetensorsHeader(list);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  bool ok = writeAll(f, length, 8) && writeAll(f, header.data(), header.size());
  constexpr int64_t chunk = 1 << 20;
  std::vector<uint16_t> buffer(chunk);
  for (size_t index = 0; ok && index < list.size(); ++index) {
    const TensorSpec &t = list[index];
    Random random(seed * 0x100000001b3ull + index * 0x9e3779b97f4a7c15ull + 1);
    const double sigma = 0.02, twoPi = 6.283185307179586;
    for (int64_t done = 0, total = t.elements(); ok && done < total;) {
      int64_t n = std::min(chunk, total - done);
      for (int64_t i = 0; i < n; i += 2) {
        // Box-Muller: two normals per pair of uniforms.
        double r = sigma * std::sqrt(-2.0 * std::log(random.uniform()));
        double a = twoPi * random.uniform();
        double z0 = r * std::cos(a), z1 = r * std::sin(a);
        if (t.norm)
          z0 += 1.0, z1 += 1.0;
        buffer[i] = toBF16(float(z0));
        if (i + 1 < n)
          buffer[i + 1] = toBF16(float(z1));
      }
      ok = writeAll(f, buffer.data(), size_t(n) * 2);
      done += n;
    }
  }
  std::string error = ok ? "" : path + ": write failed: " + std::strerror(errno);
  if (std::fclose(f) != 0 && error.empty())
    error = path + ": close failed: " + std::strerror(errno);
  return error;
}

std::string writeText(const std::string &path, const std::string &text) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return path + ": " + std::strerror(errno);
  bool ok = writeAll(f, text.data(), text.size());
  if (std::fclose(f) != 0 || !ok)
    return path + ": write failed: " + std::strerror(errno);
  return "";
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions({&category, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(
      argc, argv,
      "respin-synth: write a synthetic Hugging Face LLaMA checkpoint with the "
      "real shapes of a model\n\n"
      "  respin-synth --preset tinyllama-1.1b -o tinyllama-synth\n"
      "  respin-compile tinyllama-synth -o m.so --emit=shared --name m\n\n"
      "Writes <dir>/config.json and <dir>/model.safetensors (bf16): linears\n"
      "and the embedding ~ N(0, 0.02), RMSNorm gains ~ 1 + N(0, 0.02), seeded\n"
      "by --seed (same seed, preset and --layers: same bytes). No tokenizer is\n"
      "written (respin-compile does not need one; respin-translate --import-hf\n"
      "needs --no-tokenizer). The values are meaningless: the checkpoint is for\n"
      "speed and memory measurements, never for accuracy.\n\n"
      "Presets (shapes of the published config.json):\n"
      "  tinyllama-1.1b  dim 2048, 22 layers, 32 heads / 4 KV heads, FFN 5632,\n"
      "                  vocab 32000, untied lm_head, rope_theta 10000\n"
      "  llama-3.2-1b    dim 2048, 16 layers, 32 heads / 8 KV heads, FFN 8192,\n"
      "                  vocab 128256, tied embeddings, rope_theta 500000.\n"
      "                  The real model uses rope_scaling (rope_type llama3);\n"
      "                  it is left out (rope_scaling: null) because respin's\n"
      "                  runtime does not implement it. Same speed, other\n"
      "                  numerics at long context.\n"
      "  tiny            dim 256, 2 layers, 8 heads / 2 KV heads, FFN 512,\n"
      "                  vocab 512 (smoke tests)\n");

  const Preset *found = nullptr;
  for (const Preset &p : presets)
    if (presetName == p.name)
      found = &p;
  if (!found)
    return fail("unknown preset '" + presetName +
                "' (expected tinyllama-1.1b, llama-3.2-1b or tiny)");
  Preset preset = *found;
  if (layersOverride < 0 || layersOverride > 1024)
    return fail("--layers must be in 0..1024 (0: the preset's " +
                llvm::Twine(preset.layers) + ")");
  if (layersOverride > 0)
    preset.layers = layersOverride;

  // Refuse an existing non-empty output; an empty directory is replaced.
  std::string out = outputDir;
  while (out.size() > 1 && out.back() == '/')
    out.pop_back();
  if (out.empty())
    return fail("-o must name a directory");
  if (llvm::sys::fs::exists(out)) {
    if (!llvm::sys::fs::is_directory(out))
      return fail(out + ": exists and is not a directory");
    std::error_code ec;
    llvm::sys::fs::directory_iterator it(out, ec);
    if (ec)
      return fail(out + ": " + ec.message());
    if (it != llvm::sys::fs::directory_iterator())
      return fail(out + ": exists and is not empty; remove it or choose "
                        "another -o");
  }
  llvm::SmallString<256> parent(out);
  llvm::sys::path::remove_filename(parent);
  if (parent.empty())
    parent = ".";
  // Next to the output, so the final rename stays on one file system.
  llvm::SmallString<256> prefix(parent);
  llvm::sys::path::append(prefix, llvm::sys::path::filename(out) + ".tmp");
  llvm::SmallString<256> temp;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(prefix, temp))
    return fail(parent + ": cannot create a temporary directory: " +
                ec.message());
  std::string tmp(temp);
  auto cleanup = [&] {
    llvm::sys::fs::remove(tmp + "/config.json");
    llvm::sys::fs::remove(tmp + "/model.safetensors");
    llvm::sys::fs::remove(tmp);
  };

  std::vector<TensorSpec> list = tensorList(preset);
  int64_t parameters = 0;
  for (const TensorSpec &t : list)
    parameters += t.elements();
  if (!quiet)
    llvm::errs() << "respin-synth: " << preset.name << " (" << preset.layers
                 << " layers, " << list.size() << " tensors, "
                 << llvm::format("%.3f", parameters / 1e9)
                 << " G parameters, "
                 << llvm::format("%.2f", parameters * 2 / 1e9)
                 << " GB bf16) -> " << out << "\n";

  std::string error = writeText(tmp + "/config.json", configJson(preset));
  if (error.empty())
    error = writeWeights(tmp + "/model.safetensors", list);
  if (!error.empty()) {
    cleanup();
    return fail(error);
  }
  // rename(2) replaces an empty directory atomically.
  if (std::error_code ec = llvm::sys::fs::rename(tmp, out)) {
    cleanup();
    return fail("cannot rename " + tmp + " to " + out + ": " + ec.message());
  }
  if (!quiet)
    llvm::outs() << "respin-synth: wrote " << out << "/config.json, " << out
                 << "/model.safetensors\n";
  return 0;
}
