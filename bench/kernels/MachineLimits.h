//===- MachineLimits.h - Copy bandwidth and VNNI peak of this machine -*- C++ -*-===//
//
// Measured in the benchmark process itself, so kernel numbers can be quoted
// as ratios of limits taken on the same (noisy, shared) machine and moment.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_BENCH_KERNELS_MACHINELIMITS_H
#define RESPIN_BENCH_KERNELS_MACHINELIMITS_H

#include <cstddef>

namespace respin::bench {

struct MachineLimits {
  double copyGBs = 0;    // STREAM-style copy: (read + write) bytes / s
  double readGBs = 0;    // read-only streaming: bytes read / s
  double vnniGOPs = 0;   // VPDPBUSD peak, 2 ops per u8 x s8 MAC
  int threads = 1;
};

/// Copies `bytes` with `threads` threads, best of `reps` passes.
double measureCopyGBs(size_t bytes, int threads, int reps);
/// Reads (sums) a `bytes` buffer with `threads` threads, each its share,
/// with 512-bit loads (256-bit without AVX-512); best of `reps` passes.
/// The bandwidth a weight-streaming decode can at best reach.
double measureReadGBs(size_t bytes, int threads, int reps);
/// Independent VPDPBUSD chains on `threads` threads; 0 without VNNI.
double measureVnniGOPs(int threads, double seconds);

/// Filled by main() before any benchmark runs.
MachineLimits &limits();

} // namespace respin::bench

#endif // RESPIN_BENCH_KERNELS_MACHINELIMITS_H
