//===- AtomicFile.h - Write files through a temporary and a rename -*- C++ -*-===//
//
// Every output respin writes (IR, parameter archives, reports) goes through
// here: the data is written to a unique temporary file next to `path`, which
// is renamed over `path` only when everything was written. A failed run
// leaves what the user had untouched.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_ATOMICFILE_H
#define RESPIN_FORMATS_ATOMICFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace respin {

/// Writes `path` atomically with `write`; errors name the path.
llvm::Error writeFileAtomically(llvm::StringRef path,
                                llvm::function_ref<void(llvm::raw_ostream &)> write);

/// Same for a string.
llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef text);

} // namespace respin

#endif // RESPIN_FORMATS_ATOMICFILE_H
