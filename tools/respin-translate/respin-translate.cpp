//===- respin-translate.cpp - Import checkpoints as tfm IR ----------------===//
//
//   respin-translate --import-gguf stories260K.gguf -o m.mlir
//   respin-translate --import-llama2c model.bin --tokenizer tok.bin -o m.mlir
//   respin-translate --import-hf path/to/checkpoint -o m.mlir
//
// writes m.mlir and its parameter archive m.safetensors (each atomically:
// a failed import leaves existing files untouched).
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/GGUF.h"
#include "respin/Formats/HFCheckpoint.h"
#include "respin/Formats/Llama2c.h"
#include "respin/Import/ImportModel.h"
#include "respin/Interpreter/ModelLoader.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

static cl::OptionCategory category("Import options");
static cl::opt<std::string> importGGUF(
    "import-gguf", cl::desc("Import a GGUF (v2/v3) model with F32/F16/BF16 "
                            "tensors and its tokenizer"),
    cl::value_desc("model.gguf"), cl::cat(category));
static cl::opt<std::string> importLlama2c(
    "import-llama2c", cl::desc("Import a llama2.c checkpoint (needs "
                               "--tokenizer for ppl/generate)"),
    cl::value_desc("model.bin"), cl::cat(category));
static cl::opt<std::string> tokenizerPath(
    "tokenizer",
    cl::desc("Tokenizer for --import-llama2c: llama2.c tokenizer.bin or "
             "SentencePiece tokenizer.model"),
    cl::value_desc("tokenizer.bin"), cl::cat(category));
static cl::opt<bool> noTokenizer(
    "no-tokenizer",
    cl::desc("Import the weights alone when the checkpoint has no tokenizer "
             "(respin-run ppl/generate/tokenize will then refuse the model)"),
    cl::init(false), cl::cat(category));
static cl::opt<std::string> importHF(
    "import-hf", cl::desc("Import a Hugging Face checkpoint directory "
                          "(config.json + safetensors, sharded or not)"),
    cl::value_desc("directory"), cl::cat(category));
static cl::opt<std::string> outputPath(
    "o", cl::desc("Output IR file; the parameter archive is written next to "
                  "it with the extension .safetensors"),
    cl::value_desc("model.mlir"), cl::Required, cl::cat(category));

static int fail(llvm::Error error) {
  llvm::WithColor::error(llvm::errs(), "respin-translate")
      << llvm::toString(std::move(error)) << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "respin-translate: import LLaMA-family checkpoints as tfm IR plus a "
      "parameter archive\n\n"
      "Exactly one of --import-gguf, --import-llama2c, --import-hf is "
      "required.\n");

  int sources = !importGGUF.empty() + !importLlama2c.empty() + !importHF.empty();
  if (sources != 1)
    return fail(llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "give exactly one of --import-gguf, --import-llama2c, --import-hf"));
  if (!tokenizerPath.empty() && importLlama2c.empty())
    return fail(llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "--tokenizer only applies to --import-llama2c"));

  llvm::Expected<respin::Checkpoint> checkpoint =
      !importGGUF.empty()      ? respin::loadGGUFCheckpoint(importGGUF)
      : !importLlama2c.empty() ? respin::loadLlama2cCheckpoint(importLlama2c,
                                                               tokenizerPath)
                               : respin::loadHFCheckpoint(importHF);
  if (!checkpoint)
    return fail(checkpoint.takeError());
  if (!checkpoint->tokenizer && !noTokenizer) {
    std::string lookedFor =
        !importHF.empty() ? "looked for " + importHF + "/tokenizer.json and " +
                                importHF + "/tokenizer.model"
        : !importLlama2c.empty()
            ? std::string("give its tokenizer with --tokenizer "
                          "tokenizer.bin|tokenizer.model")
            : std::string("the GGUF file has no tokenizer.ggml.* metadata");
    return fail(llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "%s: the checkpoint has no tokenizer (%s); pass --no-tokenizer to "
        "import the weights alone",
        checkpoint->source.c_str(), lookedFor.c_str()));
  }

  mlir::DialectRegistry registry;
  respin::registerModelDialects(registry);
  mlir::MLIRContext context(registry);
  if (llvm::Error error =
          respin::writeImportedModel(context, *checkpoint, outputPath))
    return fail(std::move(error));

  const respin::ModelConfig &config = checkpoint->config;
  size_t bytes = 0;
  for (const auto &entry : checkpoint->tensors)
    bytes += entry.second.numBytes;
  llvm::errs() << "respin-translate: " << config.architecture << " model, "
               << config.numLayers << " layers, dim " << config.hiddenSize
               << ", " << checkpoint->tensors.size() << " tensors ("
               << llvm::format("%.1f", bytes / 1048576.0) << " MiB)"
               << (checkpoint->tokenizer ? ", with tokenizer" : "")
               << " -> " << outputPath << " + "
               << respin::archivePathFor(outputPath) << "\n";
  return 0;
}
