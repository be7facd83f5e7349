//===- FormatSupport.h - Helpers shared by the format readers --*- C++ -*-===//
//
// Private to lib/Formats.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_LIB_FORMATS_FORMATSUPPORT_H
#define RESPIN_LIB_FORMATS_FORMATSUPPORT_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace respin {

/// An error carrying `message` (which names the file and what is wrong).
inline llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Stores an optional field's value in `out` when present, propagating
/// errors of reading it.
template <typename T, typename U>
llvm::Error assignIfPresent(llvm::Expected<std::optional<T>> value, U &out) {
  if (!value)
    return value.takeError();
  if (*value)
    out = **value;
  return llvm::Error::success();
}

} // namespace respin

#endif // RESPIN_LIB_FORMATS_FORMATSUPPORT_H
