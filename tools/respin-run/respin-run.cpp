//===- respin-run.cpp - Run models with the reference executor ------------===//
//
//   respin-run ppl --model m.mlir --text eval.txt --ctx 512
//   respin-run generate --model m.mlir --prompt "Once" --max-tokens 64
//   respin-run stats --model m.mlir --text calib.txt --windows 8
//   respin-run compare --model r.mlir --reference m.mlir --text eval.txt
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/InputFile.h"
#include "respin/Interpreter/ActivationStats.h"
#include "respin/Interpreter/Evaluation.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;

static cl::SubCommand pplCommand(
    "ppl", "Perplexity on a text (EVALUATION.md protocol: stories split on "
           "<|endoftext|>, each with BOS, non-overlapping windows)");
static cl::SubCommand generateCommand(
    "generate", "Continue a prompt with KV-cache decoding (greedy at "
                "--temperature 0, otherwise seeded sampling)");

static cl::SubCommand statsCommand(
    "stats", "Kurtosis and max/RMS of the input of every linear (how heavy "
             "the outliers are that quantization must cope with)");

static cl::SubCommand compareCommand(
    "compare", "Max |logit difference| / max |logit| of a model against a "
               "reference on the same windows (exactness of float-preserving "
               "passes)");

static cl::opt<std::string> modelPath("model", cl::desc("Model IR file"),
                                      cl::value_desc("m.mlir"), cl::Required,
                                      cl::sub(pplCommand),
                                      cl::sub(generateCommand),
                                      cl::sub(statsCommand),
                                      cl::sub(compareCommand));
static cl::opt<std::string> referencePath(
    "reference", cl::desc("Reference model IR file"),
    cl::value_desc("m.mlir"), cl::Required, cl::sub(compareCommand));
static cl::opt<std::string> textPath("text", cl::desc("Text to run"),
                                     cl::value_desc("file"), cl::Required,
                                     cl::sub(pplCommand),
                                     cl::sub(statsCommand),
                                     cl::sub(compareCommand));
static cl::opt<int64_t> contextLength(
    "ctx", cl::desc("Window length in tokens (default 512)"), cl::init(512),
    cl::sub(pplCommand), cl::sub(statsCommand), cl::sub(compareCommand));
static cl::opt<int64_t> statsWindows(
    "windows", cl::desc("Windows to run (default 8)"), cl::init(8),
    cl::sub(statsCommand), cl::sub(compareCommand));
static cl::opt<int64_t> maxWindows(
    "max-windows", cl::desc("Score only the first N windows (0: all)"),
    cl::init(0), cl::sub(pplCommand));
static cl::opt<unsigned> threads(
    "threads", cl::desc("Worker threads (0: one per hardware thread)"),
    cl::init(0), cl::sub(pplCommand));
static cl::opt<bool> jsonOutput(
    "json", cl::desc("Print the result as JSON"), cl::init(false),
    cl::sub(pplCommand), cl::sub(statsCommand));

static cl::opt<std::string> prompt("prompt", cl::desc("Prompt text"),
                                   cl::init(""), cl::sub(generateCommand));
static cl::opt<int64_t> maxTokens("max-tokens",
                                  cl::desc("Tokens to generate (default 64)"),
                                  cl::init(64), cl::sub(generateCommand));
static cl::opt<double> temperature(
    "temperature", cl::desc("Sampling temperature; 0 is greedy (default)"),
    cl::init(0.0), cl::sub(generateCommand));
static cl::opt<uint64_t> seed("seed", cl::desc("Sampling seed (default 0)"),
                              cl::init(0), cl::sub(generateCommand));

static int fail(llvm::Error error) {
  llvm::WithColor::error(llvm::errs(), "respin-run")
      << llvm::toString(std::move(error)) << "\n";
  return 1;
}

static llvm::Expected<std::unique_ptr<respin::LoadedModel>> loadModel() {
  auto model = respin::loadModelFile(modelPath);
  if (model && !(*model)->tokenizer)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "%s: the parameter archive has no tokenizer (import llama2.c models "
        "with --tokenizer)",
        modelPath.c_str());
  return model;
}

/// The --text file.
static llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> readText() {
  return respin::readInputFile(textPath);
}

static llvm::Error checkWindowOptions() {
  if (contextLength < 2 || statsWindows < 1)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "--ctx must be at least 2 and --windows at least 1");
  return llvm::Error::success();
}

