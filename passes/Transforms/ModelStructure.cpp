//===- ModelStructure.cpp - The residual stream of a tfm function ---------===//

#include "respin/Transforms/ModelStructure.h"

using namespace mlir;
using namespace mlir::tfm;

/// The single user of `stream` of type OpTy, or a null op.
template <typename OpTy> static OpTy singleUserOfType(Value stream) {
  OpTy found;
  for (Operation *user : stream.getUsers())
    if (auto op = dyn_cast<OpTy>(user)) {
      if (found && found != op)
        return OpTy();
      found = op;
    }
  return found;
}

FailureOr<ResidualStream> mlir::tfm::analyzeResidualStream(func::FuncOp func) {
  ResidualStream result;
  func.walk([&](EmbeddingOp embedding) {
    if (!result.embedding)
      result.embedding = embedding;
  });
  if (!result.embedding)
    return func.emitError("no tfm.embedding: cannot find the residual stream");

  Value stream = result.embedding.getResult();
  while (true) {
    RMSNormOp norm = singleUserOfType<RMSNormOp>(stream);
    AddOp add = singleUserOfType<AddOp>(stream);
    if (!norm)
      return emitError(stream.getLoc())
             << "the residual stream must feed exactly one tfm.rms_norm";
    if (!add) {
      result.finalNorm = norm;
      for (Operation *user : norm->getUsers()) {
        auto head = dyn_cast<LinearOp>(user);
        if (!head)
          return user->emitOpError("reads the final norm but is not a linear");
        result.heads.push_back(head);
      }
      return result;
    }
    ResidualBlock block;
    block.stream = stream;
    block.norm = norm;
    block.add = add;
    block.skipOperand = add.getLhs() == stream ? 0 : 1;
    Value other = add->getOperand(1 - block.skipOperand);
    block.output = other.getDefiningOp<LinearOp>();
    if (!block.output)
      return add.emitOpError("adds to the residual stream a value that is not "
                             "produced by a linear");
    Operation *inner = block.output.getInput().getDefiningOp();
    if (auto attention = dyn_cast_or_null<AttentionOp>(inner)) {
      block.kind = ResidualBlock::Kind::Attention;
      block.attention = attention;
    } else if (isa_and_nonnull<SiluMulOp>(inner)) {
      block.kind = ResidualBlock::Kind::MLP;
    }
    result.blocks.push_back(block);
    stream = add.getResult();
  }
}
