//===- LayerwiseCalibrationTest.cpp - GPTQ in one forward pass ------------===//
//
// --tfm-quantize-weights=method=gptq calibrates every group of linears from
// windows held part-way through the network (one forward pass in all). The
// reference here is the straightforward procedure: for each group, a fresh
// full forward pass of every window through the final quantized IR (whose
// linears before the group are exactly those the group was calibrated
// with), its Hessian, and GPTQ of the original float weight. Codes, scales
// and the Hessian-dependent report numbers must be identical, on the graph
// shapes the pass supports: QuaRot with online Hadamards, per-block bases
// with rank-r residual adapters, dense transitions with activation fake
// quantizers in the graph. And the result must not depend on the thread
// count.
//
//===----------------------------------------------------------------------===//

#include "StoriesTestSupport.h"

#include "respin/Formats/Safetensors.h"
#include "respin/Numerics/RandomOrthogonal.h"
#include "respin/Transforms/CalibrationRunner.h"
#include "respin/Transforms/QuantizationTargets.h"
#include "respin/Transforms/WeightAccess.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"

using namespace respin;
using namespace respin::testing;

namespace {

constexpr int64_t kWindows = 3, kWindowLength = 64;

struct QuantizedLinear {
  std::string name;
  Eigen::MatrixXd codes, scales;
};

/// The codes and scales of every quantized linear, in program order.
std::vector<QuantizedLinear> quantizedLinears(LoadedModel &model) {
  auto forward = model.module->lookupSymbol<mlir::func::FuncOp>("forward");
  std::vector<QuantizedLinear> result;
  for (const mlir::tfm::LinearTarget &target :
       mlir::tfm::classifyLinears(forward)) {
    auto dequantize =
        target.op.getWeight().getDefiningOp<mlir::tfm::DequantizeOp>();
    if (!dequantize)
      continue;
    auto codes = mlir::tfm::readWeight(dequantize.getCodes());
    auto scales = mlir::tfm::readWeight(dequantize.getScales());
    EXPECT_TRUE(mlir::succeeded(codes) && mlir::succeeded(scales));
    if (mlir::succeeded(codes) && mlir::succeeded(scales))
      result.push_back({target.name, *codes, *scales});
  }
  return result;
}

llvm::json::Array reportLinears(const std::string &path) {
  auto text = llvm::MemoryBuffer::getFile(path);
  EXPECT_TRUE(bool(text)) << path;
  if (!text)
    return {};
  auto json = llvm::json::parse((*text)->getBuffer());
  EXPECT_TRUE(bool(json)) << path;
  if (!json)
    return {};
  const llvm::json::Array *linears = json->getAsObject()->getArray("linears");
  return linears ? *linears : llvm::json::Array();
}

class LayerwiseGPTQ : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("respin-gptq", directory));
    // Per-block bases that all differ, so that transitions and adapters are
    // far from the identity and any mistake in running them shows.
    SafetensorsWriter writer;
    auto add = [&](const std::string &name, const Eigen::MatrixXd &matrix) {
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
          rowMajor = matrix;
      const auto *bytes = reinterpret_cast<const uint8_t *>(rowMajor.data());
      writer.addTensor(
          name, DType::F64, {matrix.rows(), matrix.cols()},
          std::vector<uint8_t>(bytes, bytes + rowMajor.size() * 8));
    };
    for (int layer = 0; layer < 5; ++layer) {
      std::string prefix = "rotation.layers." + std::to_string(layer);
      add(prefix + ".r1", randomOrthogonalMatrix(64, 10 + 2 * layer));
      add(prefix + ".r2", randomOrthogonalMatrix(64, 11 + 2 * layer));
      add(prefix + ".head", randomOrthogonalMatrix(8, 40 + layer));
    }
    add("rotation.final", randomOrthogonalMatrix(64, 60));
    rotations = (directory + "/rotations.safetensors").str();
    ASSERT_FALSE(bool(writer.write(rotations)));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(directory); }

  std::string path(llvm::StringRef name) const {
    return (directory + "/" + name).str();
  }

  std::string gptqPass(unsigned threads, const std::string &report) const {
    return "tfm-quantize-weights{bits=4 method=gptq calib-file=" + calib +
           " calib-samples=" + std::to_string(kWindows) +
           " calib-seq-len=" + std::to_string(kWindowLength) +
           " threads=" + std::to_string(threads) +
           " progress=false report=" + report + "}";
  }

  /// Runs `pipeline`, then GPTQ, and checks every quantized linear against
  /// the stage-by-stage reference.
  void checkAgainstReference(const std::string &pipeline) {
    auto model = loadStories();
    ASSERT_TRUE(model);
    ASSERT_TRUE(runPipeline(*model, pipeline));
    auto forward = model->module->lookupSymbol<mlir::func::FuncOp>("forward");
    std::vector<Eigen::MatrixXd> floats;
    std::vector<std::string> names;
    for (const mlir::tfm::LinearTarget &target :
         mlir::tfm::classifyLinears(forward)) {
      auto weight = mlir::tfm::readWeight(target.op.getWeight());
      ASSERT_TRUE(mlir::succeeded(weight));
      floats.push_back(*weight);
      names.push_back(target.name);
    }
    std::string report = path("report.json");
    ASSERT_TRUE(runPipeline(*model, gptqPass(2, report)));
    llvm::json::Array entries = reportLinears(report);

    auto windows = mlir::tfm::loadCalibrationWindows(
        *model->module, calib, kWindows, kWindowLength, /*seed=*/0);
    ASSERT_TRUE(mlir::succeeded(windows));
    quant::WeightQuantSpec spec{4, 0, true};
    int checked = 0;
    auto targets = mlir::tfm::classifyLinears(forward);
    ASSERT_EQ(targets.size(), floats.size());
    for (size_t i = 0; i < targets.size(); ++i) {
      const mlir::tfm::LinearTarget &target = targets[i];
      auto dequantize =
          target.op.getWeight().getDefiningOp<mlir::tfm::DequantizeOp>();
      if (!dequantize)
        continue; // the lm_head
      auto hessian =
          mlir::tfm::collectInputHessian(forward, target.op, *windows);
      ASSERT_TRUE(mlir::succeeded(hessian));
      ASSERT_EQ(hessian->count(), kWindows * kWindowLength);
      quant::GPTQReport expected;
      auto reference =
          quant::quantizeGPTQ(target.name, floats[i], hessian->hessian(), spec,
                              quant::GPTQOptions(), &expected);
      ASSERT_TRUE(bool(reference)) << llvm::toString(reference.takeError());
      auto codes = mlir::tfm::readWeight(dequantize.getCodes());
      auto scales = mlir::tfm::readWeight(dequantize.getScales());
      ASSERT_TRUE(mlir::succeeded(codes) && mlir::succeeded(scales));
      int64_t rows = reference->rows, cols = reference->cols;
      int64_t mismatches = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          mismatches += (*codes)(r, c) != reference->codes[r * cols + c];
      EXPECT_EQ(mismatches, 0)
          << target.name << " (" << rows * cols << " codes)";
      for (int64_t r = 0; r < rows; ++r)
        EXPECT_EQ(float((*scales)(r, 0)), reference->scales[r])
            << target.name << " row " << r;
      // The output-error proxies are functions of every Hessian entry.
      ASSERT_LT(size_t(checked), entries.size());
      const llvm::json::Object *entry = entries[checked].getAsObject();
      ASSERT_TRUE(entry);
      EXPECT_EQ(entry->getString("name").value_or("").str(), names[i]);
      EXPECT_EQ(entry->getNumber("proxy_error").value_or(-1.0),
                expected.proxyError)
          << target.name;
      EXPECT_EQ(entry->getNumber("proxy_error_rtn").value_or(-1.0),
                expected.proxyErrorRTN)
          << target.name;
      ++checked;
    }
    EXPECT_EQ(checked, 35); // 5 layers x q, k, v, o, gate, up, down
    EXPECT_EQ(size_t(checked), entries.size());
  }

  llvm::SmallString<128> directory;
  std::string rotations;
  std::string calib = dataPath("text/tinystories-calib.txt");
};

} // namespace

