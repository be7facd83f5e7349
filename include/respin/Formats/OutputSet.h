//===- OutputSet.h - The files one run writes, committed together -*- C++ -*-===//
//
// A tool run that writes several files (IR, parameter archive, reports) must
// either replace all of them or none: an IR file that names an archive from
// an older run computes garbage without any error. An OutputSet stages each
// output in a temporary file next to its destination and renames them all
// into place in commit(), after everything succeeded; a run that fails (or
// an OutputSet destroyed without commit) removes its temporaries and leaves
// every existing file as it was.
//
// It also refuses outputs that would destroy what the run reads: a path that
// is (by file identity: same name, a symlink or a hard link) a file read
// through readInputFile, one registered with addInput, or another output of
// the run. Replacing an input is allowed only for the paths given to
// allowInPlace (rewriting a model in place, where the new file carries
// everything the old one held).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_OUTPUTSET_H
#define RESPIN_FORMATS_OUTPUTSET_H

#include "respin/Formats/AtomicFile.h"

#include <mutex>
#include <string>
#include <vector>

namespace respin {

class OutputSet {
public:
  OutputSet() = default;
  OutputSet(const OutputSet &) = delete;
  OutputSet &operator=(const OutputSet &) = delete;
  /// Removes the temporaries of a set that was not committed.
  ~OutputSet();

  /// Declares that the run reads `path` (in addition to the files read
  /// through readInputFile).
  void addInput(llvm::StringRef path);
  /// Allows an output to replace the input `path`.
  void allowInPlace(llvm::StringRef path);

  /// Fails, naming `path` and `role`, when an output at `path` would replace
  /// an input (not allowed in place), an output of another role, or a
  /// directory. `role` says what the output is ("IR output", "parameter
  /// archive", "report of --tfm-...").
  llvm::Error check(llvm::StringRef path, llvm::StringRef role) const;

  /// Checks `path`, then writes its contents with `write` to a temporary
  /// next to it. Writing the same path again with the same role replaces
  /// the staged contents. An existing device or FIFO at `path` (/dev/null)
  /// is written directly: there is no file to keep.
  llvm::Error write(llvm::StringRef path, llvm::StringRef role,
                    OutputWriteFn write);
  llvm::Error write(llvm::StringRef path, llvm::StringRef role,
                    llvm::StringRef text);

  /// Checks every output again (the run may have read more files since it
  /// was staged) and renames the temporaries into place. If a rename fails,
  /// the outputs already renamed are put back as they were.
  llvm::Error commit();

  /// Paths staged so far, in staging order.
  std::vector<std::string> stagedPaths() const;

private:
  struct Staged {
    std::string path;     ///< destination as given
    std::string identity; ///< normalized absolute destination
    std::string role;
    std::string tempPath;
  };
  llvm::Error checkLocked(llvm::StringRef path, llvm::StringRef identity,
                          llvm::StringRef role) const;
  void discardLocked();

  mutable std::mutex mutex;
  std::vector<std::string> inputs;
  std::vector<std::string> inPlace; ///< normalized absolute paths
  std::vector<Staged> staged;
};

/// Whether `a` and `b` name the same file: the same absolute path (with the
/// directories' symlinks resolved), or the same existing file reached through
/// another name, a symlink or a hard link.
bool isSameFile(llvm::StringRef a, llvm::StringRef b);

} // namespace respin

#endif // RESPIN_FORMATS_OUTPUTSET_H
