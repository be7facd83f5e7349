//===- BufferPlan.cpp - Workspace layout of a compiled forward ------------===//

#include "BufferPlan.h"

#include "mlir/IR/Operation.h"

using namespace mlir;
using namespace mlir::tfm;

BufferPlan::BufferPlan(Block &block) {
  int64_t index = 0;
  for (Operation &op : block) {
    order[&op] = index;
    for (Value operand : op.getOperands())
      lastUse[operand] = index;
    ++index;
  }
}

bool BufferPlan::diesAt(Value value, Operation *op) const {
  auto use = lastUse.find(value);
  auto at = order.find(op);
  return use != lastUse.end() && at != order.end() && use->second <= at->second;
}

int64_t BufferPlan::allocate(int64_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  // Best fit among released regions; a larger one is split.
  auto fit = freeBySize.lower_bound(bytes);
  if (fit != freeBySize.end()) {
    int64_t offset = fit->second, size = fit->first;
    freeBySize.erase(fit);
    if (size > bytes)
      freeBySize.emplace(size - bytes, offset + bytes);
    return offset;
  }
  int64_t offset = end;
  end += bytes;
  return offset;
}

void BufferPlan::release(int64_t offset, int64_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  freeBySize.emplace(bytes, offset);
}
