//===- QuantizedModelTest.cpp - Quantization on the real stories260K ------===//
//
// The quantization passes and the executor's quantized ops on the real
// model: W8A8KV8 stays within 1% of the float perplexity, GPTQ lowers the
// output error of real layers below RTN's on held-out calibration inputs and
// the perplexity with it, KV-cache decoding of a quantized model matches the
// full sequence, and the loader refuses codes outside their bit range.
//
//===----------------------------------------------------------------------===//

#include "StoriesTestSupport.h"

#include "respin/Transforms/CalibrationRunner.h"
#include "respin/Transforms/QuantizationTargets.h"
#include "respin/Transforms/WeightAccess.h"

#include "mlir/Parser/Parser.h"

using namespace respin;
using namespace respin::testing;

namespace {

mlir::func::FuncOp forwardOf(LoadedModel &model) {
  return model.module->lookupSymbol<mlir::func::FuncOp>("forward");
}

double perplexity(const LoadedModel &model, const std::string &text,
                  int64_t maxWindows = 0) {
  PerplexityOptions options;
  options.maxWindows = maxWindows;
  auto result = evaluatePerplexity(model, text, options);
  EXPECT_TRUE(bool(result)) << llvm::toString(result.takeError());
  return result ? result->perplexity() : 0.0;
}

} // namespace

TEST(QuantizedStories260K, W8A8KV8PerplexityWithinOnePercentOfFloat) {
  auto model = loadStories();
  ASSERT_TRUE(model);
  std::string text = readDataText("text/tinystories-eval.txt");
  double fp32 = perplexity(*model, text);
  ASSERT_TRUE(runPipeline(*model,
                          "tfm-quantize-weights{bits=8},"
                          "tfm-quantize-activations{bits=8 kv-bits=8}"));
  double w8a8 = perplexity(*model, text);
  // The acceptance bound. 8-bit RTN on this model costs about 0.2%.
  EXPECT_LT(std::abs(w8a8 - fp32) / fp32, 0.01) << fp32 << " vs " << w8a8;
  EXPECT_NE(w8a8, fp32); // the quantizers are really in the graph
}

