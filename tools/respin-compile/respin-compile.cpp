//===- respin-compile.cpp - Compile a model to native code ----------------===//
//
// model (tfm .mlir, GGUF, or a Hugging Face directory) -> optional tfm
// passes -> --tfm-lower-to-llvm -> LLVM IR -> O3 -> object (or .s/.ll, or a
// shared object linked with respin_rt), plus the C header and the weights
// archive the object reads at run time. Everything runs through one MLIR
// PassManager, so -mlir-timing and -mlir-print-ir-after-all work.
//
//===----------------------------------------------------------------------===//

#include "respin/Conversion/Passes.h"
#include "respin/Dialect/Tfm/IR/TfmDialect.h"
#include "respin/Formats/GGUF.h"
#include "respin/Formats/HFCheckpoint.h"
#include "respin/Formats/OutputSet.h"
#include "respin/Interpreter/ModelLoader.h"
#include "respin/Target/Emission.h"
#include "respin/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("respin-compile options");
static cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                                      cl::desc("<model.mlir | model.gguf | "
                                               "hf-directory>"),
                                      cl::cat(category));
static cl::opt<std::string>
    outputPath("o", cl::Required,
               cl::desc("Output file (the header and the weights archive "
                        "are written next to it: <stem>.h, "
                        "<stem>.weights.safetensors)"),
               cl::value_desc("file"), cl::cat(category));
enum class Emit { Object, Assembly, LLVMIR, MLIR, Shared };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to write to -o"), cl::init(Emit::Object),
    cl::values(clEnumValN(Emit::Object, "obj", "native object file (default)"),
               clEnumValN(Emit::Assembly, "asm", "native assembly"),
               clEnumValN(Emit::LLVMIR, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::MLIR, "mlir", "the LLVM-dialect MLIR"),
               clEnumValN(Emit::Shared, "shared",
                          "shared object with respin_rt linked in "
                          "(for respin-run --model m.so and dlopen)")),
    cl::cat(category));
static cl::opt<std::string>
    modelName("name", cl::init("model"),
              cl::desc("C identifier of the generated symbols "
                       "(<name>_forward, <name>_manifest, <name>_create)"),
              cl::cat(category));
static cl::opt<std::string> passes(
    "passes",
    cl::desc("tfm pass pipeline run before lowering, e.g. "
             "'tfm-fuse-norms,tfm-quantize-weights{bits=4}'"),
    cl::init(""), cl::cat(category));
static cl::opt<int64_t>
    maxTokens("max-tokens", cl::init(512),
              cl::desc("Most tokens one forward call runs (prefill chunk; "
                       "sizes the workspace)"),
              cl::cat(category));
static cl::opt<std::string> triple("mtriple", cl::desc("Target triple"),
                                   cl::init(""), cl::cat(category));
static cl::opt<std::string> cpu("mcpu",
                                cl::desc("Target CPU (default: this host's)"),
                                cl::init(""), cl::cat(category));
static cl::opt<std::string>
    features("mattr", cl::desc("Target features, e.g. +avx512vnni"),
             cl::init(""), cl::cat(category));
static cl::opt<unsigned> optLevel("O", cl::desc("Optimization level 0..3"),
                                  cl::init(3), cl::Prefix, cl::cat(category));
static cl::opt<bool> quiet("q", cl::desc("Print nothing on success"),
                           cl::cat(category));

static int fail(llvm::Error error) {
  llvm::errs() << "respin-compile: error: " << llvm::toString(std::move(error))
               << "\n";
  return 1;
}
static int fail(const llvm::Twine &message) {
  return fail(llvm::createStringError(llvm::inconvertibleErrorCode(), message));
}

/// <dir>/<stem><suffix> for the output's siblings.
static std::string sibling(llvm::StringRef suffix) {
  llvm::SmallString<256> path(outputPath);
  llvm::sys::path::replace_extension(path, "");
  return (path + suffix).str();
}

static llvm::Expected<std::unique_ptr<respin::LoadedModel>> loadInput() {
  if (llvm::sys::fs::is_directory(inputPath)) {
    auto checkpoint = respin::loadHFCheckpoint(inputPath);
    if (!checkpoint)
      return checkpoint.takeError();
    return respin::loadModelFromCheckpoint(std::move(*checkpoint),
                                           respin::LoadMode::IROnly);
  }
  if (llvm::StringRef(inputPath).ends_with(".gguf")) {
    auto checkpoint = respin::loadGGUFCheckpoint(inputPath);
    if (!checkpoint)
      return checkpoint.takeError();
    return respin::loadModelFromCheckpoint(std::move(*checkpoint),
                                           respin::LoadMode::IROnly);
  }
  return respin::loadModelFile(inputPath, respin::LoadMode::IROnly);
}

