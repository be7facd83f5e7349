//===- RuntimeTestSupport.h - Shared helpers of the runtime tests -*- C++ -*-===//

#ifndef RESPIN_TEST_UNIT_RUNTIMETESTSUPPORT_H
#define RESPIN_TEST_UNIT_RUNTIMETESTSUPPORT_H

#include "respin/Runtime/respin_rt.h"

#include <vector>

namespace respin::testing {

/// The ISA variants this build and CPU can run.
inline std::vector<respin_rt_isa> variants() {
  std::vector<respin_rt_isa> out;
  for (respin_rt_isa isa : {RESPIN_RT_ISA_REFERENCE, RESPIN_RT_ISA_AVX2,
                            RESPIN_RT_ISA_AVX512_VNNI})
    if (respin_rt_isa_supported(isa))
      out.push_back(isa);
  return out;
}

/// Restores automatic dispatch and the default thread count after a test.
struct IsaGuard {
  ~IsaGuard() {
    respin_rt_force_isa(RESPIN_RT_ISA_AUTO);
    respin_rt_set_num_threads(2);
  }
};

} // namespace respin::testing

#endif
