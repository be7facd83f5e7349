//===- ModelBench.cpp - End-to-end speed of one compiled model ------------===//
//
// A llama-bench-like measurement of a shared object from
// `respin-compile --emit=shared`, loaded with dlopen and driven through its
// respin_model C ABI, in one process:
//
//   load   wall time of respin_model_create (maps and validates the weights)
//   ppN    prefill of N tokens from an empty cache, tokens/s (median of R)
//   tgN    decode of N tokens after a short prompt, tokens/s (median of R)
//   RSS    peak resident set (getrusage) vs weights + state bytes
//
// and, after the model is gone, this machine's read bandwidth and VNNI peak
// (bench/kernels/MachineLimits), so the speeds become ratios of limits taken
// in the same run:
//
//   decode roofline ratio = bytes streamed per token x tok/s / read GB/s
//     bytes per token = every weight in the manifest except the embedding
//     table (one row is read per token; a tied table that also serves as the
//     lm_head counts in full) + the KV cache bytes attended at the mean
//     decode position (codes, plus per-token-per-head scale and zero point
//     when quantized).
//   prefill ratio = integer ops/s / VNNI peak
//     integer ops = 2 x sum over the packed integer linears (manifest weights
//     "<linear>.codes.packed") of N x K, per token. The manifest holds only
//     the packed blob's size, so N x K is read from the manifest of the float
//     build of the same model (--reference, where "<linear>" has its float
//     shape N x K). Without --reference the ratio is not computed.
//
//===----------------------------------------------------------------------===//

#include "../kernels/MachineLimits.h"

#include "respin/Interpreter/CompiledModel.h"
#include "respin/Runtime/respin_model.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace respin::bench;

namespace {

struct Options {
  std::string model, name, weights, reference, referenceName, json, label;
  int threads = 0, reps = 3, pp = 512, tg = 128, prompt = 16;
  int64_t ctx = 0;
  size_t readBytes = size_t(1) << 30;
};

const char *usage =
    "usage: respin-model-bench --model m.so --name m --weights "
    "m.weights.safetensors\n"
    "         [--threads N] [--reps R] [--pp 512] [--tg 128] [--prompt 16]\n"
    "         [--ctx C] [--reference float.so --reference-name f]\n"
    "         [--label text] [--read-mb 1024] [--json out.json]\n\n"
    "Loads a model compiled with respin-compile --emit=shared and measures its\n"
    "load time, prefill (pp) and decode (tg) tokens/s and peak RSS, then this\n"
    "machine's read bandwidth and VNNI peak in the same process, and prints the\n"
    "decode roofline ratio and the prefill share of the VNNI peak.\n"
    "  --threads   kernel threads (default: every hardware thread)\n"
    "  --reps      timed repetitions after one warm-up; medians are reported\n"
    "  --pp        prefill tokens from an empty cache (pp512)\n"
    "  --tg        decoded tokens, after --prompt tokens of prefill (tg128)\n"
    "  --ctx       KV cache positions (default max(pp, prompt + tg))\n"
    "  --reference the float build of the same model: its manifest gives N x K\n"
    "              of every integer linear, for the prefill op count\n"
    "  --read-mb   buffer of the read-bandwidth loop (default 1024 MiB)\n";

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "respin-model-bench: error: %s\n", message.c_str());
  std::exit(1);
}

int toInt(const std::string &flag, const char *text, int64_t lo, int64_t hi) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || !*text || *end || v < lo || v > hi)
    die(flag + " expects an integer in " + std::to_string(lo) + ".." +
        std::to_string(hi) + ", got '" + text + "'");
  return int(v);
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc)
      die("missing value after " + a + "\n" + usage);
    const char *v = argv[++i];
    if (a == "--model") o.model = v;
    else if (a == "--name") o.name = v;
    else if (a == "--weights") o.weights = v;
    else if (a == "--reference") o.reference = v;
    else if (a == "--reference-name") o.referenceName = v;
    else if (a == "--json") o.json = v;
    else if (a == "--label") o.label = v;
    else if (a == "--threads") o.threads = toInt(a, v, 1, 1024);
    else if (a == "--reps") o.reps = toInt(a, v, 1, 1000);
    else if (a == "--pp") o.pp = toInt(a, v, 1, 1 << 20);
    else if (a == "--tg") o.tg = toInt(a, v, 1, 1 << 20);
    else if (a == "--prompt") o.prompt = toInt(a, v, 1, 1 << 20);
    else if (a == "--ctx") o.ctx = toInt(a, v, 1, 1 << 24);
    else if (a == "--read-mb") o.readBytes = size_t(toInt(a, v, 64, 1 << 16)) << 20;
    else die("unknown option " + a + "\n" + usage);
  }
  if (o.model.empty() || o.name.empty() || o.weights.empty())
    die(std::string("--model, --name and --weights are required\n") + usage);
  if (!o.reference.empty() && o.referenceName.empty())
    die("--reference needs --reference-name (its symbol prefix)");
  if (o.threads == 0)
    o.threads = std::max(1u, std::thread::hardware_concurrency());
  if (o.label.empty())
    o.label = o.name;
  return o;
}

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peakRssBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) * 1024.0; // Linux: KiB
}