TEST(QuantizedStories260K, GPTQLowersRealLayerOutputErrorBelowRTN) {
  auto model = loadStories();
  ASSERT_TRUE(model);
  mlir::func::FuncOp forward = forwardOf(*model);
  // Calibration and held-out inputs: disjoint seeds over the calibration
  // text (never the evaluation text).
  std::string calib = dataPath("text/tinystories-calib.txt");
  auto fit = mlir::tfm::loadCalibrationWindows(*model->module, calib, 16, 256,
                                               /*seed=*/1);
  auto heldOut = mlir::tfm::loadCalibrationWindows(*model->module, calib, 16,
                                                   256, /*seed=*/2);
  ASSERT_TRUE(mlir::succeeded(fit) && mlir::succeeded(heldOut));
  int checked = 0;
  for (const mlir::tfm::LinearTarget &target :
       mlir::tfm::classifyLinears(forward)) {
    // Layer 1's q (shared norm input) and down (heavy-tailed inputs).
    if (target.layer != 1 || (target.role != mlir::tfm::LinearRole::Query &&
                              target.role != mlir::tfm::LinearRole::Down))
      continue;
    auto h = mlir::tfm::collectInputHessian(forward, target.op, *fit);
    auto hHeld = mlir::tfm::collectInputHessian(forward, target.op, *heldOut);
    ASSERT_TRUE(mlir::succeeded(h) && mlir::succeeded(hHeld));
    EXPECT_EQ(h->count(), 16 * 256);
    auto weight = mlir::tfm::readWeight(target.op.getWeight());
    ASSERT_TRUE(mlir::succeeded(weight));
    for (int bits : {3, 4}) {
      quant::WeightQuantSpec spec{bits, 0, true};
      quant::GPTQReport report;
      auto gptq = quant::quantizeGPTQ(target.name, *weight, h->hessian(), spec,
                                      quant::GPTQOptions(), &report);
      ASSERT_TRUE(bool(gptq)) << llvm::toString(gptq.takeError());
      std::vector<float> w(weight->size());
      for (int64_t r = 0; r < weight->rows(); ++r)
        for (int64_t c = 0; c < weight->cols(); ++c)
          w[r * weight->cols() + c] = float((*weight)(r, c));
      auto rtn = quant::quantizeRTN(target.name, w, weight->rows(),
                                    weight->cols(), spec, quant::ClipSearch());
      ASSERT_TRUE(bool(rtn));
      EXPECT_FALSE(report.fellBackToRTN) << report.fallbackReason;
      // Output error on the held-out inputs: 2/n ||X (W - Q)^T||^2 / rows.
      double errGPTQ = quant::proxyError(*weight, *gptq, hHeld->hessian());
      double errRTN = quant::proxyError(*weight, *rtn, hHeld->hessian());
      EXPECT_LT(errGPTQ, errRTN) << target.name << " at " << bits << " bits";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4);
}

TEST(QuantizedStories260K, GPTQPassBeatsRTNPerplexity) {
  std::string text = readDataText("text/tinystories-eval.txt");
  std::string calib = dataPath("text/tinystories-calib.txt");
  auto rtnModel = loadStories();
  auto gptqModel = loadStories();
  ASSERT_TRUE(rtnModel && gptqModel);
  ASSERT_TRUE(runPipeline(*rtnModel, "tfm-quantize-weights{bits=3}"));
  ASSERT_TRUE(runPipeline(
      *gptqModel, "tfm-quantize-weights{bits=3 method=gptq calib-file=" +
                      calib + " calib-samples=16 calib-seq-len=256}"));
  // The first 40 windows (20k tokens): 3-bit RTN costs tens of percent of
  // perplexity here, far more than the sampling noise of this subset.
  double rtn = perplexity(*rtnModel, text, 40);
  double gptq = perplexity(*gptqModel, text, 40);
  EXPECT_LT(gptq, rtn);
}

TEST(QuantizedStories260K, KVCacheDecodingMatchesFullSequence) {
  auto model = loadStories();
  ASSERT_TRUE(model);
  ASSERT_TRUE(runPipeline(*model,
                          "tfm-quantize-weights{bits=4},"
                          "tfm-quantize-activations{bits=4 kv-bits=4}"));
  auto tokens =
      tokenizeStories(*model->tokenizer, readDataText("text/tinystories-eval.txt"));
  ASSERT_TRUE(bool(tokens));
  tokens->resize(48);
  exec::Session full(model->program), stepwise(model->program);
  auto all = full.forward(*tokens);
  ASSERT_TRUE(bool(all));
  // Every quantizer works per token (per token-head for K and V), so a
  // token's codes do not depend on how many tokens are computed together;
  // only float summation order may differ.
  double worst = 0.0;
  for (size_t t = 0; t < tokens->size(); ++t) {
    auto one = stepwise.forward({(*tokens)[t]});
    ASSERT_TRUE(bool(one));
    worst = std::max<double>(worst,
                             (all->row(t) - one->row(0)).cwiseAbs().maxCoeff() /
                                 all->row(t).cwiseAbs().maxCoeff());
  }
  // A summation-order difference that flips one activation code moves
  // the logits by about one code step (1/15 of a row's range at 4 bits)
  // times a weight; 1e-3 leaves room for a few such flips but not for a
  // cache that quantizes differently.
  EXPECT_LT(worst, 1e-3);
}

TEST(QuantizedExecutor, LoaderRefusesCodesOutsideTheirRange) {
  mlir::DialectRegistry registry;
  registerModelDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  auto parse = [&](llvm::StringRef codes, llvm::StringRef scales) {
    std::string source =
        "func.func @forward(%tokens: tensor<?xi32>, %positions: "
        "tensor<?xi32>) -> tensor<?x2xf32> {\n"
        "  %table = arith.constant dense<1.0> : tensor<2x2xf32>\n"
        "  %h = tfm.embedding %table[%tokens] : tensor<2x2xf32>, "
        "tensor<?xi32> -> tensor<?x2xf32>\n"
        "  %c = arith.constant dense<" +
        codes.str() +
        "> : tensor<2x2xi8>\n"
        "  %s = arith.constant dense<" +
        scales.str() +
        "> : tensor<2x1xf32>\n"
        "  %w = tfm.dequantize %c, %s {bits = 4 : i64} : (tensor<2x2xi8>, "
        "tensor<2x1xf32>) -> tensor<2x2xf32>\n"
        "  %y = tfm.linear %h, %w : (tensor<?x2xf32>, tensor<2x2xf32>) -> "
        "tensor<?x2xf32>\n"
        "  return %y : tensor<?x2xf32>\n}\n";
    return mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  };
  std::string message;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    message = d.str();
    return mlir::success();
  });
  auto good = parse("[[-8, 7], [1, 2]]", "[[0.5], [0.25]]");
  ASSERT_TRUE(good);
  auto program = buildProgram(*good->getOps<mlir::func::FuncOp>().begin());
  ASSERT_TRUE(mlir::succeeded(program)) << message;
  // W = codes * scales row by row, then y = x W^T with x = [1, 1].
  exec::Session session(*program);
  auto logits = session.forward({0});
  ASSERT_TRUE(bool(logits));
  EXPECT_EQ((*logits)(0, 0), -0.5f); // (-8 + 7) * 0.5
  EXPECT_EQ((*logits)(0, 1), 0.75f); // (1 + 2) * 0.25

  auto bad = parse("[[-8, 9], [1, 2]]", "[[0.5], [0.25]]");
  ASSERT_TRUE(bad);
  EXPECT_TRUE(
      mlir::failed(buildProgram(*bad->getOps<mlir::func::FuncOp>().begin())));
  EXPECT_EQ(message, "'tfm.dequantize' op code 9 of <constant> at [0, 1] is "
                     "outside the 4-bit range [-8, 7]");
  auto negative = parse("[[-8, 7], [1, 2]]", "[[0.5], [-0.25]]");
  ASSERT_TRUE(negative);
  EXPECT_TRUE(mlir::failed(
      buildProgram(*negative->getOps<mlir::func::FuncOp>().begin())));
  EXPECT_EQ(message, "'tfm.dequantize' op scale -0.25 of <constant> at [1, 0] "
                     "must be finite and non-negative");
}
