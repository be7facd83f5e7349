//===- CompiledModelTest.cpp - Compiled stories260K vs the executor -------===//
//
// stories260K goes through the real tools (respin-translate, respin-opt,
// respin-compile --emit=shared); the shared object is loaded with dlopen and
// run through its C ABI, and compared with the reference executor on the
// very IR it was compiled from: perplexity on the full evaluation text,
// logits on a few windows, greedy text, decode against prefill, and the
// loader's refusals of bad weights files.
//
//===----------------------------------------------------------------------===//

#include "StoriesTestSupport.h"

#include "respin/Interpreter/CompiledModel.h"
#include "respin/Runtime/respin_model.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

using namespace respin;
using namespace respin::testing;

namespace {

int runTool(const std::string &tool, std::vector<std::string> args) {
  std::string path = std::string(RESPIN_TOOLS_DIR) + "/" + tool;
  args.insert(args.begin(), path);
  std::vector<llvm::StringRef> argv(args.begin(), args.end());
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(path, argv, std::nullopt, {}, 0, 0,
                                     &message);
  if (rc != 0) {
    std::string line;
    for (const std::string &arg : args)
      line += arg + " ";
    ADD_FAILURE() << line << "exited with " << rc << " " << message;
  }
  return rc;
}

/// One compiled configuration of stories260K in its own directory.
struct CompiledStories {
  std::string dir, name, ir, object, weights;
  std::unique_ptr<LoadedModel> reference;
  std::unique_ptr<CompiledLibrary> library;

  bool build(const std::string &configName,
             const std::vector<std::string> &passes) {
    name = configName;
    llvm::SmallString<128> tmp;
    if (llvm::sys::fs::createUniqueDirectory("respin-compiled-" + name, tmp))
      return false;
    dir = std::string(tmp);
    std::string imported = dir + "/m.mlir";
    ir = passes.empty() ? imported : dir + "/q.mlir";
    object = dir + "/" + name + ".so";
    weights = dir + "/" + name + ".weights.safetensors";
    if (runTool("respin-translate",
                {"--import-gguf", dataPath("models/stories260K.gguf"), "-o",
                 imported}))
      return false;
    if (!passes.empty()) {
      std::vector<std::string> args = {imported};
      args.insert(args.end(), passes.begin(), passes.end());
      args.insert(args.end(), {"-o", ir});
      if (runTool("respin-opt", args))
        return false;
    }
    if (runTool("respin-compile", {ir, "-o", object, "--emit=shared",
                                   "--name", name, "-q"}))
      return false;
    auto loaded = loadModelFile(ir);
    if (!loaded) {
      ADD_FAILURE() << llvm::toString(loaded.takeError());
      return false;
    }
    reference = std::move(*loaded);
    auto opened = CompiledLibrary::open(object, name);
    if (!opened) {
      ADD_FAILURE() << llvm::toString(opened.takeError());
      return false;
    }
    library = std::move(*opened);
    return true;
  }

  ~CompiledStories() {
    if (!dir.empty())
      llvm::sys::fs::remove_directories(dir);
  }

  respin_model *context(int64_t maxSeq = 512) const {
    respin_model *model = nullptr;
    respin_model_status status = library->create(
        library->manifest, library->forward, weights.c_str(), maxSeq, &model);
    EXPECT_EQ(status, RESPIN_MODEL_OK) << library->lastError();
    return model;
  }

