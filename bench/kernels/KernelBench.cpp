//===- KernelBench.cpp - respin runtime microkernel benchmarks ------------===//
//
// LLaMA-shaped kernels (4096x4096, 14336x4096, 4096x14336) for decode (M = 1)
// and prefill (M = 128, 512), the f32 baseline of the same shapes, online
// Hadamard sizes, per-token quantization and the rank-32 adapter (Q^T in
// f32, bf16, f16). Before the benchmarks run, main() measures the copy
// bandwidth and the VNNI peak, and at the end it prints each issue-5 target
// as a ratio of numbers from this run. --threads=N sets the runtime's (and
// the limit loops') thread count.
//
// Decode GEMVs cycle through enough copies of the packed weights to exceed
// the last-level cache (as a real model does: every layer's weights differ),
// so they measure DRAM streaming, not cache hits.
//
//===----------------------------------------------------------------------===//

#include "MachineLimits.h"

#include "respin/Runtime/respin_rt.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace respin::bench;

namespace {

bool smokeMode = false;
// Working set the decode benchmarks cycle through: well above the 32 MiB L3
// of one Zen 4 CCD (and the 320 MiB the VM reports for the whole socket).
size_t coldBytes() { return smokeMode ? (64u << 20) : (512u << 20); }

struct AlignedFree {
  void operator()(void *p) const { std::free(p); }
};
template <typename T> using Aligned = std::unique_ptr<T[], AlignedFree>;

template <typename T> Aligned<T> allocate(size_t count) {
  size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
  return Aligned<T>((T *)std::aligned_alloc(64, bytes));
}

void check(respin_rt_status s, const char *what) {
  if (s != RESPIN_RT_OK) {
    std::fprintf(stderr, "%s failed: %s\n", what, respin_rt_last_error());
    std::exit(1);
  }
}

/// Packed low-bit weights, replicated `copies` times back to back.
struct PackedSet {
  size_t blobBytes = 0, stride = 0;
  int copies = 0;
  Aligned<uint8_t> data;
  const void *blob(int i) const { return data.get() + (size_t)i * stride; }
};

const PackedSet &packedWeights(int bits, int64_t n, int64_t k, bool cold) {
  static std::map<std::tuple<int, int64_t, int64_t, bool>, PackedSet> cache;
  auto key = std::make_tuple(bits, n, k, cold);
  auto it = cache.find(key);
  if (it != cache.end())
    return it->second;
  // Keep only one shape alive: the big ones are hundreds of MB.
  cache.clear();
  PackedSet &set = cache[key];
  std::mt19937 rng(1);
  std::vector<int8_t> q(n * k);
  int lo = -(1 << (bits - 1));
  for (int8_t &v : q)
    v = (int8_t)(lo + (int)(rng() % (1u << bits)));
  std::vector<float> scales(n, 0.01f);
  set.blobBytes = respin_rt_packed_weights_size(bits, n, k, 0);
  set.stride = (set.blobBytes + 4095) / 4096 * 4096;
  set.copies = cold ? (int)std::max<size_t>(1, coldBytes() / set.stride + 1) : 1;
  set.data = allocate<uint8_t>(set.stride * set.copies);
  check(respin_rt_pack_weights(bits, n, k, 0, q.data(), k, scales.data(),
                               set.data.get(), set.blobBytes),
        "pack");
  for (int c = 1; c < set.copies; ++c)
    std::memcpy(set.data.get() + c * set.stride, set.data.get(), set.stride);
  return set;
}

void addRatioCounters(benchmark::State &state, double bytesPerCall,
                      double opsPerCall) {
  const MachineLimits &l = limits();
  auto rate = benchmark::Counter::kIsIterationInvariantRate;
  if (bytesPerCall > 0) {
    state.counters["GB/s"] = benchmark::Counter(bytesPerCall / 1e9, rate);
    if (l.copyGBs > 0)
      state.counters["x_copyBW"] =
          benchmark::Counter(bytesPerCall / (l.copyGBs * 1e9), rate);
  }
  if (opsPerCall > 0) {
    state.counters["GOP/s"] = benchmark::Counter(opsPerCall / 1e9, rate);
    if (l.vnniGOPs > 0)
      state.counters["x_vnniPeak"] =
          benchmark::Counter(opsPerCall / (l.vnniGOPs * 1e9), rate);
  }
}

/// `hot` keeps one copy of the weights (cache resident) also for M = 1: the
/// kernel's compute ceiling rather than DRAM streaming.
void runQLinear(benchmark::State &state, int bits, int64_t n, int64_t k,
                int64_t m, bool hot = false) {
  bool cold = m < 16 && !hot;
  const PackedSet &w = packedWeights(bits, n, k, cold);
  auto x = allocate<uint8_t>(m * k);
  std::mt19937 rng(2);
  for (int64_t i = 0; i < m * k; ++i)
    x[i] = (uint8_t)rng();
  std::vector<float> xs(m, 0.02f);
  std::vector<int32_t> xz(m, 128);
  auto y = allocate<float>(m * n);
  int copy = 0;
  for (auto _ : state) {
    check(respin_rt_qlinear(w.blob(copy), w.blobBytes, m, x.get(), k,
                            xs.data(), xz.data(), 0, y.get(), n, 0),
          "qlinear");
    benchmark::DoNotOptimize(y.get());
    copy = (copy + 1) % w.copies;
  }
  // Decode is judged by bytes streamed, prefill by integer ops.
  bool decode = m < 16;
  addRatioCounters(state, decode ? (double)w.blobBytes : 0,
                   decode ? 0 : 2.0 * m * n * k);
  state.counters["weight_MB"] = (double)w.blobBytes / 1e6;
}

void runLinearF32(benchmark::State &state, int64_t n, int64_t k, int64_t m) {
  static Aligned<float> w;
  static int64_t wn = 0, wk = 0;
  if (wn != n || wk != k) {
    w = allocate<float>(n * k);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (int64_t i = 0; i < n * k; ++i)
      w[i] = normal(rng);
    wn = n;
    wk = k;
  }
  auto x = allocate<float>(m * k);
  for (int64_t i = 0; i < m * k; ++i)
    x[i] = (float)(i % 17) * 0.1f;
  auto y = allocate<float>(m * n);
  for (auto _ : state) {
    check(respin_rt_linear_f32(w.get(), k, n, k, m, x.get(), k, y.get(), n, 0),
          "linear_f32");
    benchmark::DoNotOptimize(y.get());
  }
  addRatioCounters(state, m < 16 ? 4.0 * n * k : 0,
                   m < 16 ? 0 : 2.0 * m * n * k);
}

void runHadamard(benchmark::State &state, int64_t n, int64_t rows) {
  int64_t kf, p;
  if (respin_rt_hadamard_factor(n, &kf, &p) != RESPIN_RT_OK) {
    state.SkipWithError(respin_rt_last_error());
    for (auto _ : state) {
    }
    return;
  }
  auto x = allocate<float>(rows * n);
  for (int64_t i = 0; i < rows * n; ++i)
    x[i] = std::sin((float)i);
  for (auto _ : state) {
    check(respin_rt_hadamard_rows(x.get(), n, rows, n), "hadamard");
    benchmark::DoNotOptimize(x.get());
  }
  state.SetLabel("K=" + std::to_string(kf) + " 2^p=" + std::to_string(p));
}

void runHadamardQuantize(benchmark::State &state, int64_t n) {
  auto x = allocate<float>(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::sin((float)i);
  auto q = allocate<uint8_t>(n);
  float s;
  int32_t z;
  for (auto _ : state) {
    check(respin_rt_hadamard_quantize_rows(x.get(), n, 1, n, 4, 0, 1.0f, 0,
                                           q.get(), n, &s, &z),
          "hadamard_quantize");
    benchmark::DoNotOptimize(q.get());
  }
}

void runQuantize(benchmark::State &state, int64_t n, int64_t rows) {
  auto x = allocate<float>(rows * n);
  for (int64_t i = 0; i < rows * n; ++i)
    x[i] = std::sin((float)i);
  auto q = allocate<uint8_t>(rows * n);
  std::vector<float> s(rows);
  std::vector<int32_t> z(rows);
  for (auto _ : state) {
    check(respin_rt_quantize_rows(x.get(), n, rows, n, 8, 0, 1.0f, 0, q.get(),
                                  n, s.data(), z.data()),
          "quantize");
    benchmark::DoNotOptimize(q.get());
  }
  addRatioCounters(state, 5.0 * n * rows, 0);
}

/// The rank-r adapter with Q^T stored as `format`; `cold` cycles through
/// copies of Q^T larger than the L3, as decoding does (each skip connection
/// has its own Q).
void runAdapter(benchmark::State &state, int64_t d, int64_t r, bool cold,
                respin_rt_float_format format = RESPIN_RT_FLOAT_F32) {
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  size_t elem = respin_rt_float_format_size(format);
  size_t qBytes = ((size_t)(d * r) * elem + 63) / 64 * 64;
  int copies = cold ? (int)(coldBytes() / qBytes + 1) : 1;
  auto q = allocate<uint8_t>(qBytes * copies);
  auto mc = allocate<float>(r * r);
  auto h = allocate<float>(d);
  auto add = allocate<float>(d);
  std::vector<float> qF(d * r);
  for (float &v : qF)
    v = normal(rng);
  check(respin_rt_convert_floats(qF.data(), d * r, format, q.get()),
        "convert");
  for (int c = 1; c < copies; ++c)
    std::memcpy(q.get() + c * qBytes, q.get(), qBytes);
  for (int64_t i = 0; i < r * r; ++i)
    mc[i] = normal(rng);
  for (int64_t i = 0; i < d; ++i)
    h[i] = add[i] = normal(rng);
  int copy = 0;
  for (auto _ : state) {
    check(respin_rt_residual_adapter_q(h.get(), d, add.get(), d, 1, d, r,
                                       q.get() + copy * qBytes, format,
                                       mc.get()),
          "adapter");
    benchmark::DoNotOptimize(h.get());
    copy = (copy + 1) % copies;
  }
  addRatioCounters(state, (double)(d * r) * elem, 0);
}

/// Remembers each run's real time (microseconds) by name for the summary.
class Reporter : public benchmark::ConsoleReporter {
public:
  std::map<std::string, double> micros;
  std::map<std::string, double> gbs, gops;
  void ReportRuns(const std::vector<Run> &runs) override {
    for (const Run &run : runs) {
      if (run.error_occurred)
        continue;
      double t = run.GetAdjustedRealTime() *
                 (run.time_unit == benchmark::kNanosecond    ? 1e-3
                  : run.time_unit == benchmark::kMillisecond ? 1e3
                  : run.time_unit == benchmark::kSecond      ? 1e6
                                                             : 1.0);
      std::string name = run.benchmark_name();
      micros[name] = t;
      auto g = run.counters.find("GB/s");
      if (g != run.counters.end())
        gbs[name] = g->second.value;
      auto o = run.counters.find("GOP/s");
      if (o != run.counters.end())
        gops[name] = o->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

std::string shapeName(int64_t n, int64_t k) {
  return std::to_string(n) + "x" + std::to_string(k);
}

void registerAll() {
  auto reg = [](const std::string &name, auto fn) {
    return benchmark::RegisterBenchmark(name.c_str(), fn)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  };
  reg("Smoke/QLinear/int4/1024x1024/M:1", [](benchmark::State &s) {
    runQLinear(s, 4, 1024, 1024, 1);
  });
  reg("Smoke/QLinear/int4/256x512/M:32", [](benchmark::State &s) {
    runQLinear(s, 4, 256, 512, 32);
  });
  reg("Smoke/LinearF32/256x512/M:1", [](benchmark::State &s) {
    runLinearF32(s, 256, 512, 1);
  });

  const std::pair<int64_t, int64_t> shapes[] = {
      {4096, 4096}, {14336, 4096}, {4096, 14336}};
  for (int bits : {4, 3})
    for (auto [n, k] : shapes)
      for (int64_t m : {1, 128, 512}) {
        if (bits == 3 && m == 512)
          continue;
        reg("QLinear/int" + std::to_string(bits) + "/" + shapeName(n, k) +
                "/M:" + std::to_string(m),
            [=](benchmark::State &s) { runQLinear(s, bits, n, k, m); });
      }
  // In-cache decode (2-3 MB of weights, inside the L3): how far each
  // format's unpacking is from limiting the DRAM-bound case.
  for (int bits : {4, 3})
    reg("QLinearHot/int" + std::to_string(bits) + "/2048x2048/M:1",
        [=](benchmark::State &s) { runQLinear(s, bits, 2048, 2048, 1, true); });
  // LLaMA-2-7B's down_proj: its input is rotated by the 11008 = 172 * 64
  // online Hadamard, so the Hadamard 11008 ratio is taken against it.
  reg("QLinear/int4/4096x11008/M:1",
      [](benchmark::State &s) { runQLinear(s, 4, 4096, 11008, 1); });
  for (auto [n, k] : shapes)
    for (int64_t m : {1, 128, 512})
      reg("LinearF32/" + shapeName(n, k) + "/M:" + std::to_string(m),
          [=](benchmark::State &s) { runLinearF32(s, n, k, m); });
  for (int64_t n : {128, 4096, 11008, 14336})
    reg("Hadamard/" + std::to_string(n),
        [=](benchmark::State &s) { runHadamard(s, n, 1); });
  reg("Hadamard/14336/rows:128",
      [](benchmark::State &s) { runHadamard(s, 14336, 128); });
  reg("HadamardQuantize/14336", [](benchmark::State &s) {
    runHadamardQuantize(s, 14336);
  });
  for (int64_t n : {4096, 14336})
    reg("Quantize/" + std::to_string(n),
        [=](benchmark::State &s) { runQuantize(s, n, 1); });
  reg("Quantize/4096/rows:512",
      [](benchmark::State &s) { runQuantize(s, 4096, 512); });
  reg("Adapter/4096/r:32", [](benchmark::State &s) {
    runAdapter(s, 4096, 32, false);
  });
  reg("Adapter/4096/r:32/cold", [](benchmark::State &s) {
    runAdapter(s, 4096, 32, true);
  });
  for (auto [name, format] :
       {std::pair<const char *, respin_rt_float_format>{
            "bf16", RESPIN_RT_FLOAT_BF16},
        {"f16", RESPIN_RT_FLOAT_F16}}) {
    reg(std::string("Adapter/4096/r:32/") + name,
        [format = format](benchmark::State &s) {
          runAdapter(s, 4096, 32, false, format);
        });
    reg(std::string("Adapter/4096/r:32/") + name + "/cold",
        [format = format](benchmark::State &s) {
          runAdapter(s, 4096, 32, true, format);
        });
  }
}

void printSummary(const Reporter &r) {
  const MachineLimits &l = limits();
  auto have = [&](const std::map<std::string, double> &m, const std::string &k) {
    return m.count(k) != 0;
  };
  std::printf("\n== issue-5 targets (ratios of numbers from this run) ==\n");
  std::printf("copy bandwidth %.1f GB/s, VNNI peak %.0f GOP/s, %d threads, "
              "ISA %s\n",
              l.copyGBs, l.vnniGOPs, l.threads,
              respin_rt_isa_name(respin_rt_active_isa()));
  for (const char *name : {"QLinear/int4/4096x4096/M:1/real_time",
                           "QLinear/int4/14336x4096/M:1/real_time",
                           "QLinear/int4/4096x14336/M:1/real_time",
                           "QLinear/int4/4096x11008/M:1/real_time",
                           "QLinear/int3/14336x4096/M:1/real_time"})
    if (have(r.gbs, name))
      std::printf("GEMV %-40s %6.1f GB/s = %5.2f x copy BW (target >= 0.80)\n",
                  name, r.gbs.at(name), r.gbs.at(name) / l.copyGBs);
  for (const char *name : {"QLinear/int4/4096x4096/M:512/real_time",
                           "QLinear/int4/14336x4096/M:512/real_time",
                           "QLinear/int4/4096x14336/M:512/real_time",
                           "QLinear/int4/4096x4096/M:128/real_time"})
    if (have(r.gops, name) && l.vnniGOPs > 0)
      std::printf("GEMM %-40s %6.0f GOP/s = %5.2f x VNNI peak (target >= "
                  "0.50)\n",
                  name, r.gops.at(name), r.gops.at(name) / l.vnniGOPs);
  std::string had = "Hadamard/14336/real_time",
              gemv = "QLinear/int4/14336x4096/M:1/real_time";
  if (have(r.micros, had) && have(r.micros, gemv))
    std::printf("Hadamard 14336 / GEMV 14336x4096: %.1f us / %.1f us = %.3f "
                "(target <= 0.10)\n",
                r.micros.at(had), r.micros.at(gemv),
                r.micros.at(had) / r.micros.at(gemv));
  std::string had11 = "Hadamard/11008/real_time",
              gemv11 = "QLinear/int4/4096x11008/M:1/real_time";
  if (have(r.micros, had11) && have(r.micros, gemv11))
    std::printf("Hadamard 11008 (K=172) / GEMV 4096x11008: %.1f us / %.1f us "
                "= %.3f (target <= 0.10)\n",
                r.micros.at(had11), r.micros.at(gemv11),
                r.micros.at(had11) / r.micros.at(gemv11));
  std::string ad = "Adapter/4096/r:32/real_time",
              gemv4 = "QLinear/int4/4096x4096/M:1/real_time";
  for (std::string a :
       {ad, std::string("Adapter/4096/r:32/cold/real_time"),
        std::string("Adapter/4096/r:32/bf16/real_time"),
        std::string("Adapter/4096/r:32/bf16/cold/real_time"),
        std::string("Adapter/4096/r:32/f16/real_time"),
        std::string("Adapter/4096/r:32/f16/cold/real_time")})
    if (have(r.micros, a) && have(r.micros, gemv4))
      std::printf("%s / GEMV 4096x4096: %.1f us / %.1f us = %.3f "
                  "(target <= 0.03)\n",
                  a.c_str(), r.micros.at(a), r.micros.at(gemv4),
                  r.micros.at(a) / r.micros.at(gemv4));
  for (const char *shape : {"4096x4096", "14336x4096", "4096x14336"})
    for (const char *m : {"1", "128", "512"}) {
      std::string q = std::string("QLinear/int4/") + shape + "/M:" + m +
                      "/real_time",
                  f = std::string("LinearF32/") + shape + "/M:" + m +
                      "/real_time";
      if (have(r.micros, q) && have(r.micros, f))
        std::printf("int4 vs f32 %-12s M=%-4s %8.1f us vs %9.1f us: %.2fx "
                    "faster\n",
                    shape, m, r.micros.at(q), r.micros.at(f),
                    r.micros.at(f) / r.micros.at(q));
    }
}

} // namespace

int main(int argc, char **argv) {
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0)
      smokeMode = true;
    else if (std::strncmp(argv[i], "--threads=", 10) == 0)
      check(respin_rt_set_num_threads(std::atoi(argv[i] + 10)), "--threads");
    else
      args.push_back(argv[i]);
  }
  int count = (int)args.size();
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data()))
    return 1;

  MachineLimits &l = limits();
  l.threads = respin_rt_get_num_threads();
  l.copyGBs = measureCopyGBs(smokeMode ? (64u << 20) : (1u << 30), l.threads,
                             smokeMode ? 2 : 5);
  l.vnniGOPs = measureVnniGOPs(l.threads, smokeMode ? 0.05 : 0.5);
  benchmark::AddCustomContext("respin_isa",
                              respin_rt_isa_name(respin_rt_active_isa()));
  benchmark::AddCustomContext("respin_threads", std::to_string(l.threads));
  benchmark::AddCustomContext("copy_GBps", std::to_string(l.copyGBs));
  benchmark::AddCustomContext("vnni_peak_GOPs", std::to_string(l.vnniGOPs));

  registerAll();
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  printSummary(reporter);
  benchmark::Shutdown();
  return 0;
}
