//===- QuantizationTargets.cpp - Which linears get quantized --------------===//

#include "respin/Transforms/QuantizationTargets.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"

#include <cstdio>

using namespace mlir;
using namespace mlir::tfm;

namespace {
/// Ops that pass one activation through, feature for feature or per head,
/// without changing which role it plays.
bool isTransparent(Operation *op) {
  return isa<RopeOp, HadamardOp, RotateOp, FakeQuantOp>(op);
}

/// The op producing `value`, looking through transparent ops upwards.
Operation *producerThrough(Value value) {
  Operation *def = value.getDefiningOp();
  while (def && isTransparent(def))
    def = def->getOperand(0).getDefiningOp();
  return def;
}

/// Classifies by the first non-transparent consumer of `value`.
LinearRole roleFromUses(Value value, LinearOp linear, AttentionOp &attention) {
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (isTransparent(user) && use.getOperandNumber() == 0) {
      LinearRole role = roleFromUses(user->getResult(0), linear, attention);
      if (role != LinearRole::Unknown)
        return role;
      continue;
    }
    if (auto op = dyn_cast<AttentionOp>(user)) {
      attention = op;
      return use.getOperandNumber() == 0   ? LinearRole::Query
             : use.getOperandNumber() == 1 ? LinearRole::Key
                                           : LinearRole::Value;
    }
    if (isa<SiluMulOp>(user))
      return use.getOperandNumber() == 0 ? LinearRole::Gate : LinearRole::Up;
    if (isa<AddOp>(user)) {
      Operation *inner = producerThrough(linear.getInput());
      if (auto op = dyn_cast_or_null<AttentionOp>(inner)) {
        attention = op;
        return LinearRole::Output;
      }
      if (isa_and_nonnull<SiluMulOp>(inner))
        return LinearRole::Down;
      return LinearRole::Unknown;
    }
    if (isa<func::ReturnOp>(user))
      return LinearRole::LMHead;
  }
  return LinearRole::Unknown;
}

/// Parameter name behind a weight (through tfm.dequantize), or "".
std::string weightName(Value weight) {
  if (auto dequantize = weight.getDefiningOp<DequantizeOp>())
    weight = dequantize.getCodes();
  if (auto param = weight.getDefiningOp<ParamOp>())
    return param.getName().str();
  return "";
}
} // namespace

StringRef mlir::tfm::linearRoleName(LinearRole role) {
  switch (role) {
  case LinearRole::Query:
    return "q";
  case LinearRole::Key:
    return "k";
  case LinearRole::Value:
    return "v";
  case LinearRole::Output:
    return "o";
  case LinearRole::Gate:
    return "gate";
  case LinearRole::Up:
    return "up";
  case LinearRole::Down:
    return "down";
  case LinearRole::LMHead:
    return "lm_head";
  case LinearRole::Unknown:
    break;
  }
  return "unknown";
}

SmallVector<LinearTarget> mlir::tfm::classifyLinears(func::FuncOp func) {
  llvm::DenseMap<Operation *, int64_t> attentionIndex;
  SmallVector<LinearTarget> targets;
  int64_t attentionsSeen = 0;
  func.walk([&](Operation *op) {
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      attentionIndex[op] = attentionsSeen++;
      return;
    }
    auto linear = dyn_cast<LinearOp>(op);
    if (!linear)
      return;
    LinearTarget target;
    target.op = linear;
    target.role = roleFromUses(linear.getResult(), linear, target.attention);
    // MLP linears belong to the layer of the attention before them.
    if (target.role == LinearRole::Gate || target.role == LinearRole::Up ||
        target.role == LinearRole::Down)
      target.layer = attentionsSeen - 1;
    targets.push_back(target);
  });
  for (LinearTarget &target : targets) {
    if (target.attention)
      target.layer = attentionIndex.lookup(target.attention);
    target.name = weightName(target.op.getWeight());
    if (target.name.empty())
      target.name =
          target.layer >= 0
              ? ("layers." + llvm::Twine(target.layer) + "." +
                 linearRoleName(target.role))
                    .str()
              : ("the " + linearRoleName(target.role) + " linear").str();
  }
  return targets;
}

FailureOr<SmallVector<LinearRole>>
mlir::tfm::parseLinearRoles(StringRef list, StringRef option,
                            Operation *anchor) {
  static const LinearRole decoder[] = {
      LinearRole::Query, LinearRole::Key, LinearRole::Value, LinearRole::Output,
      LinearRole::Gate,  LinearRole::Up,  LinearRole::Down};
  SmallVector<LinearRole> roles;
  SmallVector<StringRef> entries;
  list.split(entries, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (StringRef entry : entries) {
    entry = entry.trim();
    if (entry == "all-decoder") {
      roles.append(std::begin(decoder), std::end(decoder));
      continue;
    }
    bool found = false;
    for (LinearRole role :
         {LinearRole::Query, LinearRole::Key, LinearRole::Value,
          LinearRole::Output, LinearRole::Gate, LinearRole::Up,
          LinearRole::Down, LinearRole::LMHead})
      if (entry == linearRoleName(role)) {
        roles.push_back(role);
        found = true;
      }
    if (!found)
      return anchor->emitError()
             << "unknown linear '" << entry << "' in " << option
             << "= (expected a comma-separated list of q, k, v, o, gate, up, "
                "down, lm_head or all-decoder)";
  }
  if (roles.empty())
    return anchor->emitError() << option << "= names no linear";
  return roles;
}

std::string mlir::tfm::formatOptionNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}
