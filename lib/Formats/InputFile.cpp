//===- InputFile.cpp - Reading the files a run depends on -----------------===//

#include "respin/Formats/InputFile.h"
#include "FormatSupport.h"

#include "llvm/Support/FileSystem.h"

#include <map>
#include <vector>
#include <mutex>

using namespace respin;
namespace fs = llvm::sys::fs;

namespace {
/// Identities of the files read so far, with the path each was read under.
class InputRegistry {
public:
  static InputRegistry &get() {
    static InputRegistry registry;
    return registry;
  }
  void add(fs::UniqueID id, llvm::StringRef path) {
    std::lock_guard<std::mutex> lock(mutex);
    files[id] = path.str(); // the latest name: an inode may be reused
  }
  std::optional<std::string> find(fs::UniqueID id) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = files.find(id);
    if (it == files.end())
      return std::nullopt;
    return it->second;
  }

private:
  std::mutex mutex;
  std::map<fs::UniqueID, std::string> files;
};

const char *describe(fs::file_type type) {
  switch (type) {
  case fs::file_type::directory_file:
    return "a directory";
  case fs::file_type::block_file:
    return "a block device";
  case fs::file_type::character_file:
    return "a character device";
  case fs::file_type::fifo_file:
    return "a FIFO";
  case fs::file_type::socket_file:
    return "a socket";
  default:
    return "not a regular file";
  }
}

llvm::Error notRegular(llvm::StringRef path, fs::file_type type) {
  return makeError(path + ": is " + describe(type) +
                   ", not a regular file (respin reads only regular files)");
}
} // namespace

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
respin::readInputFile(llvm::StringRef path, bool requiresNullTerminator) {
  if (path == "-") {
    auto buffer = llvm::MemoryBuffer::getSTDIN();
    if (!buffer)
      return makeError("<stdin>: cannot read: " + buffer.getError().message());
    return std::move(*buffer);
  }
  // Look before opening: opening a FIFO for reading blocks until a writer
  // appears.
  fs::file_status status;
  if (std::error_code ec = fs::status(path, status))
    return makeError(path + ": cannot open: " + ec.message());
  if (status.type() != fs::file_type::regular_file)
    return notRegular(path, status.type());

  llvm::Expected<fs::file_t> file = fs::openNativeFileForRead(path);
  if (!file)
    return makeError(path + ": cannot open: " + toString(file.takeError()));
  // The file may have been replaced since: check what was opened.
  std::error_code ec = fs::status(*file, status);
  if (!ec && status.type() != fs::file_type::regular_file) {
    fs::closeFile(*file);
    return notRegular(path, status.type());
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      ec ? llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>>(ec)
         : llvm::MemoryBuffer::getOpenFile(*file, path, status.getSize(),
                                           requiresNullTerminator);
  fs::closeFile(*file);
  if (!buffer)
    return makeError(path + ": cannot read: " + buffer.getError().message());
  InputRegistry::get().add(status.getUniqueID(), path);
  return std::move(*buffer);
}

llvm::Error respin::checkIRNesting(llvm::StringRef text,
                                   llvm::StringRef source) {
  std::vector<char> open; // the unclosed brackets, innermost last
  size_t line = 1, lineStart = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    switch (c) {
    case '\n':
      ++line;
      lineStart = i + 1;
      break;
    case '"': // a string literal: skip it, escapes included
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\')
          ++i;
      break;
    case '/':
      if (i + 1 < text.size() && text[i + 1] == '/')
        while (i + 1 < text.size() && text[i + 1] != '\n')
          ++i;
      break;
    case '(':
    case '[':
    case '{':
    case '<':
      open.push_back(c);
      if (open.size() > kMaxIRNesting)
        return makeError(source + ":" + llvm::Twine(line) + ":" +
                         llvm::Twine(i - lineStart + 1) +
                         ": brackets nest deeper than " +
                         llvm::Twine(kMaxIRNesting) + " levels");
      break;
    case '>':
      if (!open.empty() && open.back() == '<')
        open.pop_back();
      break;
    case ')':
    case ']':
    case '}':
      while (!open.empty() && open.back() == '<')
        open.pop_back(); // an unclosed '<' was a comparison, not a bracket
      if (!open.empty())
        open.pop_back();
      break;
    default:
      break;
    }
  }
  return llvm::Error::success();
}

std::optional<std::string> respin::findInputFile(llvm::StringRef path) {
  fs::UniqueID id, recordedId;
  if (fs::getUniqueID(path, id))
    return std::nullopt;
  std::optional<std::string> recorded = InputRegistry::get().find(id);
  // An input deleted since may have handed its inode number to a new file:
  // it is the same file only if the recorded name still leads to it.
  if (!recorded || fs::getUniqueID(*recorded, recordedId) || recordedId != id)
    return std::nullopt;
  return recorded;
}
