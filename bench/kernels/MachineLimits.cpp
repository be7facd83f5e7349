//===- MachineLimits.cpp - Copy/read bandwidth and VNNI peak loops --------===//
//
// Copy: each thread memcpy's its half of a buffer far larger than the L3.
// Read: each thread sums its share of such a buffer with vector loads.
// Peak: each thread runs 16 independent VPDPBUSD accumulator chains, enough
// to cover the instruction's latency on current x86 cores.
//
//===----------------------------------------------------------------------===//

#include "MachineLimits.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
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

/// Sums [begin, end) as 64-bit lanes; four accumulators hide the add latency.
__attribute__((target("avx512f"))) uint64_t readAvx512(const uint8_t *begin,
                                                       const uint8_t *end) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const uint8_t *p = begin;
  for (; p + 256 <= end; p += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512((const void *)p));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512((const void *)(p + 64)));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512((const void *)(p + 128)));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512((const void *)(p + 192)));
  }
  a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  uint64_t sum = (uint64_t)_mm512_reduce_add_epi64(a0);
  for (; p < end; ++p)
    sum += *p;
  return sum;
}

__attribute__((target("avx2"))) uint64_t readAvx2(const uint8_t *begin,
                                                  const uint8_t *end) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  const uint8_t *p = begin;
  for (; p + 128 <= end; p += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)p));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + 96)));
  }
  a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256((__m256i *)lanes, a0);
  uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; p < end; ++p)
    sum += *p;
  return sum;
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

double measureReadGBs(size_t bytes, int threads, int reps) {
  // 4 KiB-aligned, touched once so the pages exist before timing.
  bytes = std::max<size_t>(bytes / 4096, 1) * 4096;
  uint8_t *buffer = static_cast<uint8_t *>(std::aligned_alloc(4096, bytes));
  if (!buffer)
    return 0;
  std::memset(buffer, 1, bytes);
  bool avx512 = __builtin_cpu_supports("avx512f");
  std::vector<uint64_t> sums(threads);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    double t0 = seconds();
    onThreads(threads, [&](int t) {
      // Shares on 256-byte boundaries keep the aligned loads aligned.
      size_t blocks = bytes / 256;
      const uint8_t *begin = buffer + blocks * t / threads * 256;
      const uint8_t *end = t + 1 == threads
                               ? buffer + bytes
                               : buffer + blocks * (t + 1) / threads * 256;
      sums[t] = avx512 ? readAvx512(begin, end) : readAvx2(begin, end);
    });
    double dt = seconds() - t0;
    best = std::max(best, (double)bytes / dt / 1e9);
  }
  volatile uint64_t sink = 0;
  for (uint64_t s : sums)
    sink = sink + s;
  std::free(buffer);
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
