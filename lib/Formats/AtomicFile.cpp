//===- AtomicFile.cpp - Write files through a temporary and a rename ------===//

#include "respin/Formats/AtomicFile.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include <cerrno>
#include <unistd.h>

namespace respin {

static llvm::Error fileError(llvm::StringRef path, const llvm::Twine &what,
                             std::error_code ec) {
  return llvm::createStringError(ec, "%s: %s: %s", path.str().c_str(),
                                 what.str().c_str(), ec.message().c_str());
}

llvm::Expected<std::string> writeTemporaryFor(llvm::StringRef path,
                                              OutputWriteFn write) {
  int fd = -1;
  llvm::SmallString<256> tempPath;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueFile(path + ".tmp.%%%%%%%%", fd, tempPath))
    return fileError(path, "cannot create a temporary file", ec);
  llvm::raw_fd_ostream stream(fd, /*shouldClose=*/true);
  llvm::Error written = write(stream);
  // On disk before the rename, so that a crash cannot leave an empty file
  // under the final name.
  stream.flush();
  std::error_code syncError;
  if (!written && !stream.has_error() && ::fsync(fd) != 0)
    syncError = std::error_code(errno, std::generic_category());
  stream.close();
  if (written || stream.has_error() || syncError) {
    std::error_code ec = stream.has_error() ? stream.error() : syncError;
    stream.clear_error(); // otherwise the stream aborts in its destructor
    llvm::sys::fs::remove(tempPath);
    if (written)
      return std::move(written);
    return fileError(path, "write failed", ec);
  }
  return std::string(tempPath);
}

llvm::Error writeFileAtomically(llvm::StringRef path, OutputWriteFn write) {
  llvm::Expected<std::string> tempPath = writeTemporaryFor(path, write);
  if (!tempPath)
    return tempPath.takeError();
  if (std::error_code ec = llvm::sys::fs::rename(*tempPath, path)) {
    llvm::sys::fs::remove(*tempPath);
    return fileError(path, "cannot rename the temporary file into place", ec);
  }
  return llvm::Error::success();
}

llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef text) {
  return writeFileAtomically(path, [&](llvm::raw_ostream &stream) {
    stream << text;
    return llvm::Error::success();
  });
}

} // namespace respin
