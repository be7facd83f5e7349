//===- TfmOps.h - tfm dialect operations -----------------------*- C++ -*-===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMOPS_H
#define RESPIN_DIALECT_TFM_IR_TFMOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "respin/Dialect/Tfm/IR/TfmAttrs.h"
#include "respin/Dialect/Tfm/IR/TfmDialect.h"

#define GET_TYPEDEF_CLASSES
#include "respin/Dialect/Tfm/IR/TfmOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "respin/Dialect/Tfm/IR/TfmOps.h.inc"

#endif // RESPIN_DIALECT_TFM_IR_TFMOPS_H
