//===- InputFile.h - Reading the files a run depends on --------*- C++ -*-===//
//
// Every file respin reads (IR, archives, checkpoints, tokenizers, texts)
// comes through readInputFile, which
//  - refuses anything but a regular file: reading a device such as
//    /dev/zero, or a FIFO, would never end;
//  - remembers the file's identity (device and inode), so that an OutputSet
//    can refuse to replace a file the run has read, however the output path
//    spells it (another name, a symlink, a hard link).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_INPUTFILE_H
#define RESPIN_FORMATS_INPUTFILE_H

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <optional>
#include <string>

namespace respin {

/// The contents of `path`, a regular file ("-" reads standard input). Large
/// files are mapped, not copied. `requiresNullTerminator`: the MLIR parser
/// needs a NUL after the text. Errors name the path and say what it is when
/// it is not a regular file.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readInputFile(llvm::StringRef path, bool requiresNullTerminator = false);

/// Deepest bracket nesting accepted in MLIR text. The MLIR parser recurses
/// once per nested attribute, type or region, so 100 000 nested arrays
/// overflow the stack; real models nest a dozen levels.
constexpr unsigned kMaxIRNesting = 256;

/// Fails, naming `source` with line and column, when the MLIR text nests
/// (), [], {} and <> deeper than kMaxIRNesting. Linear; string literals and
/// comments are skipped, and a '>' that closes nothing (as in "->") is not
/// a bracket.
llvm::Error checkIRNesting(llvm::StringRef text, llvm::StringRef source);

/// The path under which the file that `path` names (by identity) was read
/// through readInputFile in this process, if it was.
std::optional<std::string> findInputFile(llvm::StringRef path);

} // namespace respin

#endif // RESPIN_FORMATS_INPUTFILE_H
