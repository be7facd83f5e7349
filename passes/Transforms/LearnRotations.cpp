//===- LearnRotations.cpp - Cayley SGD on the quantized network's loss ----===//
//
// The pass only orchestrates: RotationLearning builds the folded problem from
// the IR, RotationObjective evaluates its loss and gradients, CayleySGD moves
// the rotations. Nothing is written (IR, archives, report) unless learning
// finished.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/AtomicFile.h"
#include "respin/Formats/Safetensors.h"
#include "respin/Import/ImportModel.h"
#include "respin/Numerics/Cayley.h"
#include "respin/Transforms/CalibrationRunner.h"
#include "respin/Transforms/Passes.h"
#include "respin/Transforms/QuantizationTargets.h"
#include "respin/Transforms/RotationLearning.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

namespace mlir::tfm {
#define GEN_PASS_DEF_TFMLEARNROTATIONSPASS
#include "respin/Transforms/Passes.h.inc"
} // namespace mlir::tfm

using namespace mlir;
using namespace mlir::tfm;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string formatDuration(double seconds) {
  auto whole = int64_t(std::lround(seconds));
  return llvm::formatv("{0}m{1:2}s", whole / 60, whole % 60).str();
}

/// Window order: a seeded permutation of the samples, drawn anew each epoch
/// (Fisher-Yates on raw std::mt19937_64 outputs, the same on every
/// platform).
class DataOrder {
public:
  DataOrder(int64_t samples, uint64_t seed)
      : order(samples), engine(seed ^ 0x9e3779b97f4a7c15ull) {
    reshuffle();
  }

  int64_t next() {
    if (position == order.size())
      reshuffle();
    return order[position++];
  }

private:
  void reshuffle() {
    std::iota(order.begin(), order.end(), 0);
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[engine() % i]);
    position = 0;
  }

  std::vector<int64_t> order;
  std::mt19937_64 engine;
  size_t position = 0;
};