  /// Logits of `tokens` from position 0 of a fresh sequence.
  exec::RowMatrix compiledLogits(respin_model *model,
                                 llvm::ArrayRef<int32_t> tokens) const {
    int64_t vocab = reference->program.vocabSize;
    exec::RowMatrix logits(int64_t(tokens.size()), vocab);
    library->reset(model);
    EXPECT_EQ(library->prefill(model, tokens.data(), int64_t(tokens.size()),
                              logits.data()),
              RESPIN_MODEL_OK)
        << library->lastError();
    return logits;
  }
};

struct Config {
  const char *name;
  std::vector<std::string> passes;
  /// Bound on max|dlogit|/max|logit| over two windows. Float paths differ
  /// from the executor only by float accumulation order (K <= 256 terms at
  /// 2^-24 each, a few ulps of the largest logit); quantized paths add code
  /// flips: an activation within an ulp of a rounding boundary rounds the
  /// other way in one implementation, and one step of a 4-bit code moves a
  /// logit by up to ~10% of its range, so they are bounded loosely here and
  /// judged by perplexity.
  double logitBound;
  bool greedyIdentical;
};

void PrintTo(const Config &config, std::ostream *os) { *os << config.name; }

std::string calibFile() { return dataPath("text/tinystories-calib.txt"); }

std::vector<Config> configs() {
  std::string perBlock =
      "--tfm-learn-rotations=mode=per-block calib-file=" + calibFile() +
      " steps=4 samples=4 batch=2 seq-len=32";
  return {
      {"fp32", {}, 1e-5, true},
      {"w8a8kv8",
       {"--tfm-quantize-weights=bits=8",
        "--tfm-quantize-activations=bits=8 kv-bits=8"},
       0.1, true},
      {"quarot_w4a4kv4",
       {"--tfm-fuse-norms",
        "--tfm-insert-rotations=mode=global online-hadamard=both",
        "--tfm-fold-rotations", "--tfm-quantize-weights=bits=4",
        "--tfm-quantize-activations=bits=4 kv-bits=4"},
       0.6, false},
      // Learned per-block bases, so the rank-8 adapters are not identities.
      {"perblock_r8_fp32",
       {"--tfm-fuse-norms",
        "--tfm-insert-rotations=mode=per-block online-hadamard=both", perBlock,
        "--tfm-approximate-residual-rotations=rank=8", "--tfm-fold-rotations"},
       1e-5, true},
      {"perblock_r8_w4a4kv4",
       {"--tfm-fuse-norms",
        "--tfm-insert-rotations=mode=per-block online-hadamard=both", perBlock,
        "--tfm-approximate-residual-rotations=rank=8", "--tfm-fold-rotations",
        "--tfm-quantize-weights=bits=4",
        "--tfm-quantize-activations=bits=4 kv-bits=4"},
       0.6, false},
  };
}

class CompiledStoriesTest : public ::testing::TestWithParam<Config> {};

TEST_P(CompiledStoriesTest, MatchesTheExecutorOnTheFullText) {
  const Config &config = GetParam();
  CompiledStories compiled;
  ASSERT_TRUE(compiled.build(config.name, config.passes));
  std::string text = readDataText("text/tinystories-eval.txt");

  PerplexityOptions options;
  auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    start = now;
    return elapsed;
  };
#ifdef RESPIN_SANITIZED
  // Under the sanitizers this test checks memory safety; the full text runs
  // in the normal build.
  options.maxWindows = 16;
#endif
  auto reference = evaluatePerplexity(*compiled.reference, text, options);
  double referenceSeconds = seconds();
  ASSERT_TRUE(bool(reference)) << llvm::toString(reference.takeError());
  // The same protocol code scores the shared object through its C ABI.
  auto model = CompiledModel::load(
      compiled.object, {compiled.weights, compiled.name, options.contextLength});
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  auto result = evaluatePerplexity(**model, text, options);
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());
  double compiledSeconds = seconds();
  double ppl = result->perplexity();
  EXPECT_EQ(result->scoredTokens, reference->scoredTokens);
  double relative = std::abs(ppl / reference->perplexity() - 1.0);
  std::printf("[%s] ppl compiled %.6f (%.1f s) executor %.6f (%.1f s), "
              "relative %.2e\n",
              config.name, ppl, compiledSeconds, reference->perplexity(),
              referenceSeconds, relative);
  // Same IR, same integer semantics: only float rounding and its rare code
  // flips separate the two; 0.3% is far above what they do to the mean NLL
  // of the full text (measured 1e-4 for QuaRot W4A4KV4).
  double bound = 3e-3;
