//===- OutputSetTest.cpp - Staged outputs, input protection, faults -------===//
//
// The OutputSet commits all outputs of a run or none, refuses outputs that
// alias an input or each other (by name, symlink or hard link), and leaves
// the previous files byte-identical when a write fails midway: the disk-full
// case is produced for real with RLIMIT_FSIZE (write(2) then fails with
// EFBIG), not simulated in the writer.
//
//===----------------------------------------------------------------------===//

#include "FormatsTestUtil.h"

#include "respin/Formats/InputFile.h"
#include "respin/Formats/OutputSet.h"
#include "respin/Formats/ParameterArchive.h"

#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace respin;
using namespace respin::test;

namespace {
llvm::Error writeText(OutputSet &outputs, const std::string &path,
                      llvm::StringRef role, llvm::StringRef text) {
  return outputs.write(path, role, text);
}

/// Names in `dir` that look like temporaries or backups of the set.
std::vector<std::string> leftovers(const TempDir &dir) {
  std::vector<std::string> result;
  for (const std::string &name : dir.list())
    if (llvm::StringRef(name).contains(".tmp.") ||
        llvm::StringRef(name).contains(".bak."))
      result.push_back(name);
  return result;
}

/// Lowers the file size limit for its lifetime, with SIGXFSZ ignored so that
/// an oversized write fails with EFBIG instead of killing the process.
class FileSizeLimit {
public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved);
    previousHandler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved;
    limit.rlim_cur = bytes;
    active = setrlimit(RLIMIT_FSIZE, &limit) == 0;
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previousHandler);
  }
  bool isActive() const { return active; }

private:
  rlimit saved{};
  void (*previousHandler)(int) = nullptr;
  bool active = false;
};
} // namespace

TEST(OutputSet, CommitReplacesEveryOutput) {
  TempDir dir;
  writeFile(dir.file("a.txt"), "old a");
  OutputSet outputs;
  ASSERT_FALSE(writeText(outputs, dir.file("a.txt"), "first", "new a"));
  ASSERT_FALSE(writeText(outputs, dir.file("b.txt"), "second", "new b"));
  // Nothing is visible before the commit.
  EXPECT_EQ(readFile(dir.file("a.txt")), "old a");
  EXPECT_FALSE(llvm::sys::fs::exists(dir.file("b.txt")));
  ASSERT_FALSE(outputs.commit());
  EXPECT_EQ(readFile(dir.file("a.txt")), "new a");
  EXPECT_EQ(readFile(dir.file("b.txt")), "new b");
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(OutputSet, AbandonedSetLeavesEverythingAsItWas) {
  TempDir dir;
  writeFile(dir.file("a.txt"), "old a");
  {
    OutputSet outputs;
    ASSERT_FALSE(writeText(outputs, dir.file("a.txt"), "first", "new a"));
    ASSERT_FALSE(writeText(outputs, dir.file("b.txt"), "second", "new b"));
  } // a later step of the run failed: no commit
  EXPECT_EQ(readFile(dir.file("a.txt")), "old a");
  EXPECT_FALSE(llvm::sys::fs::exists(dir.file("b.txt")));
  EXPECT_EQ(dir.list(), std::vector<std::string>{"a.txt"});
}

TEST(OutputSet, WriterErrorDiscardsThatOutput) {
  TempDir dir;
  writeFile(dir.file("a.txt"), "old a");
  OutputSet outputs;
  llvm::Error error =
      outputs.write(dir.file("a.txt"), "report", [](llvm::raw_ostream &os) {
        os << "half";
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "encoder failed");
      });
  EXPECT_EQ(errorText(std::move(error)), "encoder failed");
  EXPECT_EQ(readFile(dir.file("a.txt")), "old a");
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(OutputSet, RefusesFilesTheRunRead) {
  TempDir dir;
  writeFile(dir.file("model.bin"), "weights");
  ASSERT_TRUE(bool(readInputFile(dir.file("model.bin"))));
  ASSERT_EQ(llvm::sys::fs::create_link(dir.file("model.bin"),
                                       dir.file("symlink.bin")),
            std::error_code());
  ASSERT_EQ(llvm::sys::fs::create_hard_link(dir.file("model.bin"),
                                            dir.file("hardlink.bin")),
            std::error_code());
  ASSERT_FALSE(llvm::sys::fs::create_directory(dir.file("sub")));
  llvm::SmallString<256> dotted(dir.path);
  llvm::sys::path::append(dotted, "sub", "..", "model.bin");
  for (const std::string &alias :
       {dir.file("model.bin"), dir.file("symlink.bin"),
        dir.file("hardlink.bin"), std::string(dotted)}) {
    OutputSet outputs;
    std::string error =
        errorText(writeText(outputs, alias, "IR output", "text"));
    EXPECT_NE(error.find("would overwrite"), std::string::npos) << alias;
    EXPECT_NE(error.find("model.bin"), std::string::npos) << error;
    EXPECT_NE(error.find("IR output"), std::string::npos) << error;
  }
  EXPECT_EQ(readFile(dir.file("model.bin")), "weights");
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(OutputSet, RefusesDeclaredInputsUnlessInPlace) {
  TempDir dir;
  writeFile(dir.file("m.mlir"), "old ir");
  OutputSet refused;
  refused.addInput(dir.file("m.mlir"));
  EXPECT_NE(errorText(refused.check(dir.file("m.mlir"), "IR output"))
                .find("would overwrite"),
            std::string::npos);

  OutputSet inPlace;
  inPlace.addInput(dir.file("m.mlir"));
  inPlace.allowInPlace(dir.file("m.mlir"));
  ASSERT_FALSE(writeText(inPlace, dir.file("m.mlir"), "IR output", "new ir"));
  ASSERT_FALSE(inPlace.commit());
  EXPECT_EQ(readFile(dir.file("m.mlir")), "new ir");
}

TEST(OutputSet, OutputsOfDifferentRolesMustDiffer) {
  TempDir dir;
  OutputSet outputs;
  ASSERT_FALSE(writeText(outputs, dir.file("r.safetensors"),
                         "parameter archive", "archive"));
  std::string error = errorText(writeText(
      outputs, dir.file("r.safetensors"), "report of --tfm-x", "report"));
  EXPECT_NE(error.find("is also the parameter archive"), std::string::npos)
      << error;
  // The same output written again (one per input chunk): the last wins.
  ASSERT_FALSE(writeText(outputs, dir.file("r.safetensors"),
                         "parameter archive", "archive 2"));
  ASSERT_FALSE(outputs.commit());
  EXPECT_EQ(readFile(dir.file("r.safetensors")), "archive 2");
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(OutputSet, RefusesDirectories) {
  TempDir dir;
  ASSERT_FALSE(llvm::sys::fs::create_directory(dir.file("out")));
  OutputSet outputs;
  EXPECT_NE(errorText(writeText(outputs, dir.file("out"), "IR output", "x"))
                .find("is a directory"),
            std::string::npos);
}

TEST(OutputSet, WritesFifosDirectly) {
  TempDir dir;
  std::string fifo = dir.file("pipe");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = readFile(fifo); });
  OutputSet outputs;
  llvm::Error error = writeText(outputs, fifo, "IR output", "streamed");
  if (error) // unblock the reader before failing
    writeFile(fifo, "");
  EXPECT_EQ(errorText(std::move(error)), "");
  EXPECT_FALSE(outputs.commit());
  reader.join();
  EXPECT_EQ(received, "streamed");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"pipe"});
}