static std::string headerText() {
  std::string n = modelName;
  return "/* Generated by respin-compile: the compiled model '" + n +
         "'.\n * Link " + llvm::sys::path::filename(outputPath).str() +
         " with respin_rt; load " +
         llvm::sys::path::filename(sibling(".weights.safetensors")).str() +
         " at run time. */\n"
         "#ifndef RESPIN_COMPILED_" + n + "_H\n#define RESPIN_COMPILED_" + n +
         "_H\n\n#include \"respin/Runtime/respin_model.h\"\n\n"
         "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
         "extern const char " + n + "_manifest[];\n"
         "int32_t " + n + "_forward(void *const *weights,\n"
         "    const respin_rt_kv_cache *const *caches, void *workspace,\n"
         "    const int32_t *tokens, int64_t n, int64_t pos0, float *logits);\n\n"
         "/* A context of this model: weights mapped from `weights_path`, KV\n"
         " * caches for `max_seq` positions (0: 2048). */\n"
         "static inline respin_model_status " + n +
         "_create(const char *weights_path,\n    int64_t max_seq, "
         "respin_model **out) {\n  return respin_model_create(" + n +
         "_manifest, " + n + "_forward, weights_path,\n      max_seq, out);\n}\n\n"
         "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
}

/// Links the object and respin_rt into a shared object.
static llvm::Error linkShared(llvm::StringRef object, llvm::StringRef output) {
  auto compiler = llvm::sys::findProgramByName("c++");
  if (!compiler)
    return llvm::createStringError(compiler.getError(),
                                   "no C++ compiler driver (c++) on PATH to "
                                   "link the shared object");
  std::vector<std::string> args = {
      *compiler,         "-shared",           "-o",
      output.str(),      object.str(),        "-Wl,--whole-archive",
      RESPIN_RUNTIME_ARCHIVE, RESPIN_HADAMARD_ARCHIVE, "-Wl,--no-whole-archive",
      "-Wl,-Bsymbolic",  "-lpthread"};
  std::vector<llvm::StringRef> argv(args.begin(), args.end());
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*compiler, argv, std::nullopt, {}, 0, 0,
                                     &message);
  if (rc != 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "linking %s failed (%s exit %d)",
                                   output.str().c_str(), message.c_str(), rc);
  return llvm::Error::success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  tfm::registerTfmPasses();
  tfm::registerConversionPasses();
  tfm::registerLowerToLLVMPipeline();
  registerPassManagerCLOptions();
  registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions({&category, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(
      argc, argv,
      "respin-compile: compile a model to native code\n\n"
      "  respin-compile m.mlir -o m.o --name m      # m.o, m.h, "
      "m.weights.safetensors\n"
      "  respin-compile m.gguf -o m.so --emit=shared --passes="
      "'tfm-quantize-weights{bits=8},tfm-quantize-activations{bits=8 "
      "kv-bits=8}'\n");

  auto model = loadInput();
  if (!model)
    return fail(model.takeError());
  MLIRContext &context = *(*model)->context;
  respin::OutputSet outputs;
  outputs.addInput(inputPath);
  std::string weightsPath = sibling(".weights.safetensors");
  std::string headerPath = sibling(".h");
  for (auto [path, role] :
       {std::pair<std::string, const char *>{outputPath, "output"},
        {weightsPath, "compiled weights"},
        {headerPath, "header"}})
    if (llvm::Error error = outputs.check(path, role))
      return fail(std::move(error));
  context.getOrLoadDialect<tfm::TfmDialect>()->outputSet = &outputs;

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("bad pass manager options");
  if (!passes.empty() &&
      failed(parsePassPipeline(passes, pm, llvm::errs())))
    return fail("cannot parse --passes='" + passes + "'");
  tfm::LowerToLLVMOptions lowering;
  lowering.prefix = modelName;
  lowering.weightsFile = weightsPath;
  lowering.maxTokens = maxTokens;
  tfm::buildLowerToLLVMPipeline(pm, lowering);
  if (failed(pm.run(*(*model)->module)))
    return fail(inputPath + ": compilation failed (diagnostics above)");

  if (llvm::Error error = outputs.write(headerPath, "header", headerText()))
    return fail(std::move(error));

  respin::EmissionOptions target{triple, cpu, features, optLevel};
  llvm::SmallString<0> code;
  llvm::raw_svector_ostream codeStream(code);
  if (emit == Emit::MLIR) {
    (*model)->module->print(codeStream);
  } else {
    respin::EmitKind kind = emit == Emit::Assembly ? respin::EmitKind::Assembly
                            : emit == Emit::LLVMIR ? respin::EmitKind::LLVMIR
                                                   : respin::EmitKind::Object;
    if (llvm::Error error =
            respin::emitModule(*(*model)->module, target, kind, codeStream))
      return fail(std::move(error));
  }
  if (emit == Emit::Shared) {
    llvm::SmallString<128> object;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "respin-compile", "o", object))
      return fail("cannot create a temporary object: " + ec.message());
    llvm::FileRemover remover(object);
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(object, ec);
      if (ec)
        return fail(object + ": " + ec.message());
      os << code;
    }
    llvm::SmallString<128> linked(object);
    linked += ".so";
    llvm::FileRemover linkedRemover(linked);
    if (llvm::Error error = linkShared(object, linked))
      return fail(std::move(error));
    auto bytes = llvm::MemoryBuffer::getFile(linked);
    if (!bytes)
      return fail(linked + ": " + bytes.getError().message());
    code = (*bytes)->getBuffer();
  }
  if (llvm::Error error =
          outputs.write(outputPath, "output", llvm::StringRef(code)))
    return fail(std::move(error));
  if (llvm::Error error = outputs.commit())
    return fail(std::move(error));
  if (!quiet)
    llvm::outs() << "respin-compile: wrote " << outputPath << ", "
                 << headerPath << ", " << weightsPath << "\n";
  return 0;
}