#ifdef RESPIN_SANITIZED
  // On 16 windows one early 4-bit code flip (a KV entry every later position
  // of its window reads) weighs 15x more: QuaRot W4A4KV4 differs by 0.45% on
  // the first 16 windows, in the normal build just as here.
  if (!config.greedyIdentical)
    bound = 1e-2;
#endif
  EXPECT_LT(relative, bound);

  auto tokens = tokenizeStories(*compiled.reference->tokenizer, text);
  ASSERT_TRUE(bool(tokens));
  respin_model *context = compiled.context();
  ASSERT_NE(context, nullptr);
  double worst = 0;
  for (int window = 0; window < 2; ++window) {
    std::vector<int32_t> slice(tokens->begin() + window * 512,
                               tokens->begin() + (window + 1) * 512);
    exec::RowMatrix expected = logitsOf(*compiled.reference, slice);
    exec::RowMatrix actual = compiled.compiledLogits(context, slice);
    worst = std::max(worst, relativeDifference(expected, actual));
  }
  std::printf("[%s] max|dlogit|/max|logit| over 2 windows: %.3e\n",
              config.name, worst);
  EXPECT_LT(worst, config.logitBound);
  compiled.library->destroy(context);
}

TEST_P(CompiledStoriesTest, DecodeMatchesPrefillAndGreedyText) {
  const Config &config = GetParam();
  CompiledStories compiled;
  ASSERT_TRUE(compiled.build(config.name, config.passes));
  respin_model *model = compiled.context();
  ASSERT_NE(model, nullptr);
  std::vector<int32_t> tokens = evalTokens(*compiled.reference, 48);
  exec::RowMatrix prefilled = compiled.compiledLogits(model, tokens);
  compiled.library->reset(model);
  exec::RowMatrix decoded(prefilled.rows(), prefilled.cols());
  for (size_t t = 0; t < tokens.size(); ++t)
    ASSERT_EQ(compiled.library->decode(model, tokens[t], decoded.row(t).data()),
              RESPIN_MODEL_OK)
        << compiled.library->lastError();
  // Per-token quantization and the integer linears are identical for one
  // row or many; only attention's float sums are ordered differently.
  double gap = relativeDifference(prefilled, decoded);
  std::printf("[%s] decode vs prefill: %.3e\n", config.name, gap);
  EXPECT_LT(gap, 1e-5);

  if (config.greedyIdentical) {
    GenerateOptions options;
    options.maxTokens = 64;
    auto expected = generate(*compiled.reference, "", options);
    ASSERT_TRUE(bool(expected)) << llvm::toString(expected.takeError());
    compiled.library->reset(model);
    int64_t vocab = compiled.reference->program.vocabSize;
    std::vector<float> logits(vocab);
    int32_t token = compiled.reference->tokenizer->bosId();
    std::vector<int32_t> produced;
    while (produced.size() < expected->size()) {
      ASSERT_EQ(compiled.library->decode(model, token, logits.data()),
                RESPIN_MODEL_OK);
      token = int32_t(std::max_element(logits.begin(), logits.end()) -
                      logits.begin());
      produced.push_back(token);
    }
    EXPECT_EQ(produced, *expected);
  }
  compiled.library->destroy(model);
}

INSTANTIATE_TEST_SUITE_P(Stories, CompiledStoriesTest,
                         ::testing::ValuesIn(configs()),
                         [](const auto &info) { return info.param.name; });