TEST(OutputSet, FailedRenameRestoresTheOutputsAlreadyReplaced) {
  TempDir dir;
  writeFile(dir.file("a.txt"), "old a");
  writeFile(dir.file("b.txt"), "old b");
  OutputSet outputs;
  ASSERT_FALSE(writeText(outputs, dir.file("a.txt"), "first", "new a"));
  ASSERT_FALSE(writeText(outputs, dir.file("b.txt"), "second", "new b"));
  // Make the second rename fail: its temporary disappears (a cleaner ran).
  for (const std::string &name : dir.list())
    if (llvm::StringRef(name).starts_with("b.txt.tmp."))
      ASSERT_FALSE(llvm::sys::fs::remove(dir.file(name)));
  std::string error = errorText(outputs.commit());
  EXPECT_NE(error.find("b.txt"), std::string::npos) << error;
  EXPECT_NE(error.find("cannot rename"), std::string::npos) << error;
  EXPECT_EQ(readFile(dir.file("a.txt")), "old a");
  EXPECT_EQ(readFile(dir.file("b.txt")), "old b");
  EXPECT_TRUE(leftovers(dir).empty());
}

// A disk that fills up while the archive is written: the write of the big
// file fails midway with EFBIG; the IR and archive of the previous run stay
// byte-identical and no temporary is left behind.
TEST(OutputSet, DiskFullMidwayKeepsThePreviousOutputs) {
  TempDir dir;
  Checkpoint checkpoint;
  checkpoint.config.hiddenSize = 4;
  std::vector<float> values(64 * 1024, 0.5f); // 256 KiB of tensor data
  checkpoint.tensors["w"] = TensorView{
      "w", DType::F32, {256, 256}, reinterpret_cast<uint8_t *>(values.data()),
      values.size() * sizeof(float)};
  ASSERT_FALSE(writeParameterArchive(checkpoint, dir.file("r.safetensors")));
  writeFile(dir.file("r.mlir"), "previous ir");
  std::string previousArchive = readFile(dir.file("r.safetensors"));

  values.assign(values.size(), 0.25f);
  {
    FileSizeLimit limit(64 * 1024); // the archive needs 256 KiB
    ASSERT_TRUE(limit.isActive());
    OutputSet outputs;
    ASSERT_FALSE(writeText(outputs, dir.file("r.mlir"), "IR output", "new"));
    std::string error = errorText(
        writeParameterArchive(checkpoint, dir.file("r.safetensors"), &outputs));
    EXPECT_NE(error.find("r.safetensors"), std::string::npos) << error;
    EXPECT_NE(error.find("write failed"), std::string::npos) << error;
    // The tool stops here; the set is destroyed without commit.
  }
  EXPECT_EQ(readFile(dir.file("r.mlir")), "previous ir");
  EXPECT_EQ(readFile(dir.file("r.safetensors")), previousArchive);
  EXPECT_TRUE(leftovers(dir).empty());
}