/// The parts of a manifest this tool needs.
struct Manifest {
  struct Weight {
    std::string name, dtype;
    double bytes = 0;
    std::vector<int64_t> shape;
  };
  struct Cache {
    int64_t bits = 0, kvHeads = 0, headDim = 0;
  };
  std::vector<Weight> weights;
  std::vector<Cache> caches;
  int64_t vocab = 0, maxTokens = 0;
  double workspace = 0;
};

Manifest parseManifest(const char *text) {
  Manifest m;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string key;
    f >> key;
    if (key == "weight") {
      Manifest::Weight w;
      int64_t index;
      std::string shape;
      f >> index >> w.name >> w.dtype >> w.bytes >> shape;
      std::istringstream dims(shape);
      for (std::string d; std::getline(dims, d, 'x');)
        w.shape.push_back(std::atoll(d.c_str()));
      m.weights.push_back(w);
    } else if (key == "kv-cache") {
      Manifest::Cache c;
      int64_t slot;
      f >> slot >> c.bits >> c.kvHeads >> c.headDim;
      m.caches.push_back(c);
    } else if (key == "vocab") {
      f >> m.vocab;
    } else if (key == "max-tokens") {
      f >> m.maxTokens;
    } else if (key == "workspace") {
      f >> m.workspace;
    }
  }
  return m;
}

/// The shared object's C ABI (its manifest, forward and respin_model_*).
std::unique_ptr<respin::CompiledLibrary> openLibrary(const std::string &path,
                                                     const std::string &name) {
  auto library = respin::CompiledLibrary::open(path, name);
  if (!library)
    die(llvm::toString(library.takeError()));
  return std::move(*library);
}

const std::string packedSuffix = ".codes.packed";

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Results {
  double loadMs = 0, ppMedian = 0, ppBest = 0, tgMedian = 0, tgBest = 0;
  double peakRss = 0, rssBeforeLoad = 0, weightsBytes = 0, stateBytes = 0;
  double logitsScratch = 0;
  double decodeBytesPerToken = 0, kvBytesPerToken = 0, meanDecodePosition = 0;
  double intOpsPerToken = 0; // 0: unknown or none
  int intLinears = 0, intLinearsMatched = 0;
  double readGBs = 0, vnniGOPs = 0;
  double decodeRatio = 0, prefillRatio = 0;
};

