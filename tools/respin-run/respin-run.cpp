//===- respin-run.cpp - Run models with the reference executor ------------===//
//
//   respin-run ppl --model m.mlir --text eval.txt --ctx 512
//   respin-run generate --model m.mlir --prompt "Once" --max-tokens 64
//   respin-run stats --model m.mlir --text calib.txt --windows 8
//   respin-run compare --model r.mlir --reference m.mlir --text eval.txt
//   respin-run ppl --model q.mlir --reference m.mlir --text eval.txt
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/InputFile.h"
#include "respin/Interpreter/ActivationStats.h"
#include "respin/Interpreter/CompiledModel.h"
#include "respin/Interpreter/Evaluation.h"
#include "respin/Interpreter/ModelComparison.h"

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
    "compare", "A model against a reference on the same windows: max |logit "
               "difference| / max |logit| (exactness of float-preserving "
               "passes), KL divergence of the next-token distributions, top-1 "
               "agreement and the perplexity ratio");

static cl::opt<std::string> modelPath("model",
                                      cl::desc("Model IR file (m.mlir), or for "
                                               "ppl and generate a compiled "
                                               "model (m.so from respin-compile "
                                               "--emit=shared)"),
                                      cl::value_desc("m.mlir"), cl::Required,
                                      cl::sub(pplCommand),
                                      cl::sub(generateCommand),
                                      cl::sub(statsCommand),
                                      cl::sub(compareCommand));
static cl::opt<std::string> referencePath(
    "reference",
    cl::desc("Reference model IR file (compare: required; ppl: also report "
             "KL divergence, top-1 agreement and the perplexity ratio "
             "against it)"),
    cl::value_desc("m.mlir"), cl::sub(pplCommand), cl::sub(compareCommand));
static cl::opt<bool>
    perWindow("per-window",
              cl::desc("Also print the statistics of every window"),
              cl::init(false), cl::sub(pplCommand), cl::sub(compareCommand));
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
static cl::opt<unsigned>
    threads("threads", cl::desc("Worker threads (0: one per hardware thread)"),
            cl::init(0), cl::sub(pplCommand), cl::sub(compareCommand));
static cl::opt<bool> jsonOutput("json", cl::desc("Print the result as JSON"),
                                cl::init(false), cl::sub(pplCommand),
                                cl::sub(statsCommand), cl::sub(compareCommand));

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

static cl::opt<std::string> compiledWeights(
    "weights",
    cl::desc("Weights of a compiled model (default: <stem>.weights.safetensors "
             "next to it)"),
    cl::init(""), cl::sub(pplCommand), cl::sub(generateCommand));
static cl::opt<std::string> compiledName(
    "name",
    cl::desc("Symbol prefix of a compiled model (default: the file's stem)"),
    cl::init(""), cl::sub(pplCommand), cl::sub(generateCommand));

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
        "%s: the parameter archive has no tokenizer (it was imported with "
        "--no-tokenizer: re-import with a tokenizer, e.g. --tokenizer for "
        "llama2.c, tokenizer.json or tokenizer.model in a Hugging Face "
        "directory)",
        modelPath.c_str());
  return model;
}

static bool isCompiledModel() {
  return llvm::StringRef(modelPath).ends_with(".so");
}

/// --model as something the protocols can run: the executor on IR, or a
/// compiled shared object through its C ABI.
struct RunnableModel {
  std::unique_ptr<respin::LoadedModel> loaded;
  std::unique_ptr<respin::SequenceModel> sequences;
};

