//===- TfmAttrs.h - tfm dialect attributes and enums -----------*- C++ -*-===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMATTRS_H
#define RESPIN_DIALECT_TFM_IR_TFMATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "respin/Dialect/Tfm/IR/TfmEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "respin/Dialect/Tfm/IR/TfmAttrs.h.inc"

#endif // RESPIN_DIALECT_TFM_IR_TFMATTRS_H
