//===- StoriesTestSupport.h - Helpers for tests on stories260K -*- C++ -*-===//
//
// Loading the real model from the shared data set, running its logits,
// comparing them, and running pass pipelines on its module: shared by the
// end-to-end gtests so each states only what it checks.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TEST_UNIT_STORIESTESTSUPPORT_H
#define RESPIN_TEST_UNIT_STORIESTESTSUPPORT_H

#include "respin/Executor/Session.h"
#include "respin/Formats/GGUF.h"
#include "respin/Interpreter/Evaluation.h"
#include "respin/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

namespace respin::testing {

/// A file of the shared data set.
inline std::string dataPath(llvm::StringRef relative) {
  return (llvm::Twine(RESPIN_DATA_DIR) + "/" + relative).str();
}

/// The contents of a data file ("text/tinystories-eval.txt").
inline std::string readDataText(llvm::StringRef relative) {
  auto text = llvm::MemoryBuffer::getFile(dataPath(relative));
  EXPECT_TRUE(bool(text)) << relative.str();
  return text ? (*text)->getBuffer().str() : std::string();
}

/// A runnable model from a checkpoint; failures are reported to gtest.
inline std::unique_ptr<LoadedModel> loadModel(llvm::Expected<Checkpoint> checkpoint) {
  if (!checkpoint) {
    ADD_FAILURE() << llvm::toString(checkpoint.takeError());
    return nullptr;
  }
  auto model = loadModelFromCheckpoint(std::move(*checkpoint));
  if (!model) {
    ADD_FAILURE() << llvm::toString(model.takeError());
    return nullptr;
  }
  return std::move(*model);
}

/// The real stories260K model, imported from its GGUF file.
inline std::unique_ptr<LoadedModel> loadStories() {
  return loadModel(loadGGUFCheckpoint(dataPath("models/stories260K.gguf")));
}

/// The first `count` tokens of the evaluation text under the protocol.
inline std::vector<int32_t> evalTokens(const LoadedModel &model, size_t count) {
  auto tokens = tokenizeStories(*model.tokenizer,
                                readDataText("text/tinystories-eval.txt"));
  EXPECT_TRUE(bool(tokens));
  if (!tokens)
    return {};
  tokens->resize(std::min(count, tokens->size()));
  return *tokens;
}

/// Logits of `tokens` from a fresh session.
inline exec::RowMatrix logitsOf(const LoadedModel &model,
                                llvm::ArrayRef<int32_t> tokens) {
  exec::Session session(model.program);
  auto logits = session.forward(tokens);
  EXPECT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
  return logits ? std::move(*logits) : exec::RowMatrix();
}

/// max |a - b| / max |a|, the exactness measure of EVALUATION.md.
inline double relativeDifference(const exec::RowMatrix &a,
                                 const exec::RowMatrix &b) {
  return (a - b).cwiseAbs().maxCoeff() / a.cwiseAbs().maxCoeff();
}

/// Runs a textual pass pipeline ("tfm-fuse-norms,tfm-fold-rotations") on
/// the model's module and rebuilds its program.
inline ::testing::AssertionResult runPipeline(LoadedModel &model,
                                              llvm::StringRef pipeline) {
  static bool registered = [] {
    mlir::tfm::registerTfmPasses();
    return true;
  }();
  (void)registered;
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  mlir::PassManager pm(model.context.get(), "builtin.module");
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm, errorStream)))
    return ::testing::AssertionFailure() << "bad pipeline: " << errors;
  mlir::ScopedDiagnosticHandler handler(
      model.context.get(), [&](mlir::Diagnostic &diagnostic) {
        errorStream << diagnostic.str() << "\n";
        return mlir::success();
      });
  if (mlir::failed(pm.run(*model.module)))
    return ::testing::AssertionFailure() << pipeline.str() << ": " << errors;
  if (llvm::Error error = rebuildProgram(model))
    return ::testing::AssertionFailure() << llvm::toString(std::move(error));
  return ::testing::AssertionSuccess();
}

} // namespace respin::testing

#endif // RESPIN_TEST_UNIT_STORIESTESTSUPPORT_H
