//===- ExecutorValidationTest.cpp - The executor trusts no unchecked shape ===//
//
// IR the verifier accepts but the executor cannot run safely is refused when
// the program is built, with the error on the offending op: static token
// counts, an embedding table smaller than the logits, non-finite weights.
// Cache slot numbers are only names (10^9 and INT64_MAX cost nothing). The
// program validator is also checked directly on programs no IR could
// produce, so the kernels' bounds never depend on the verifier alone.
//
//===----------------------------------------------------------------------===//

#include "respin/Executor/Session.h"
#include "respin/Executor/Validate.h"
#include "respin/Interpreter/ModelLoader.h"

#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace respin;

namespace {

/// Parses `source` and builds its @forward program, collecting the first
/// error diagnostic (with its location's line) in `message`.
class ProgramFromIR {
public:
  ProgramFromIR() : context(makeRegistry()) {
    context.loadAllAvailableDialects();
  }

  mlir::FailureOr<exec::Program> build(llvm::StringRef source) {
    message.clear();
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      if (message.empty() && d.getSeverity() == mlir::DiagnosticSeverity::Error) {
        message = d.str();
        if (auto loc = mlir::dyn_cast<mlir::FileLineColLoc>(d.getLocation()))
          line = loc.getLine();
      }
      return mlir::success();
    });
    module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
    if (!module)
      return mlir::failure();
    return buildProgram(*module->getOps<mlir::func::FuncOp>().begin());
  }

  std::string message;
  unsigned line = 0;

private:
  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    registerModelDialects(registry);
    return registry;
  }
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

/// A one-layer model: embedding, attention with cache slot `slot`, and a
/// linear to the logits. Token ids and logits cover `vocab` entries.
std::string attentionModel(llvm::StringRef slot, int vocab = 4,
                           llvm::StringRef tokens = "tensor<?xi32>") {
  std::string v = std::to_string(vocab);
  return "func.func @forward(%tokens: " + tokens.str() +
         ", %positions: tensor<?xi32>) -> tensor<?x" + v + "xf32> {\n"
         "  %table = arith.constant dense<[[0.5, -1.0], [1.0, 2.0], [0.25, 0.0], "
         "[-2.0, 1.5]]> : tensor<4x2xf32>\n"
         "  %h = tfm.embedding %table[%tokens] : tensor<4x2xf32>, " +
         tokens.str() + " -> tensor<?x2xf32>\n"
         "  %a = tfm.attention %h, %h, %h {num_heads = 1 : i64, num_kv_heads = "
         "1 : i64, head_dim = 2 : i64, scale = 1.0 : f64, cache_slot = " +
         slot.str() +
         " : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>) -> "
         "tensor<?x2xf32>\n"
         "  %w = arith.constant dense<1.0> : tensor<" + v + "x2xf32>\n"
         "  %y = tfm.linear %a, %w : (tensor<?x2xf32>, tensor<" + v +
         "x2xf32>) -> tensor<?x" + v + "xf32>\n"
         "  return %y : tensor<?x" + v + "xf32>\n}\n";
}

TEST(ExecutorValidation, CacheSlotsAreNamesNotSizes) {
  ProgramFromIR ir;
  auto reference = ir.build(attentionModel("0"));
  ASSERT_TRUE(mlir::succeeded(reference)) << ir.message;
  std::vector<int32_t> tokens = {1, 3, 0, 2};
  auto expected = exec::Session(*reference).forward(tokens);
  ASSERT_TRUE(bool(expected));
  for (const char *slot : {"1000000000", "9223372036854775807"}) {
    auto program = ir.build(attentionModel(slot));
    ASSERT_TRUE(mlir::succeeded(program)) << slot << ": " << ir.message;
    EXPECT_EQ(program->numCacheSlots, 1) << slot;
    auto logits = exec::Session(*program).forward(tokens);
    ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
    EXPECT_EQ(*logits, *expected) << slot;
  }
}

