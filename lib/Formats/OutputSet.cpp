//===- OutputSet.cpp - The files one run writes, committed together -------===//

#include "respin/Formats/OutputSet.h"
#include "FormatSupport.h"
#include "respin/Formats/InputFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace respin;
namespace fs = llvm::sys::fs;

namespace {
/// An absolute spelling of `path` with its directory's symlinks resolved, so
/// that two spellings of one destination compare equal before it exists.
std::string normalizedPath(llvm::StringRef path) {
  llvm::SmallString<256> absolute(path);
  fs::make_absolute(absolute);
  llvm::sys::path::remove_dots(absolute, /*remove_dot_dot=*/true);
  llvm::SmallString<256> directory(llvm::sys::path::parent_path(absolute));
  llvm::SmallString<256> real;
  if (!directory.empty() && !fs::real_path(directory, real)) {
    llvm::sys::path::append(real, llvm::sys::path::filename(absolute));
    return std::string(real);
  }
  return std::string(absolute);
}

bool isSpecialFile(fs::file_type type) {
  return type == fs::file_type::character_file ||
         type == fs::file_type::block_file || type == fs::file_type::fifo_file ||
         type == fs::file_type::socket_file;
}

llvm::Error outputError(llvm::StringRef path, llvm::StringRef role,
                        const llvm::Twine &what) {
  return makeError(path + " (" + role + "): " + what);
}
} // namespace

bool respin::isSameFile(llvm::StringRef a, llvm::StringRef b) {
  if (normalizedPath(a) == normalizedPath(b))
    return true;
  fs::UniqueID idA, idB;
  return !fs::getUniqueID(a, idA) && !fs::getUniqueID(b, idB) && idA == idB;
}

OutputSet::~OutputSet() {
  std::lock_guard<std::mutex> lock(mutex);
  discardLocked();
}

void OutputSet::discardLocked() {
  for (const Staged &output : staged)
    if (!output.tempPath.empty())
      fs::remove(output.tempPath);
  staged.clear();
}

void OutputSet::addInput(llvm::StringRef path) {
  std::lock_guard<std::mutex> lock(mutex);
  inputs.push_back(path.str());
}

void OutputSet::allowInPlace(llvm::StringRef path) {
  std::lock_guard<std::mutex> lock(mutex);
  inPlace.push_back(path.str());
}

llvm::Error OutputSet::check(llvm::StringRef path,
                             llvm::StringRef role) const {
  std::lock_guard<std::mutex> lock(mutex);
  return checkLocked(path, normalizedPath(path), role);
}

llvm::Error OutputSet::checkLocked(llvm::StringRef path,
                                   llvm::StringRef identity,
                                   llvm::StringRef role) const {
  fs::file_status status;
  bool exists = !fs::status(path, status);
  if (exists && status.type() == fs::file_type::directory_file)
    return outputError(path, role, "is a directory");
  for (const Staged &other : staged)
    if (other.role != role &&
        (other.identity == identity || isSameFile(other.path, path)))
      return outputError(path, role,
                         "is also the " + other.role +
                             " of this run; give the outputs different names");
  bool replaceable = llvm::any_of(
      inPlace, [&](const std::string &allowed) { return isSameFile(allowed, path); });
  if (replaceable || !exists)
    return llvm::Error::success();
  std::optional<std::string> input = findInputFile(path);
  if (!input)
    for (const std::string &declared : inputs)
      if (isSameFile(declared, path))
        input = declared;
  if (input)
    return outputError(path, role,
                       "would overwrite " +
                           (*input == path ? std::string("a file")
                                           : "the file " + *input) +
                           " that this run reads; write to another file");
  return llvm::Error::success();
}

