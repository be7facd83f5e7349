//===- BufferPlan.h - Workspace layout of a compiled forward ---*- C++ -*-===//
//
// Every activation of a straight-line forward function gets a region of one
// workspace, sized for the most tokens a call runs. A region is reused once
// the value in it is dead; an op that updates its input in place may take
// over the input's region when that input dies at the op.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_PASSES_CONVERSION_TFMTORUNTIME_BUFFERPLAN_H
#define RESPIN_PASSES_CONVERSION_TFMTORUNTIME_BUFFERPLAN_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <map>

namespace mlir::tfm {

class BufferPlan {
public:
  /// Numbers the ops of `block` and records each value's last use.
  explicit BufferPlan(Block &block);

  /// Whether `value` is not used after `op`.
  bool diesAt(Value value, Operation *op) const;

  /// A region of `bytes` for a value defined at `op` (64-byte aligned).
  int64_t allocate(int64_t bytes);
  /// Gives `offset` (of `bytes`) back for reuse.
  void release(int64_t offset, int64_t bytes);

  /// Workspace bytes needed by everything allocated so far.
  int64_t size() const { return end; }

private:
  llvm::DenseMap<Value, int64_t> lastUse;
  llvm::DenseMap<Operation *, int64_t> order;
  std::multimap<int64_t, int64_t> freeBySize; ///< bytes -> offset
  int64_t end = 0;
};

} // namespace mlir::tfm

#endif