static int runPerplexity() {
  if (contextLength < 2)
    return fail(llvm::createStringError(llvm::inconvertibleErrorCode(),
                                        "--ctx must be at least 2, got %lld",
                                        (long long)contextLength.getValue()));
  auto model = loadModel();
  if (!model)
    return fail(model.takeError());
  auto text = readText();
  if (!text)
    return fail(text.takeError());
  respin::PerplexityOptions options;
  options.contextLength = contextLength;
  options.maxWindows = maxWindows;
  options.threads = threads;
  bool interactive = llvm::sys::Process::StandardErrIsDisplayed();
  options.progress = [&](int64_t done, int64_t total) {
    if (interactive || done == total || done % 50 == 0)
      llvm::errs() << (interactive ? "\r" : "") << "respin-run: ppl window "
                   << done << "/" << total << (interactive ? "" : "\n");
    if (interactive && done == total)
      llvm::errs() << "\n";
  };
  auto start = std::chrono::steady_clock::now();
  auto result =
      respin::evaluatePerplexity(**model, (*text)->getBuffer(), options);
  if (!result)
    return fail(result.takeError());
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  if (jsonOutput) {
    llvm::outs() << llvm::formatv(
        "{{\"model\": \"{0}\", \"text\": \"{1}\", \"ctx\": {2}, "
        "\"stories\": {3}, \"tokens\": {4}, \"windows\": {5}, "
        "\"scored_tokens\": {6}, \"nll\": {7:F6}, \"ppl\": {8:F6}, "
        "\"seconds\": {9:F2}}\n",
        llvm::StringRef(modelPath).str(), llvm::StringRef(textPath).str(),
        contextLength.getValue(), result->stories, result->tokens,
        result->windows, result->scoredTokens, result->meanNLL,
        result->perplexity(), seconds);
    return 0;
  }
  llvm::outs() << llvm::formatv(
      "ppl {0:F4} (tokens {1}) nll {2:F5}, {3} windows of {4}, {5} stories, "
      "{6} tokens in the text, {7:F1} s\n",
      result->perplexity(), result->scoredTokens, result->meanNLL,
      result->windows, contextLength.getValue(), result->stories,
      result->tokens, seconds);
  return 0;
}

static int runGenerate() {
  if (maxTokens < 0)
    return fail(llvm::createStringError(llvm::inconvertibleErrorCode(),
                                        "--max-tokens must be >= 0"));
  if (!(temperature >= 0.0))
    return fail(llvm::createStringError(llvm::inconvertibleErrorCode(),
                                        "--temperature must be >= 0"));
  auto model = loadModel();
  if (!model)
    return fail(model.takeError());
  respin::GenerateOptions options;
  options.maxTokens = maxTokens;
  options.temperature = temperature;
  options.seed = seed;
  options.onText = [](llvm::StringRef piece) {
    llvm::outs() << piece;
    llvm::outs().flush();
  };
  llvm::outs() << prompt;
  auto start = std::chrono::steady_clock::now();
  auto tokens = respin::generate(**model, prompt, options);
  if (!tokens)
    return fail(tokens.takeError());
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  llvm::outs() << "\n";
  llvm::outs().flush(); // the statistics line on stderr comes after the text
  llvm::errs() << llvm::formatv("respin-run: {0} tokens, {1:F1} tokens/s\n",
                                tokens->size(),
                                tokens->size() / std::max(seconds, 1e-9));
  return 0;
}

static int runStats() {
  if (llvm::Error error = checkWindowOptions())
    return fail(std::move(error));
  auto model = loadModel();
  if (!model)
    return fail(model.takeError());
  auto text = readText();
  if (!text)
    return fail(text.takeError());
  auto stats = respin::measureLinearInputs(**model, (*text)->getBuffer(),
                                           contextLength, statsWindows);
  if (!stats)
    return fail(stats.takeError());
  if (jsonOutput) {
    llvm::json::Array rows;
    for (const respin::LinearInputStats &s : *stats)
      rows.push_back(llvm::json::Object{{"readers", s.readers},
                                        {"width", s.width},
                                        {"values", s.count},
                                        {"kurtosis", s.kurtosis},
                                        {"max_over_rms", s.maxOverRms}});
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(rows)))
                 << "\n";
    return 0;
  }
  llvm::outs() << llvm::formatv("{0,10} {1,10}  {2}\n", "kurtosis",
                                "max/rms", "input of");
  for (const respin::LinearInputStats &s : *stats)
    llvm::outs() << llvm::formatv("{0,10:F2} {1,10:F2}  {2}\n", s.kurtosis,
                                  s.maxOverRms, s.readers);
  return 0;
}

static int runCompare() {
  if (llvm::Error error = checkWindowOptions())
    return fail(std::move(error));
  auto model = loadModel();
  if (!model)
    return fail(model.takeError());
  auto reference = respin::loadModelFile(referencePath);
  if (!reference)
    return fail(reference.takeError());
  auto text = readText();
  if (!text)
    return fail(text.takeError());
  auto comparison =
      respin::compareLogits(**model, **reference, (*text)->getBuffer(),
                            contextLength, statsWindows);
  if (!comparison)
    return fail(comparison.takeError());
  llvm::outs() << llvm::formatv(
      "max |logit difference| / max |logit| = {0:e3} ({1:e3} / {2:F3}) over "
      "{3} tokens\n",
      comparison->relative(), comparison->maxAbsDifference,
      comparison->maxAbsLogit, comparison->tokens);
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv,
      "respin-run: run tfm models with the float reference executor\n");
  if (pplCommand)
    return runPerplexity();
  if (generateCommand)
    return runGenerate();
  if (statsCommand)
    return runStats();
  if (compareCommand)
    return runCompare();
  llvm::errs() << "respin-run: give a subcommand: ppl, generate, stats or compare (see "
                  "--help)\n";
  return 1;
}