struct LearnRotationsPass
    : tfm::impl::TfmLearnRotationsPassBase<LearnRotationsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(checkOptions(module)))
      return signalPassFailure();
    FailureOr<func::FuncOp> func = forwardFunction(module);
    if (failed(func))
      return signalPassFailure();
    LearningQuantization quantization{wBits, aBits, kvBits};
    FailureOr<LearnableRotations> learnable =
        buildLearnableRotations(*func, quantization);
    if (failed(learnable) || failed(checkMode(*func, *learnable)))
      return signalPassFailure();
    FailureOr<CalibrationWindows> windows =
        loadCalibrationWindows(module, calibFile, samples, seqLen, seed);
    if (failed(windows))
      return signalPassFailure();

    std::vector<Eigen::MatrixXd> rotations = learnable->initial;
    llvm::json::Object log;
    if (failed(learn(module, learnable->problem, *windows, rotations, log)) ||
        failed(writeRotations(module, learnable->problem, rotations)) ||
        failed(writeReport(module, learnable->problem, std::move(log))) ||
        failed(setRotations(*func, *learnable, rotations)))
      return signalPassFailure();
  }

  LogicalResult checkBits(ModuleOp module, StringRef option, int value) {
    if (value == kOffBits || (value >= 2 && value <= 8))
      return success();
    return module.emitError() << option << "=" << value
                              << " is not supported (expected 2..8, or 16 for "
                                 "no quantization)";
  }

  LogicalResult checkOptions(ModuleOp module) {
    if (calibFile.empty())
      return module.emitError("tfm-learn-rotations needs calib-file=<text>: "
                              "rotations are learned on calibration data");
    if (steps <= 0)
      return module.emitError()
             << "steps=" << int64_t(steps) << " must be positive";
    if (!(lr > 0.0) || !std::isfinite(lr))
      return module.emitError()
             << "lr=" << formatOptionNumber(lr) << " must be positive";
    if (!(momentum >= 0.0 && momentum < 1.0))
      return module.emitError() << "momentum=" << formatOptionNumber(momentum)
                                << " must be in [0, 1)";
    if (samples <= 0 || batch <= 0 || batch > samples)
      return module.emitError() << "batch=" << int64_t(batch)
                                << " and samples=" << int64_t(samples)
                                << " must be positive, with batch <= samples";
    if (seqLen < 2)
      return module.emitError() << "seq-len=" << int64_t(seqLen)
                                << " must be at least 2 (a window predicts "
                                   "its tokens after the first)";
    if (threads < 0)
      return module.emitError() << "threads=" << int64_t(threads)
                                << " must be 0 (all) or positive";
    return failure(failed(checkBits(module, "w-bits", wBits)) ||
                   failed(checkBits(module, "a-bits", aBits)) ||
                   failed(checkBits(module, "kv-bits", kvBits)));
  }

  FailureOr<func::FuncOp> forwardFunction(ModuleOp module) {
    if (auto forward =
            module.lookupSymbol<func::FuncOp>(respin::kForwardFunctionName))
      return forward;
    SmallVector<func::FuncOp> defined;
    module.walk([&](func::FuncOp func) {
      if (!func.isDeclaration())
        defined.push_back(func);
    });
    if (defined.size() != 1)
      return module.emitError("tfm-learn-rotations needs a function @forward "
                              "(or exactly one function with a body)");
    return defined.front();
  }

  LogicalResult checkMode(func::FuncOp func,
                          const LearnableRotations &learnable) {
    bool perBlock = mode == ResidualRotationMode::PerBlock;
    if (!perBlock && learnable.numTransitions > 0)
      return func.emitError()
             << "mode=global, but the IR has per-block residual bases ("
             << learnable.numTransitions
             << " tfm.transition ops): use mode=per-block";
    if (perBlock && learnable.numTransitions == 0)
      return func.emitError(
          "mode=per-block, but the IR has one residual basis (no "
          "tfm.transition): use mode=global, or insert the rotations with "
          "--tfm-insert-rotations=mode=per-block");
    return success();
  }

  LogicalResult learn(ModuleOp module,
                      const respin::exec::RotationProblem &problem,
                      const CalibrationWindows &windows,
                      std::vector<Eigen::MatrixXd> &rotations,
                      llvm::json::Object &log) {
    respin::exec::RotationObjective<float> objective(problem,
                                                     unsigned(threads));
    auto lossOf = [&](StringRef when) -> FailureOr<double> {
      auto value = objective.evaluate(rotations, windows, false);
      if (!value)
        return module.emitError() << "tfm-learn-rotations: " << when << ": "
                                  << llvm::toString(value.takeError());
      return value->loss;
    };
    Clock::time_point start = Clock::now();
    FailureOr<double> before = lossOf("loss before learning");
    if (failed(before))
      return failure();
    llvm::errs() << llvm::formatv(
        "tfm-learn-rotations: {0} rotations, {1} steps of {2} x {3} tokens, "
        "calibration loss {4:F4} ({5} windows)\n",
        rotations.size(), int64_t(steps), int64_t(batch), int64_t(seqLen),
        *before, windows.size());

    respin::CayleyOptions options;
    options.momentum = momentum;
    std::vector<respin::CayleySGD> optimizers(rotations.size(),
                                              respin::CayleySGD(options));
    DataOrder order(int64_t(windows.size()), seed);
    llvm::json::Array losses, rates, seconds;
    Clock::time_point learning = Clock::now();
    for (int64_t step = 0; step < steps; ++step) {
      Clock::time_point stepStart = Clock::now();
      CalibrationWindows batchWindows;
      for (int64_t i = 0; i < batch; ++i)
        batchWindows.push_back(windows[order.next()]);
      double rate = respin::scheduledLearningRate(lrSchedule, lr, step, steps);
      auto value = objective.evaluate(rotations, batchWindows, true);
      if (!value)
        return module.emitError() << "tfm-learn-rotations: step " << step + 1
                                  << ": " << llvm::toString(value.takeError());
      if (!std::isfinite(value->loss))
        return module.emitError() << "tfm-learn-rotations: the loss of step "
                                  << step + 1 << " is not finite";
      for (size_t r = 0; r < rotations.size(); ++r)
        optimizers[r].step(rotations[r], value->gradients[r], rate);
      double took = secondsSince(stepStart);
      double eta =
          secondsSince(learning) / double(step + 1) * double(steps - step - 1);
      llvm::errs() << llvm::formatv(
          "tfm-learn-rotations: step {0}/{1} loss {2:F4} lr {3:G4} "
          "{4:F2} s/step ETA {5}\n",
          step + 1, int64_t(steps), value->loss, rate, took,
          formatDuration(eta));
      losses.push_back(value->loss);
      rates.push_back(rate);
      seconds.push_back(took);
    }
    FailureOr<double> after = lossOf("loss after learning");
    if (failed(after))
      return failure();
    llvm::errs() << llvm::formatv(
        "tfm-learn-rotations: calibration loss {0:F4} -> {1:F4} in {2}\n",
        *before, *after, formatDuration(secondsSince(start)));
    log["calibration_loss_before"] = *before;
    log["calibration_loss_after"] = *after;
    log["loss"] = std::move(losses);
    log["lr"] = std::move(rates);
    log["seconds_per_step"] = std::move(seconds);
    log["seconds"] = secondsSince(start);
    return success();
  }

  LogicalResult writeRotations(ModuleOp module,
                               const respin::exec::RotationProblem &problem,
                               const std::vector<Eigen::MatrixXd> &rotations) {
    if (rotationsOut.empty())
      return success();
    respin::SafetensorsWriter writer;
    writer.setMetadata("respin.learned_by", "tfm-learn-rotations");
    for (auto [name, matrix] : llvm::zip(problem.rotationNames, rotations)) {
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
          rowMajor = matrix;
      const auto *bytes = reinterpret_cast<const uint8_t *>(rowMajor.data());
      writer.addTensor(name, respin::DType::F64, {matrix.rows(), matrix.cols()},
                       std::vector<uint8_t>(bytes, bytes + rowMajor.size() *
                                                               sizeof(double)));
    }
    if (llvm::Error error = writer.write(rotationsOut))
      return module.emitError() << llvm::toString(std::move(error));
    return success();
  }

  LogicalResult writeReport(ModuleOp module,
                            const respin::exec::RotationProblem &problem,
                            llvm::json::Object log) {
    if (report.empty())
      return success();
    llvm::json::Array names;
    for (const std::string &name : problem.rotationNames)
      names.push_back(name);
    static const char *schedules[] = {"constant", "linear", "cosine"};
    llvm::json::Object root{
        {"pass", "tfm-learn-rotations"},
        {"mode", mode == ResidualRotationMode::Global ? "global" : "per-block"},
        {"steps", int64_t(steps)},
        {"lr", double(lr)},
        {"lr_schedule", schedules[int(lrSchedule.getValue())]},
        {"momentum", double(momentum)},
        {"batch", int64_t(batch)},
        {"seq_len", int64_t(seqLen)},
        {"samples", int64_t(samples)},
        {"seed", int64_t(seed)},
        {"w_bits", int64_t(wBits)},
        {"a_bits", int64_t(aBits)},
        {"kv_bits", int64_t(kvBits)},
        {"calib_file", std::string(calibFile)},
        {"rotations", std::move(names)},
    };
    for (auto &entry : log)
      root[entry.first] = std::move(entry.second);
    std::string text =
        llvm::formatv("{0:2}", llvm::json::Value(std::move(root))).str();
    if (llvm::Error error = respin::writeFileAtomically(report, text + "\n"))
      return module.emitError() << llvm::toString(std::move(error));
    return success();
  }
};

} // namespace
