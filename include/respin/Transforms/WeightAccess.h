//===- WeightAccess.h - Reading and rewriting weights in passes -*- C++ -*-===//
//
// Passes read weights as float64 matrices and write new ones back. A weight
// value is either a `tfm.param` (data in the context's ParameterSet) or a
// dense `arith.constant` (small tests). New weights of a function that uses
// parameters become parameters whose data is pending in the ParameterSet
// until `tfm-write-parameters` writes them; otherwise they are constants.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TRANSFORMS_WEIGHTACCESS_H
#define RESPIN_TRANSFORMS_WEIGHTACCESS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Value.h"

#include <Eigen/Core>

namespace mlir::tfm {

/// Row-major view semantics: a rank-2 weight [r, c] becomes an r x c
/// matrix, a rank-1 weight [n] an n x 1 column.
FailureOr<Eigen::MatrixXd> readWeight(Value weight);

/// Whether weights created in `op`'s module should be parameters.
bool usesParameters(Operation *op);

/// Creates a weight value of `shape` holding `values` (rank-2 shapes take
/// the matrix as is, rank-1 shapes a column). Parameters get `name` made
/// unique; `elementType` is f32 or f64.
Value createWeight(OpBuilder &builder, Location loc, StringRef name,
                   const Eigen::MatrixXd &values, ArrayRef<int64_t> shape,
                   Type elementType, bool asParameter);

/// Replaces the weight feeding `use` by `values` (same shape). A parameter
/// keeps its name when `use` is its only reference in the module (the new
/// data then overrides the archive's), otherwise gets `<name>.<suffix>`.
/// Weights stored as f16/bf16 come back as f32 so that folding is exact.
LogicalResult replaceWeight(OpOperand &use, const Eigen::MatrixXd &values,
                            StringRef suffix);

/// A parameter name not used by the module's archives, pending tensors or
/// any tfm.param of `module`, derived from `base`.
std::string uniqueParameterName(ModuleOp module, StringRef base);

/// Erases tfm.param and arith.constant ops left without uses.
void eraseDeadWeights(ModuleOp module);

} // namespace mlir::tfm

#endif // RESPIN_TRANSFORMS_WEIGHTACCESS_H
