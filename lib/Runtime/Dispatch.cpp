//===- Dispatch.cpp - Run-time selection of the ISA variant ---------------===//
//
// Variants are compiled in separate files with their own target flags; this
// file (compiled for baseline x86-64) asks the CPU what it supports and picks
// the best table, unless a test forced one.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "ThreadPool.h"

#include <atomic>

namespace respin::rt {
namespace {

bool cpuHas(respin_rt_isa isa) {
  switch (isa) {
  case RESPIN_RT_ISA_REFERENCE:
    return true;
  case RESPIN_RT_ISA_AVX2:
#if defined(RESPIN_RT_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#else
    return false;
#endif
  case RESPIN_RT_ISA_AVX512_VNNI:
#if defined(RESPIN_RT_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("fma");
#else
    return false;
#endif
  default:
    return false;
  }
}

const KernelTable &tableFor(respin_rt_isa isa) {
  switch (isa) {
#ifdef RESPIN_RT_HAVE_AVX512
  case RESPIN_RT_ISA_AVX512_VNNI:
    return avx512Kernels();
#endif
#ifdef RESPIN_RT_HAVE_AVX2
  case RESPIN_RT_ISA_AVX2:
    return avx2Kernels();
#endif
  default:
    return referenceKernels();
  }
}

respin_rt_isa bestIsa() {
  for (respin_rt_isa isa : {RESPIN_RT_ISA_AVX512_VNNI, RESPIN_RT_ISA_AVX2})
    if (cpuHas(isa))
      return isa;
  return RESPIN_RT_ISA_REFERENCE;
}

std::atomic<int> activeIsa{-2}; // -2: not yet detected

respin_rt_isa currentIsa() {
  int isa = activeIsa.load(std::memory_order_acquire);
  if (isa == -2) {
    isa = bestIsa();
    activeIsa.store(isa, std::memory_order_release);
  }
  return (respin_rt_isa)isa;
}

} // namespace

const KernelTable &activeKernels() { return tableFor(currentIsa()); }

} // namespace respin::rt

using namespace respin::rt;

extern "C" {

const char *respin_rt_isa_name(respin_rt_isa isa) {
  switch (isa) {
  case RESPIN_RT_ISA_AUTO:
    return "auto";
  case RESPIN_RT_ISA_REFERENCE:
    return "reference";
  case RESPIN_RT_ISA_AVX2:
    return "avx2";
  case RESPIN_RT_ISA_AVX512_VNNI:
    return "avx512-vnni";
  }
  return "unknown";
}

int respin_rt_isa_supported(respin_rt_isa isa) { return cpuHas(isa) ? 1 : 0; }

respin_rt_status respin_rt_force_isa(respin_rt_isa isa) {
  if (isa == RESPIN_RT_ISA_AUTO) {
    activeIsa.store(bestIsa(), std::memory_order_release);
    return ok();
  }
  if (!cpuHas(isa))
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "ISA variant '%s' is not available on this CPU/build",
                respin_rt_isa_name(isa));
  activeIsa.store(isa, std::memory_order_release);
  return ok();
}

respin_rt_isa respin_rt_active_isa(void) { return currentIsa(); }

respin_rt_status respin_rt_set_num_threads(int num_threads) {
  if (num_threads < 1 || num_threads > 256)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "num_threads must be in [1, 256], got %d", num_threads);
  setNumThreads(num_threads);
  return ok();
}

int respin_rt_get_num_threads(void) { return numThreads(); }

} // extern "C"