TEST(ExecutorValidation, RefusesStaticTokenCounts) {
  ProgramFromIR ir;
  EXPECT_TRUE(mlir::failed(ir.build(attentionModel("0", 4, "tensor<8xi32>"))));
  EXPECT_EQ(ir.message, "the executor runs sequences of any length: the token "
                        "and position inputs must be tensor<?xi32>, got "
                        "'tensor<8xi32>'");

  // A static row count anywhere else (here on the embedding).
  std::string embeddingOnly =
      "func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) "
      "-> tensor<8x4xf32> {\n"
      "  %table = arith.constant dense<1.0> : tensor<4x4xf32>\n"
      "  %h = tfm.embedding %table[%tokens] : tensor<4x4xf32>, tensor<?xi32> "
      "-> tensor<8x4xf32>\n"
      "  return %h : tensor<8x4xf32>\n}\n";
  EXPECT_TRUE(mlir::failed(ir.build(embeddingOnly)));
  EXPECT_EQ(ir.message, "'tfm.embedding' op the executor runs any number of "
                        "tokens: the result must be tensor<?xNxf32>, got "
                        "'tensor<8x4xf32>'");
  EXPECT_EQ(ir.line, 3u);
}

TEST(ExecutorValidation, EmbeddingAndLogitsMustCoverTheSameVocabulary) {
  // Four rows of embeddings but eight logits: token ids 4..7 would be read
  // past the end of the table (and scored by perplexity).
  std::string source =
      "func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) "
      "-> tensor<?x8xf32> {\n"
      "  %table = arith.constant dense<1.0> : tensor<4x2xf32>\n"
      "  %h = tfm.embedding %table[%tokens] : tensor<4x2xf32>, tensor<?xi32> "
      "-> tensor<?x2xf32>\n"
      "  %w = arith.constant dense<1.0> : tensor<8x2xf32>\n"
      "  %y = tfm.linear %h, %w : (tensor<?x2xf32>, tensor<8x2xf32>) -> "
      "tensor<?x8xf32>\n"
      "  return %y : tensor<?x8xf32>\n}\n";
  ProgramFromIR ir;
  EXPECT_TRUE(mlir::failed(ir.build(source)));
  EXPECT_EQ(ir.message, "the result has 8 logits per token but the embedding "
                        "table has 4 rows: token ids and logits must index the "
                        "same vocabulary");
  EXPECT_EQ(ir.line, 1u); // on @forward
}

TEST(ExecutorValidation, RefusesNonFiniteWeights) {
  std::string source = attentionModel("0");
  source.replace(source.find("[0.25, 0.0]"), 11, "[0.25, 0x7FC00000]");
  ProgramFromIR ir;
  EXPECT_TRUE(mlir::failed(ir.build(source)));
  EXPECT_EQ(ir.message, "embedding table '<constant>' holds NaN at [2, 1]");
  EXPECT_EQ(ir.line, 3u);
}

//===----------------------------------------------------------------------===//
// The validator on programs built by hand
//===----------------------------------------------------------------------===//

/// embedding (vocab x 8) -> linear `weight` -> logits (vocab wide).
struct HandProgram {
  exec::Program program;
  exec::Weight *table, *weight;

  explicit HandProgram(int64_t vocab = 4) {
    table = &program.weights.emplace_back();
    table->name = "table";
    table->rows = vocab;
    table->cols = 8;
    table->owned.assign(vocab * 8, 0.5f);
    table->data = table->owned.data();
    weight = &program.weights.emplace_back();
    weight->name = "w";
    weight->rows = vocab;
    weight->cols = 8;
    weight->owned.assign(vocab * 8, 0.25f);
    weight->data = weight->owned.data();
    program.numValues = 4;
    program.tokensValue = 0;
    program.positionsValue = 1;
    program.resultValue = 3;
    program.vocabSize = vocab;
    exec::Instruction embed{exec::OpKind::Embedding};
    embed.result = 2;
    embed.width = 8;
    embed.weight = table;
    exec::Instruction linear{exec::OpKind::Linear};
    linear.operands = {2};
    linear.result = 3;
    linear.width = vocab;
    linear.weight = weight;
    program.instructions = {embed, linear};
  }
};