/// Two contexts of one model in two threads give what one alone gives.
TEST(CompiledModel, TwoContextsRunConcurrently) {
  CompiledStories compiled;
  ASSERT_TRUE(compiled.build("fp32", {}));
  std::vector<int32_t> tokens = evalTokens(*compiled.reference, 256);
  respin_model *alone = compiled.context();
  ASSERT_NE(alone, nullptr);
  exec::RowMatrix expected = compiled.compiledLogits(alone, tokens);
  compiled.library->destroy(alone);
  exec::RowMatrix results[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i)
    threads[i] = std::thread([&, i] {
      respin_model *model = compiled.context();
      for (int repeat = 0; repeat < 3 && model; ++repeat)
        results[i] = compiled.compiledLogits(model, tokens);
      compiled.library->destroy(model);
    });
  for (std::thread &thread : threads)
    thread.join();
  for (const exec::RowMatrix &result : results)
    EXPECT_EQ(result, expected); // same kernels, same order: bit-identical
}

/// Bad weights files, bad calls and a full context are errors with a reason.
TEST(CompiledModel, LoaderRefusesWhatDoesNotFit) {
  CompiledStories compiled;
  ASSERT_TRUE(compiled.build("fp32", {}));
  auto create = [&](const std::string &path, int64_t maxSeq = 64) {
    respin_model *model = nullptr;
    respin_model_status status = compiled.library->create(
        compiled.library->manifest, compiled.library->forward, path.c_str(),
        maxSeq, &model);
    if (model)
      compiled.library->destroy(model);
    return std::make_pair(status, std::string(compiled.library->lastError()));
  };
  auto missing = create(compiled.dir + "/none.safetensors");
  EXPECT_EQ(missing.first, RESPIN_MODEL_ERR_IO);
  EXPECT_NE(missing.second.find("none.safetensors"), std::string::npos);

  // Truncated: the header promises more than the file holds.
  std::ifstream in(compiled.weights, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::string truncated = compiled.dir + "/truncated.safetensors";
  std::ofstream(truncated, std::ios::binary)
      .write(bytes.data(), std::streamsize(bytes.size() / 2));
  auto cut = create(truncated);
  EXPECT_EQ(cut.first, RESPIN_MODEL_ERR_MISMATCH);
  EXPECT_NE(cut.second.find("outside the file's data"), std::string::npos)
      << cut.second;

  // Another model's archive: the imported (uncompiled) one.
  auto other = create(compiled.dir + "/m.safetensors");
  EXPECT_EQ(other.first, RESPIN_MODEL_ERR_MISMATCH);
  EXPECT_NE(other.second.find("not a compiled respin weights archive"),
            std::string::npos)
      << other.second;

  // A tensor of the wrong shape: compile a different model under this name.
  CompiledStories w8;
  ASSERT_TRUE(w8.build("fp32", {"--tfm-quantize-weights=bits=8",
                                "--tfm-quantize-activations=bits=8"}));
  auto mismatched = create(w8.weights);
  EXPECT_EQ(mismatched.first, RESPIN_MODEL_ERR_MISMATCH);
  EXPECT_NE(mismatched.second.find("tensor '"), std::string::npos)
      << mismatched.second;

  // Full context, bad token id, bad count.
  respin_model *model = compiled.context(8);
  ASSERT_NE(model, nullptr);
  std::vector<int32_t> nine(9, 1);
  std::vector<float> logits(9 * 512);
  EXPECT_EQ(compiled.library->prefill(model, nine.data(), 9, logits.data()),
            RESPIN_MODEL_ERR_CONTEXT_FULL);
  EXPECT_NE(std::string(compiled.library->lastError()).find("8 positions"),
            std::string::npos);
  int32_t bad = 512;
  EXPECT_EQ(compiled.library->prefill(model, &bad, 1, logits.data()),
            RESPIN_MODEL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(compiled.library->lastError()).find("512"),
            std::string::npos)
      << compiled.library->lastError();
  EXPECT_EQ(compiled.library->prefill(model, nine.data(), 0, logits.data()),
            RESPIN_MODEL_ERR_INVALID_ARGUMENT);
  compiled.library->destroy(model);
}

} // namespace
