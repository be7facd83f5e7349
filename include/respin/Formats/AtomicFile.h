//===- AtomicFile.h - Write files through a temporary and a rename -*- C++ -*-===//
//
// Every output respin writes (IR, parameter archives, reports) goes through
// here: the data is written to a unique temporary file next to `path`, which
// is renamed over `path` only when everything was written. A failed run
// leaves what the user had untouched. Tools that write several files stage
// them in an OutputSet (OutputSet.h), which commits them together.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_ATOMICFILE_H
#define RESPIN_FORMATS_ATOMICFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace respin {

/// Produces the contents of one output; an error discards the output.
using OutputWriteFn = llvm::function_ref<llvm::Error(llvm::raw_ostream &)>;

/// Writes `path` atomically with `write`; errors name the path.
llvm::Error writeFileAtomically(llvm::StringRef path, OutputWriteFn write);

/// Same for a string.
llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef text);

/// Writes the contents `write` produces to a new unique file next to `path`
/// ("<path>.tmp.XXXXXXXX") and returns its name. On any failure (of `write`
/// or of the file system) the temporary is removed and the error names
/// `path`.
llvm::Expected<std::string> writeTemporaryFor(llvm::StringRef path,
                                              OutputWriteFn write);

} // namespace respin

#endif // RESPIN_FORMATS_ATOMICFILE_H
