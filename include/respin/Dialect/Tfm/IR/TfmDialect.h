//===- TfmDialect.h - tfm dialect declaration ------------------*- C++ -*-===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMDIALECT_H
#define RESPIN_DIALECT_TFM_IR_TFMDIALECT_H

#include "mlir/IR/Dialect.h"
#include "respin/Formats/OutputSet.h"
#include "respin/Formats/ParameterSet.h"

#include <memory>

#include "respin/Dialect/Tfm/IR/TfmOpsDialect.h.inc"

#endif // RESPIN_DIALECT_TFM_IR_TFMDIALECT_H
