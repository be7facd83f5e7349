//===- WeightAccess.cpp - Reading and rewriting weights in passes ---------===//

#include "respin/Transforms/WeightAccess.h"
#include "respin/Dialect/Tfm/IR/TfmParameters.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::tfm;

namespace {
using RowMajorMatrixXd =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Rows and columns a weight of `shape` is viewed as.
std::pair<int64_t, int64_t> matrixShape(ArrayRef<int64_t> shape) {
  if (shape.size() == 1)
    return {shape[0], 1};
  return {shape[0], shape[1]};
}
} // namespace

FailureOr<Eigen::MatrixXd> mlir::tfm::readWeight(Value weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  auto [rows, cols] = matrixShape(type.getShape());
  Operation *def = weight.getDefiningOp();
  std::vector<double> values;
  if (auto param = dyn_cast_or_null<ParamOp>(def)) {
    FailureOr<const respin::TensorView *> tensor = lookupParameter(param);
    if (failed(tensor))
      return failure();
    values = (*tensor)->toFloat64();
  } else if (auto constant = dyn_cast_or_null<arith::ConstantOp>(def)) {
    auto dense = dyn_cast<DenseFPElementsAttr>(constant.getValue());
    if (!dense)
      return constant.emitOpError("is not a dense floating-point weight");
    for (const APFloat &element : dense.getValues<APFloat>()) {
      APFloat copy = element;
      bool lost;
      copy.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      values.push_back(copy.convertToDouble());
    }
  } else {
    return emitError(weight.getLoc())
           << "weight must come from tfm.param or arith.constant";
  }
  if (int64_t(values.size()) != rows * cols)
    return emitError(weight.getLoc()) << "weight holds " << values.size()
                                      << " values, expected " << rows * cols;
  return Eigen::MatrixXd(
      Eigen::Map<const RowMajorMatrixXd>(values.data(), rows, cols));
}

bool mlir::tfm::usesParameters(Operation *op) {
  auto module = op->getParentOfType<ModuleOp>();
  bool found = false;
  module.walk([&](ParamOp) {
    found = true;
    return WalkResult::interrupt();
  });
  return found;
}

std::string mlir::tfm::uniqueParameterName(ModuleOp module, StringRef base) {
  llvm::StringSet<> used;
  module.walk([&](ParamOp param) { used.insert(param.getName()); });
  const respin::ParameterSet &parameters =
      getParameterSet(module.getContext());
  auto taken = [&](StringRef name) {
    return used.contains(name) || parameters.lookup(name);
  };
  if (!taken(base))
    return base.str();
  for (int suffix = 1;; ++suffix) {
    std::string candidate = (base + "." + llvm::Twine(suffix)).str();
    if (!taken(candidate))
      return candidate;
  }
}

/// Stores `values` as the pending tensor `name` and returns a tfm.param
/// reading it.
static Value createParameter(OpBuilder &builder, Location loc, StringRef name,
                             const Eigen::MatrixXd &values,
                             ArrayRef<int64_t> shape, Type elementType) {
  RowMajorMatrixXd rowMajor = values;
  ArrayRef<double> data(rowMajor.data(), rowMajor.size());
  respin::ParameterSet &parameters = getParameterSet(builder.getContext());
  if (elementType.isF64())
    parameters.setPending(name, shape, data);
  else
    parameters.setPending(name, shape,
                          std::vector<float>(data.begin(), data.end()));
  return builder.create<ParamOp>(loc, RankedTensorType::get(shape, elementType),
                                 builder.getStringAttr(name));
}

Value mlir::tfm::createWeight(OpBuilder &builder, Location loc, StringRef name,
                              const Eigen::MatrixXd &values,
                              ArrayRef<int64_t> shape, Type elementType,
                              bool asParameter) {
  if (asParameter) {
    auto module =
        builder.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
    return createParameter(builder, loc, uniqueParameterName(module, name),
                           values, shape, elementType);
  }
  RowMajorMatrixXd rowMajor = values;
  SmallVector<APFloat> elements;
  for (double value : ArrayRef<double>(rowMajor.data(), rowMajor.size())) {
    APFloat element(value);
    bool lost;
    if (!elementType.isF64())
      element.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                      &lost);
    elements.push_back(element);
  }
  return builder.create<arith::ConstantOp>(
      loc, DenseFPElementsAttr::get(RankedTensorType::get(shape, elementType),
                                    elements));
}

LogicalResult mlir::tfm::replaceWeight(OpOperand &use,
                                       const Eigen::MatrixXd &values,
                                       StringRef suffix) {
  Value old = use.get();
  auto type = cast<RankedTensorType>(old.getType());
  Type elementType = type.getElementType().isF64()
                         ? type.getElementType()
                         : Float32Type::get(old.getContext());
  Operation *owner = use.getOwner();
  OpBuilder builder(owner);
  auto param = old.getDefiningOp<ParamOp>();
  if (!param) {
    use.set(createWeight(builder, old.getLoc(), "", values, type.getShape(),
                         elementType, /*asParameter=*/false));
    return success();
  }
  // Keep the name when nothing else refers to it: the new data then
  // overrides the archive's tensor of the same name.
  auto module = owner->getParentOfType<ModuleOp>();
  int references = 0;
  module.walk([&](ParamOp other) {
    if (other.getName() == param.getName())
      references += std::distance(other->use_begin(), other->use_end());
  });
  std::string name = param.getName().str();
  if (references == 1) {
    builder.setInsertionPoint(param);
    use.set(createParameter(builder, param.getLoc(), name, values,
                            type.getShape(), elementType));
    return success();
  }
  use.set(createWeight(builder, old.getLoc(), name + "." + suffix.str(),
                       values, type.getShape(), elementType,
                       /*asParameter=*/true));
  return success();
}

void mlir::tfm::eraseDeadWeights(ModuleOp module) {
  SmallVector<Operation *> dead;
  module.walk([&](Operation *op) {
    if (isa<ParamOp, arith::ConstantOp>(op) && op->use_empty())
      dead.push_back(op);
  });
  for (Operation *op : dead)
    op->erase();
}
