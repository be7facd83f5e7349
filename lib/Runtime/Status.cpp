//===- Status.cpp - Status strings and the thread's last error ------------===//
//
// Errors are values; the detail message lives in a thread-local buffer so
// concurrent callers do not see each other's messages.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cstdarg>
#include <cstdio>

namespace {
thread_local char lastError[512] = "";
} // namespace

namespace respin::rt {

respin_rt_status fail(respin_rt_status status, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(lastError, sizeof(lastError), fmt, args);
  va_end(args);
  return status;
}

respin_rt_status ok() {
  lastError[0] = '\0';
  return RESPIN_RT_OK;
}

} // namespace respin::rt

extern "C" {

uint32_t respin_rt_abi_version(void) { return RESPIN_RT_ABI_VERSION; }

const char *respin_rt_status_string(respin_rt_status status) {
  switch (status) {
  case RESPIN_RT_OK:
    return "ok";
  case RESPIN_RT_ERR_INVALID_ARGUMENT:
    return "invalid argument";
  case RESPIN_RT_ERR_UNSUPPORTED:
    return "unsupported";
  case RESPIN_RT_ERR_BUFFER_TOO_SMALL:
    return "buffer too small";
  case RESPIN_RT_ERR_BAD_PACKED:
    return "bad packed weights";
  }
  return "unknown status";
}

const char *respin_rt_last_error(void) { return lastError; }

} // extern "C"
