//===- CalibrationRunner.cpp - Running IR on calibration data -------------===//

#include "respin/Transforms/CalibrationRunner.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"
#include "respin/Executor/Session.h"
#include "respin/Formats/InputFile.h"
#include "respin/Interpreter/Evaluation.h"
#include "respin/Interpreter/ModelLoader.h"
#include "respin/Quantization/Calibration.h"

#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

using namespace mlir;
using namespace mlir::tfm;

unsigned mlir::tfm::resolveThreadCount(unsigned requested) {
  if (requested > 0)
    return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

void mlir::tfm::runWorkers(unsigned threads,
                           llvm::function_ref<void()> worker) {
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([worker] { worker(); });
  worker();
  for (std::thread &thread : pool)
    thread.join();
}

FailureOr<CalibrationWindows> mlir::tfm::loadCalibrationWindows(ModuleOp module,
                                                                StringRef file,
                                                                int64_t count,
                                                                int64_t length,
                                                                uint64_t seed) {
  if (failed(loadParameters(module)))
    return failure();
  const respin::TokenizerData *data =
      getParameterSet(module.getContext()).tokenizer();
  if (!data)
    return module.emitError("calibration needs the model's tokenizer, but "
                            "its parameter archives have none");
  auto tokenizer = respin::Tokenizer::create(*data);
  if (!tokenizer)
    return module.emitError() << llvm::toString(tokenizer.takeError());
  auto text = respin::readInputFile(file);
  if (!text)
    return module.emitError() << "cannot read the calibration text: "
                              << llvm::toString(text.takeError());
  auto tokens = respin::tokenizeStories(**tokenizer, (*text)->getBuffer());
  if (!tokens)
    return module.emitError()
           << file << ": " << llvm::toString(tokens.takeError());
  auto windows =
      respin::quant::sampleCalibrationWindows(*tokens, count, length, seed);
  if (!windows)
    return module.emitError()
           << file << ": " << llvm::toString(windows.takeError());
  return std::move(*windows);
}

FailureOr<respin::quant::HessianAccumulator>
mlir::tfm::collectInputHessian(func::FuncOp func, LinearOp linear,
                               const CalibrationWindows &windows) {
  llvm::DenseMap<Operation *, int> instructionIndex;
  FailureOr<respin::exec::Program> program =
      respin::buildProgram(func, &instructionIndex);
  if (failed(program))
    return failure();
  auto found = instructionIndex.find(linear);
  if (found == instructionIndex.end())
    return linear.emitError("calibration: this linear is not in the program");
  int index = found->second;
  // Everything after the observed linear is dead for calibration.
  program->instructions.resize(index + 1);
  program->resultValue = program->instructions[index].result;
  const respin::exec::Instruction *observed = &program->instructions[index];
  int64_t cols = cast<ShapedType>(linear.getInput().getType()).getDimSize(1);

  int64_t slots = std::min<int64_t>(kHessianSlots, windows.size());
  std::vector<respin::quant::HessianAccumulator> sums(
      slots, respin::quant::HessianAccumulator(cols));
  std::atomic<int64_t> next{0};
  std::mutex errorMutex;
  std::string firstError;
  auto worker = [&]() {
    respin::exec::Session session(*program);
    for (int64_t slot = next++; slot < slots; slot = next++) {
      session.setLinearInputObserver(
          [&, slot](const respin::exec::Instruction &inst,
                    const respin::exec::RowMatrix &x) {
            if (&inst == observed)
              sums[slot].add(x.data(), x.rows());
          });
      for (size_t w = slot; w < windows.size(); w += slots) {
        session.reset();
        auto result = session.forward(windows[w]);
        if (!result) {
          std::lock_guard<std::mutex> lock(errorMutex);
          if (firstError.empty())
            firstError = llvm::toString(result.takeError());
          return;
        }
      }
    }
  };
  runWorkers(unsigned(std::min<int64_t>(resolveThreadCount(0), slots)), worker);
  if (!firstError.empty())
    return linear.emitError() << "calibration run failed: " << firstError;
  respin::quant::HessianAccumulator total(cols);
  for (const respin::quant::HessianAccumulator &sum : sums)
    total.merge(sum);
  return total;
}
