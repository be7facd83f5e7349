//===- AtomicFile.cpp - Write files through a temporary and a rename ------===//

#include "respin/Formats/AtomicFile.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

namespace respin {

static llvm::Error fileError(llvm::StringRef path, const llvm::Twine &what,
                             std::error_code ec) {
  return llvm::createStringError(ec, "%s: %s: %s", path.str().c_str(),
                                 what.str().c_str(), ec.message().c_str());
}

llvm::Error
writeFileAtomically(llvm::StringRef path,
                    llvm::function_ref<void(llvm::raw_ostream &)> write) {
  int fd = -1;
  llvm::SmallString<256> tempPath;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueFile(path + ".tmp.%%%%%%%%", fd, tempPath))
    return fileError(path, "cannot create a temporary file", ec);
  {
    llvm::raw_fd_ostream stream(fd, /*shouldClose=*/true);
    write(stream);
    stream.close();
    if (stream.has_error()) {
      std::error_code ec = stream.error();
      stream.clear_error(); // otherwise the stream aborts in its destructor
      llvm::sys::fs::remove(tempPath);
      return fileError(path, "write failed", ec);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tempPath, path)) {
    llvm::sys::fs::remove(tempPath);
    return fileError(path, "cannot rename the temporary file into place", ec);
  }
  return llvm::Error::success();
}

llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef text) {
  return writeFileAtomically(path,
                             [&](llvm::raw_ostream &stream) { stream << text; });
}

} // namespace respin