std::string jsonEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  Options opt = parse(argc, argv);
  Results r;
  r.rssBeforeLoad = peakRssBytes();

  std::unique_ptr<respin::CompiledLibrary> lib =
      openLibrary(opt.model, opt.name);
  Manifest manifest = parseManifest(lib->manifest);
  if (manifest.vocab < 1)
    die(opt.model + ": the manifest has no vocabulary size");
  if (lib->setThreads(opt.threads) != RESPIN_MODEL_OK)
    die(std::string("set_num_threads: ") + lib->lastError());

  int64_t ctx = opt.ctx ? opt.ctx
                        : std::max<int64_t>(opt.pp, int64_t(opt.prompt) + opt.tg);
  if (ctx < opt.pp || ctx < int64_t(opt.prompt) + opt.tg)
    die("--ctx " + std::to_string(ctx) + " cannot hold pp or prompt + tg");

  std::fprintf(stderr, "respin-model-bench: %s: loading %s\n",
               opt.label.c_str(), opt.weights.c_str());
  respin_model *model = nullptr;
  double t0 = now();
  if (lib->create(lib->manifest, lib->forward, opt.weights.c_str(), ctx, &model) !=
      RESPIN_MODEL_OK)
    die(opt.weights + ": " + lib->lastError());
  r.loadMs = (now() - t0) * 1e3;
  r.weightsBytes = double(lib->weightsBytes(model));
  r.stateBytes = double(lib->stateBytes(model));
  // Prefill with logits == NULL writes into a scratch buffer of
  // max-tokens x vocab floats that the model allocates outside its state.
  r.logitsScratch = double(std::min<int64_t>(manifest.maxTokens, opt.pp)) *
                    double(manifest.vocab) * 4.0;

  // Fixed pseudo-random tokens (values do not change the speed).
  std::vector<int32_t> tokens(std::max(opt.pp, opt.prompt));
  uint64_t state = 12345;
  for (int32_t &t : tokens) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    t = int32_t((state >> 33) % uint64_t(manifest.vocab));
  }
  std::vector<float> logits(size_t(manifest.vocab));
  auto check = [&](respin_model_status s, const char *what) {
    if (s != RESPIN_MODEL_OK)
      die(std::string(what) + ": " + lib->lastError());
  };

  // pp: prefill from an empty cache; the first pass is a warm-up (faults the
  // mapped weights in).
  std::vector<double> pp, tg;
  for (int rep = -1; rep < opt.reps; ++rep) {
    lib->reset(model);
    double s = now();
    check(lib->prefill(model, tokens.data(), opt.pp, nullptr), "prefill");
    double dt = now() - s;
    if (rep >= 0)
      pp.push_back(opt.pp / dt);
    std::fprintf(stderr, "respin-model-bench: %s: pp%d %s %.2f tok/s\n",
                 opt.label.c_str(), opt.pp, rep < 0 ? "warm-up" : "rep",
                 opt.pp / dt);
  }
  // tg: a short prompt, then decode one token at a time (the argmax of the
  // logits is not needed for speed: the next token is fixed).
  for (int rep = -1; rep < opt.reps; ++rep) {
    lib->reset(model);
    check(lib->prefill(model, tokens.data(), opt.prompt, nullptr), "prompt");
    int32_t next = tokens[opt.prompt - 1];
    double s = now();
    for (int i = 0; i < opt.tg; ++i) {
      check(lib->decode(model, next, logits.data()), "decode");
      next = tokens[(i * 7) % tokens.size()];
    }
    double dt = now() - s;
    if (rep >= 0)
      tg.push_back(opt.tg / dt);
    std::fprintf(stderr, "respin-model-bench: %s: tg%d %s %.2f tok/s\n",
                 opt.label.c_str(), opt.tg, rep < 0 ? "warm-up" : "rep",
                 opt.tg / dt);
  }
  r.ppMedian = median(pp);
  r.ppBest = *std::max_element(pp.begin(), pp.end());
  r.tgMedian = median(tg);
  r.tgBest = *std::max_element(tg.begin(), tg.end());
  r.peakRss = peakRssBytes();
  lib->destroy(model);
  lib.reset();

  // Bytes streamed per decoded token.
  bool hasHead = false;
  for (const Manifest::Weight &w : manifest.weights)
    hasHead |= w.name.rfind("lm_head", 0) == 0;
  double weightStream = 0;
  for (const Manifest::Weight &w : manifest.weights) {
    if (w.name == "model.embed_tokens.weight" && hasHead && !w.shape.empty() &&
        w.shape[0] > 0)
      weightStream += w.bytes / double(w.shape[0]); // one row
    else
      weightStream += w.bytes;
  }
  r.meanDecodePosition = opt.prompt + (opt.tg + 1) / 2.0;
  for (const Manifest::Cache &c : manifest.caches) {
    double perPosition = 2.0 * c.kvHeads * c.headDim * c.bits / 8.0;
    if (c.bits < 32)
      perPosition += 2.0 * c.kvHeads * 8.0; // float scale + int32 zero
    r.kvBytesPerToken += perPosition * r.meanDecodePosition;
  }
  r.decodeBytesPerToken = weightStream + r.kvBytesPerToken;

  // Integer ops per prefill token, from the float build's linear shapes.
  for (const Manifest::Weight &w : manifest.weights)
    r.intLinears += endsWith(w.name, packedSuffix);
  if (!opt.reference.empty() && r.intLinears) {
    Manifest floatManifest = parseManifest(
        openLibrary(opt.reference, opt.referenceName)->manifest);
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const Manifest::Weight &w : floatManifest.weights)
      shapes[w.name] = w.shape;
    for (const Manifest::Weight &w : manifest.weights) {
      if (!endsWith(w.name, packedSuffix))
        continue;
      std::string base = w.name.substr(0, w.name.size() - packedSuffix.size());
      auto it = shapes.find(base);
      if (it == shapes.end() && base == "lm_head.weight")
        it = shapes.find("model.embed_tokens.weight"); // tied in the float build
      if (it == shapes.end() || it->second.size() != 2)
        continue;
      r.intOpsPerToken += 2.0 * double(it->second[0]) * double(it->second[1]);
      ++r.intLinearsMatched;
    }
    if (r.intLinearsMatched != r.intLinears)
      std::fprintf(stderr,
                   "respin-model-bench: warning: %d of %d integer linears have "
                   "no float shape in %s\n",
                   r.intLinears - r.intLinearsMatched, r.intLinears,
                   opt.reference.c_str());
  }

  // Machine limits last, so their buffers stay out of the peak RSS above.
  std::fprintf(stderr, "respin-model-bench: %s: measuring read bandwidth and "
                       "VNNI peak (%d threads)\n",
               opt.label.c_str(), opt.threads);
  r.readGBs = measureReadGBs(opt.readBytes, opt.threads, 5);
  r.vnniGOPs = measureVnniGOPs(opt.threads, 0.5);
  r.decodeRatio = r.decodeBytesPerToken * r.tgMedian / (r.readGBs * 1e9);
  if (r.intOpsPerToken > 0 && r.vnniGOPs > 0)
    r.prefillRatio = r.intOpsPerToken * r.ppMedian / (r.vnniGOPs * 1e9);

  const double MB = 1e6;
  double footprint = r.weightsBytes + r.stateBytes;
  std::printf("respin-model-bench: %s (%s), %d threads, %d reps (medians)\n",
              opt.label.c_str(), opt.model.c_str(), opt.threads, opt.reps);
  std::printf("  machine      read %.2f GB/s, VNNI peak %.1f GOP/s\n",
              r.readGBs, r.vnniGOPs);
  std::printf("  load         %.1f ms\n", r.loadMs);
  std::printf("  pp%-4d       %.2f tok/s (best %.2f)", opt.pp, r.ppMedian,
              r.ppBest);
  if (r.prefillRatio > 0)
    std::printf("; %.3f GOP/token integer, %.3f of the VNNI peak",
                r.intOpsPerToken / 1e9, r.prefillRatio);
  std::printf("\n");
  std::printf("  tg%-4d       %.2f tok/s (best %.2f); %.1f MB/token streamed "
              "(KV %.2f MB at mean position %.1f), %.3f of read bandwidth\n",
              opt.tg, r.tgMedian, r.tgBest, r.decodeBytesPerToken / MB,
              r.kvBytesPerToken / MB, r.meanDecodePosition, r.decodeRatio);
  std::printf("  peak RSS     %.1f MB = %.3f x (weights %.1f MB + state %.1f "
              "MB); logits scratch %.1f MB, process before load %.1f MB\n",
              r.peakRss / MB, r.peakRss / footprint, r.weightsBytes / MB,
              r.stateBytes / MB, r.logitsScratch / MB, r.rssBeforeLoad / MB);

  if (!opt.json.empty()) {
    std::FILE *f = std::fopen(opt.json.c_str(), "w");
    if (!f)
      die(opt.json + ": " + std::strerror(errno));
    std::fprintf(
        f,
        "{\"label\": \"%s\", \"model\": \"%s\", \"threads\": %d, \"reps\": %d,"
        " \"pp\": %d, \"tg\": %d, \"prompt\": %d, \"ctx\": %" PRId64 ",\n"
        " \"load_ms\": %.3f, \"pp_tok_s\": %.4f, \"pp_best_tok_s\": %.4f,"
        " \"tg_tok_s\": %.4f, \"tg_best_tok_s\": %.4f,\n"
        " \"peak_rss_bytes\": %.0f, \"rss_before_load_bytes\": %.0f,"
        " \"weights_bytes\": %.0f, \"state_bytes\": %.0f,"
        " \"logits_scratch_bytes\": %.0f,\n"
        " \"decode_bytes_per_token\": %.0f, \"kv_bytes_per_token\": %.0f,"
        " \"mean_decode_position\": %.1f,\n"
        " \"int_linears\": %d, \"int_linears_with_shape\": %d,"
        " \"int_ops_per_token\": %.0f,\n"
        " \"read_gb_s\": %.4f, \"vnni_gop_s\": %.4f,"
        " \"decode_roofline_ratio\": %.5f, \"prefill_vnni_ratio\": %.5f}\n",
        jsonEscape(opt.label).c_str(), jsonEscape(opt.model).c_str(),
        opt.threads, opt.reps, opt.pp, opt.tg, opt.prompt, ctx, r.loadMs,
        r.ppMedian, r.ppBest, r.tgMedian, r.tgBest, r.peakRss,
        r.rssBeforeLoad, r.weightsBytes, r.stateBytes, r.logitsScratch,
        r.decodeBytesPerToken, r.kvBytesPerToken, r.meanDecodePosition,
        r.intLinears, r.intLinearsMatched, r.intOpsPerToken, r.readGBs,
        r.vnniGOPs, r.decodeRatio, r.prefillRatio);
    std::fclose(f);
  }
  return 0;
}
