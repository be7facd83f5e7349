//===- MachineLimits.cpp - Copy bandwidth and VNNI peak loops -------------===//
//
// Copy: each thread memcpy's its half of a buffer far larger than the L3.
// Peak: each thread runs 16 independent VPDPBUSD accumulator chains, enough
// to cover the instruction's latency on current x86 cores.
//
//===----------------------------------------------------------------------===//

#include "MachineLimits.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace respin::bench {
namespace {

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename F> void onThreads(int threads, F body) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back(body, t);
  body(0);
  for (std::thread &t : pool)
    t.join();
}

int64_t vnniLoop(int64_t iterations) {
  __m512i acc[16];
  for (int i = 0; i < 16; ++i)
    acc[i] = _mm512_set1_epi32(i);
  __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 16; ++i)
      acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    // Keep a and b opaque so the loop cannot be strength-reduced.
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  __m512i s = acc[0];
  for (int i = 1; i < 16; ++i)
    s = _mm512_add_epi32(s, acc[i]);
  return _mm512_reduce_add_epi32(s);
}

} // namespace

MachineLimits &limits() {
  static MachineLimits l;
  return l;
}

double measureCopyGBs(size_t bytes, int threads, int reps) {
  std::vector<uint8_t> src(bytes, 1), dst(bytes, 2);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    double t0 = seconds();
    onThreads(threads, [&](int t) {
      size_t begin = bytes * t / threads, end = bytes * (t + 1) / threads;
      std::memcpy(dst.data() + begin, src.data() + begin, end - begin);
    });
    double dt = seconds() - t0;
    best = std::max(best, 2.0 * (double)bytes / dt / 1e9);
  }
  return best;
}

double measureVnniGOPs(int threads, double duration) {
  if (!__builtin_cpu_supports("avx512vnni"))
    return 0;
  // Calibrate the iteration count on one thread, then run all threads.
  int64_t iterations = 1 << 16;
  for (;;) {
    double t0 = seconds();
    volatile int64_t sink = vnniLoop(iterations);
    (void)sink;
    if (seconds() - t0 > duration / 4 || iterations > (int64_t(1) << 34))
      break;
    iterations *= 2;
  }
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    double t0 = seconds();
    onThreads(threads, [&](int) {
      volatile int64_t sink = vnniLoop(iterations);
      (void)sink;
    });
    double dt = seconds() - t0;
    // 16 instructions x 64 u8*s8 MACs x 2 ops, per iteration per thread.
    best = std::max(best, (double)iterations * 16 * 64 * 2 * threads / dt / 1e9);
  }
  return best;
}

} // namespace respin::bench