llvm::Error OutputSet::write(llvm::StringRef path, llvm::StringRef role,
                             OutputWriteFn write) {
  std::lock_guard<std::mutex> lock(mutex);
  std::string identity = normalizedPath(path);
  if (llvm::Error error = checkLocked(path, identity, role))
    return error;
  fs::file_status status;
  if (!fs::status(path, status) && isSpecialFile(status.type())) {
    // /dev/null, a FIFO: nothing to keep, nothing to rename over.
    std::error_code ec;
    llvm::raw_fd_ostream stream(path, ec, fs::OF_None);
    if (ec)
      return outputError(path, role, "cannot open: " + ec.message());
    if (llvm::Error error = write(stream))
      return error;
    stream.close();
    if (stream.has_error()) {
      std::error_code writeError = stream.error();
      stream.clear_error();
      return outputError(path, role, "write failed: " + writeError.message());
    }
    staged.push_back({path.str(), identity, role.str(), ""});
    return llvm::Error::success();
  }
  llvm::Expected<std::string> tempPath = writeTemporaryFor(path, write);
  if (!tempPath)
    return tempPath.takeError();
  // The same output staged again (e.g. once per -split-input-file chunk):
  // the latest contents win.
  for (Staged &output : staged)
    if (output.identity == identity && output.role == role) {
      if (!output.tempPath.empty())
        fs::remove(output.tempPath);
      output.tempPath = *tempPath;
      return llvm::Error::success();
    }
  staged.push_back({path.str(), identity, role.str(), *tempPath});
  return llvm::Error::success();
}

llvm::Error OutputSet::write(llvm::StringRef path, llvm::StringRef role,
                             llvm::StringRef text) {
  return write(path, role, [&](llvm::raw_ostream &os) {
    os << text;
    return llvm::Error::success();
  });
}

std::vector<std::string> OutputSet::stagedPaths() const {
  std::lock_guard<std::mutex> lock(mutex);
  std::vector<std::string> paths;
  for (const Staged &output : staged)
    paths.push_back(output.path);
  return paths;
}

namespace {
/// The previous contents of a destination while the set is renamed into
/// place: a hard link to them, or nothing when there was no file (or the
/// file system has no hard links; then that one output cannot be restored).
struct Backup {
  bool existed = false;
  std::string link;
};

Backup linkBackup(llvm::StringRef path) {
  Backup backup;
  fs::file_status status;
  if (fs::status(path, status) ||
      status.type() != fs::file_type::regular_file)
    return backup;
  backup.existed = true;
  for (int attempt = 0; attempt < 8 && backup.link.empty(); ++attempt) {
    llvm::SmallString<256> link;
    fs::createUniquePath(path + ".bak.%%%%%%%%", link, /*MakeAbsolute=*/false);
    if (!fs::create_hard_link(path, link))
      backup.link = std::string(link);
  }
  return backup;
}
} // namespace

llvm::Error OutputSet::commit() {
  std::lock_guard<std::mutex> lock(mutex);
  for (const Staged &output : staged)
    if (llvm::Error error =
            checkLocked(output.path, output.identity, output.role)) {
      discardLocked();
      return error;
    }

  std::vector<Backup> backups;
  for (const Staged &output : staged)
    backups.push_back(output.tempPath.empty() ? Backup()
                                              : linkBackup(output.path));
  std::string failure;
  size_t renamed = 0;
  for (; renamed < staged.size(); ++renamed) {
    const Staged &output = staged[renamed];
    if (output.tempPath.empty())
      continue;
    if (std::error_code ec = fs::rename(output.tempPath, output.path)) {
      failure = output.path + " (" + output.role +
                "): cannot rename the temporary file into place: " +
                ec.message() + "; the other outputs were left as they were";
      break;
    }
  }
  if (!failure.empty()) {
    // Put back what was already replaced.
    for (size_t i = 0; i < renamed; ++i) {
      const Staged &output = staged[i];
      if (output.tempPath.empty())
        continue;
      if (!backups[i].link.empty())
        fs::rename(backups[i].link, output.path);
      else if (!backups[i].existed)
        fs::remove(output.path);
    }
    for (size_t i = renamed; i < staged.size(); ++i)
      if (!staged[i].tempPath.empty())
        fs::remove(staged[i].tempPath);
  }
  for (const Backup &backup : backups)
    if (!backup.link.empty())
      fs::remove(backup.link); // gone already where it was renamed back
  staged.clear();
  return failure.empty() ? llvm::Error::success() : makeError(failure);
}