TEST_F(LayerwiseGPTQ, QuaRotWithOnlineHadamardsMatchesStageByStage) {
  checkAgainstReference(
      "tfm-fuse-norms,tfm-insert-rotations{mode=global init=random-hadamard "
      "seed=0 online-hadamard=both},tfm-fold-rotations");
}

TEST_F(LayerwiseGPTQ, ResidualAdaptersMatchStageByStage) {
  checkAgainstReference("tfm-fuse-norms,tfm-insert-rotations{mode=per-block "
                        "init=archive online-hadamard=both rotations=" +
                        rotations +
                        "},tfm-approximate-residual-rotations{rank=8},"
                        "tfm-fold-rotations");
}

TEST_F(LayerwiseGPTQ, TransitionsAndFakeQuantMatchStageByStage) {
  checkAgainstReference("tfm-fuse-norms,tfm-insert-rotations{mode=per-block "
                        "init=archive online-hadamard=down rotations=" +
                        rotations +
                        "},tfm-fold-rotations,"
                        "tfm-quantize-activations{bits=4 kv-bits=4}");
}

TEST_F(LayerwiseGPTQ, ResultDoesNotDependOnThreadCount) {
  std::string pipeline =
      "tfm-fuse-norms,tfm-insert-rotations{mode=per-block init=archive "
      "online-hadamard=both rotations=" +
      rotations +
      "},tfm-approximate-residual-rotations{rank=8},"
      "tfm-fold-rotations";
  std::vector<std::vector<QuantizedLinear>> results;
  std::vector<std::string> reports;
  for (unsigned threads : {1u, 3u}) {
    auto model = loadStories();
    ASSERT_TRUE(model);
    std::string report = path("threads" + std::to_string(threads) + ".json");
    ASSERT_TRUE(runPipeline(*model, pipeline));
    ASSERT_TRUE(runPipeline(*model, gptqPass(threads, report)));
    results.push_back(quantizedLinears(*model));
    auto text = llvm::MemoryBuffer::getFile(report);
    ASSERT_TRUE(bool(text));
    reports.push_back((*text)->getBuffer().str());
  }
  ASSERT_EQ(results[0].size(), 35u);
  ASSERT_EQ(results[1].size(), results[0].size());
  for (size_t i = 0; i < results[0].size(); ++i) {
    EXPECT_EQ(results[0][i].name, results[1][i].name);
    EXPECT_TRUE(results[0][i].codes == results[1][i].codes)
        << results[0][i].name;
    EXPECT_TRUE(results[0][i].scales == results[1][i].scales)
        << results[0][i].name;
  }
  EXPECT_EQ(reports[0], reports[1]); // every proxy error, bit for bit
}