TEST(ExecutorValidation, ValidatorAcceptsAConsistentProgram) {
  HandProgram hand;
  std::optional<exec::ProgramDefect> defect =
      exec::validateProgram(hand.program);
  EXPECT_FALSE(defect) << defect->message;
}

TEST(ExecutorValidation, ValidatorRefusesAWeightNarrowerThanItsInput) {
  HandProgram hand;
  hand.weight->cols = 4; // the kernel would read 8 columns of 4
  hand.weight->owned.resize(hand.weight->rows * 4);
  std::optional<exec::ProgramDefect> defect =
      exec::validateProgram(hand.program);
  ASSERT_TRUE(defect);
  EXPECT_EQ(defect->instruction, 1);
  EXPECT_EQ(defect->message,
            "weight 'w' is [4, 4] but the input has 8 features");
}

TEST(ExecutorValidation, ValidatorRefusesADeclaredWidthTheWeightsDoNotGive) {
  HandProgram hand;
  hand.program.instructions[0].width = 16;
  std::optional<exec::ProgramDefect> defect =
      exec::validateProgram(hand.program);
  ASSERT_TRUE(defect);
  EXPECT_EQ(defect->instruction, 0);
  EXPECT_EQ(defect->message, "computes 8 features per token but its result "
                             "type says 16");
}

TEST(ExecutorValidation, ValidatorRefusesRopeWiderThanItsRows) {
  HandProgram hand;
  exec::Instruction rope{exec::OpKind::Rope};
  rope.operands = {2};
  rope.result = 4;
  rope.width = 8;
  rope.rope.numHeads = 4096; // 4096 heads of 8 on rows of 8
  rope.rope.headDim = 8;
  rope.rope.rotaryDim = 8;
  rope.rope.inverseFrequencies = {1.0, 0.1, 0.01, 0.001};
  hand.program.instructions.insert(hand.program.instructions.begin() + 1, rope);
  hand.program.numValues = 5;
  std::optional<exec::ProgramDefect> defect =
      exec::validateProgram(hand.program);
  ASSERT_TRUE(defect);
  EXPECT_EQ(defect->instruction, 1);
  EXPECT_EQ(defect->message,
            "rows of 8 features are not 4096 heads x 8");
}

TEST(ExecutorValidation, ValidatorRefusesUseBeforeDefinition) {
  HandProgram hand;
  std::swap(hand.program.instructions[0], hand.program.instructions[1]);
  std::optional<exec::ProgramDefect> defect =
      exec::validateProgram(hand.program);
  ASSERT_TRUE(defect);
  EXPECT_EQ(defect->instruction, 0);
  EXPECT_EQ(defect->message, "operand #0 is not computed before it is used");
}

TEST(ExecutorValidation, ValidatorRefusesMismatchedAddOperands) {
  HandProgram hand;
  exec::Weight *narrow = &hand.program.weights.emplace_back();
  narrow->name = "narrow";
  narrow->rows = 64;
  narrow->cols = 8;
  narrow->owned.assign(64 * 8, 1.0f);
  narrow->data = narrow->owned.data();
  exec::Instruction wide{exec::OpKind::Linear};
  wide.operands = {2};
  wide.result = 4;
  wide.width = 64;
  wide.weight = narrow;
  exec::Instruction add{exec::OpKind::Add};
  add.operands = {2, 4}; // 8 + 64 features
  add.result = 5;
  add.width = 8;
  hand.program.instructions.insert(hand.program.instructions.begin() + 1,
                                   {wide, add});
  hand.program.numValues = 6;
  std::optional<exec::ProgramDefect> defect =
      exec::validateProgram(hand.program);
  ASSERT_TRUE(defect);
  EXPECT_EQ(defect->instruction, 2);
  EXPECT_EQ(defect->message, "operands have 8 and 64 features");
}

} // namespace