static llvm::Expected<RunnableModel> loadRunnableModel() {
  RunnableModel result;
  if (isCompiledModel()) {
    respin::CompiledModelOptions options;
    options.weights = compiledWeights;
    options.name = compiledName;
    options.maxSeq = std::max<int64_t>(contextLength, maxTokens + 1) + 256;
    auto compiled = respin::CompiledModel::load(modelPath, options);
    if (!compiled)
      return compiled.takeError();
    if (!(*compiled)->tokenizer())
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: the compiled weights carry no tokenizer (the model was "
          "compiled from IR without one)",
          modelPath.c_str());
    result.sequences = std::move(*compiled);
    return std::move(result);
  }
  if (!compiledWeights.empty() || !compiledName.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "--weights and --name are for compiled "
                                   "models (--model m.so)");
  auto loaded = loadModel();
  if (!loaded)
    return loaded.takeError();
  result.loaded = std::move(*loaded);
  result.sequences = respin::executorModel(*result.loaded);
  return std::move(result);
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

/// Warns (once, on stderr) when --ctx exceeds the model's trained context.
static void warnAboutContext(const respin::LoadedModel &model) {
  std::string warning = respin::contextLengthWarning(model, contextLength);
  if (!warning.empty())
    llvm::WithColor::warning(llvm::errs(), "respin-run") << warning << "\n";
}

static llvm::json::Object divergenceJson(const respin::DivergenceStats &s) {
  return llvm::json::Object{
      {"scored_tokens", s.positions},
      {"kl_mean", s.meanKL()},
      {"kl_max", s.maxKL},
      {"top1_agreement", s.top1Agreement()},
      {"ppl", s.perplexity()},
      {"reference_ppl", s.referencePerplexity()},
      {"ppl_ratio", s.perplexityRatio()},
      {"max_abs_logit_difference", s.maxAbsDifference},
      {"relative_logit_difference", s.relativeLogitDifference()}};
}

static std::string divergenceLine(const respin::DivergenceStats &s) {
  return llvm::formatv("KL divergence from the reference: mean {0:e3}, max "
                       "{1:e3} nats; top-1 agreement {2:F2}%; ppl {3:F4} vs "
                       "{4:F4} (ratio {5:F5}) over {6} scored tokens",
                       s.meanKL(), s.maxKL, 100.0 * s.top1Agreement(),
                       s.perplexity(), s.referencePerplexity(),
                       s.perplexityRatio(), s.positions)
      .str();
}

/// Runs the comparison of --model against --reference on `text`.
static llvm::Expected<respin::ModelComparison>
compareWithReference(const respin::LoadedModel &model, llvm::StringRef text,
                     int64_t windows) {
  auto reference = respin::loadModelFile(referencePath);
  if (!reference)
    return reference.takeError();
  respin::CompareOptions options;
  options.contextLength = contextLength;
  options.maxWindows = windows;
  options.threads = threads;
  return respin::compareModels(model, **reference, text, options);
}

/// The text (or JSON) report of a comparison, per window when asked.
static void printComparison(const respin::ModelComparison &comparison,
                            llvm::json::Object json) {
  const respin::DivergenceStats &total = comparison.total;
  if (jsonOutput) {
    json["reference"] = referencePath.getValue();
    json["text"] = textPath.getValue();
    json["ctx"] = contextLength.getValue();
    json["stories"] = comparison.stories;
    json["tokens"] = comparison.tokens;
    json["windows"] = int64_t(comparison.windows.size());
    json["total"] = divergenceJson(total);
    llvm::json::Array windows;
    for (const respin::DivergenceStats &stats : comparison.windows)
      windows.push_back(divergenceJson(stats));
    json["per_window"] = std::move(windows);
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(json)))
                 << "\n";
    return;
  }
  if (perWindow) {
    llvm::outs() << llvm::formatv("{0,6} {1,8} {2,11} {3,11} {4,8} {5,9} "
                                  "{6,9}\n",
                                  "window", "tokens", "KL mean", "KL max",
                                  "top-1 %", "ppl", "ref ppl");
    for (size_t w = 0; w < comparison.windows.size(); ++w) {
      const respin::DivergenceStats &s = comparison.windows[w];
      llvm::outs() << llvm::formatv(
          "{0,6} {1,8} {2,11:e3} {3,11:e3} {4,8:F2} {5,9:F4} {6,9:F4}\n", w,
          s.positions, s.meanKL(), s.maxKL, 100.0 * s.top1Agreement(),
          s.perplexity(), s.referencePerplexity());
    }
  }
  llvm::outs() << divergenceLine(total) << "\n";
}

static int runPerplexity() {
  if (contextLength < 2)
    return fail(llvm::createStringError(llvm::inconvertibleErrorCode(),
                                        "--ctx must be at least 2, got %lld",
                                        (long long)contextLength.getValue()));
  auto runnable = loadRunnableModel();
  if (!runnable)
    return fail(runnable.takeError());
  auto text = readText();
  if (!text)
    return fail(text.takeError());
  if (runnable->loaded)
    warnAboutContext(*runnable->loaded);
  if (!referencePath.empty()) {
    if (!runnable->loaded)
      return fail(llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "--reference compares IR models; a compiled model is scored on "
          "its own"));
    auto start = std::chrono::steady_clock::now();
    auto comparison = compareWithReference(*runnable->loaded,
                                           (*text)->getBuffer(), maxWindows);
    if (!comparison)
      return fail(comparison.takeError());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    const respin::DivergenceStats &total = comparison->total;
    double nll = std::log(total.perplexity());
    if (jsonOutput) {
      printComparison(*comparison,
                      llvm::json::Object{{"model", modelPath.getValue()},
                                         {"scored_tokens", total.positions},
                                         {"nll", nll},
                                         {"ppl", total.perplexity()},
                                         {"seconds", seconds}});
      return 0;
    }
    llvm::outs() << llvm::formatv(
        "ppl {0:F4} (tokens {1}) nll {2:F5}, {3} windows of {4}, {5} "
        "stories, {6} tokens in the text, {7:F1} s\n",
        total.perplexity(), total.positions, nll, comparison->windows.size(),
        contextLength.getValue(), comparison->stories, comparison->tokens,
        seconds);
    printComparison(*comparison, {});
    return 0;
  }
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
  auto result = respin::evaluatePerplexity(*runnable->sequences,
                                           (*text)->getBuffer(), options);
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
  auto runnable = loadRunnableModel();
  if (!runnable)
    return fail(runnable.takeError());
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
  auto tokens = respin::generate(*runnable->sequences, prompt, options);
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
  warnAboutContext(**model);
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
  if (referencePath.empty())
    return fail(llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "compare needs --reference=<m.mlir> (the model to compare against)"));
  auto model = loadModel();
  if (!model)
    return fail(model.takeError());
  auto text = readText();
  if (!text)
    return fail(text.takeError());
  warnAboutContext(**model);
  auto comparison =
      compareWithReference(**model, (*text)->getBuffer(), statsWindows);
  if (!comparison)
    return fail(comparison.takeError());
  const respin::DivergenceStats &total = comparison->total;
  if (jsonOutput) {
    printComparison(*comparison,
                    llvm::json::Object{{"model", modelPath.getValue()}});
    return 0;
  }
  int64_t tokens = 0;
  for (const respin::DivergenceStats &stats : comparison->windows)
    tokens += stats.positions + 1;
  llvm::outs() << llvm::formatv(
      "max |logit difference| / max |logit| = {0:e3} ({1:e3} / {2:F3}) over "
      "{3} tokens\n",
      total.relativeLogitDifference(), total.maxAbsDifference,
      total.maxAbsLogit, tokens);
  printComparison(*comparison, {});
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
