// Bad options and a mode that does not match the rotations in the IR.
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=global init=hadamard" -o %t.global.mlir
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=hadamard" -o %t.block.mlir

// RUN: not respin-opt %t.global.mlir --tfm-learn-rotations 2>&1 | FileCheck %s --check-prefix=NOCALIB
// NOCALIB: error: tfm-learn-rotations needs calib-file=<text>: rotations are learned on calibration data

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none steps=0" 2>&1 | FileCheck %s --check-prefix=STEPS
// STEPS: error: steps=0 must be positive

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none lr=-1" 2>&1 | FileCheck %s --check-prefix=LR
// LR: error: lr=-1 must be positive

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none momentum=1" 2>&1 | FileCheck %s --check-prefix=MOMENTUM
// MOMENTUM: error: momentum=1 must be in [0, 1)

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none batch=9 samples=8" 2>&1 | FileCheck %s --check-prefix=BATCH
// BATCH: error: batch=9 and samples=8 must be positive, with batch <= samples

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none seq-len=1" 2>&1 | FileCheck %s --check-prefix=SEQ
// SEQ: error: seq-len=1 must be at least 2 (a window predicts its tokens after the first)

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none a-bits=9" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: a-bits=9 is not supported (expected 2..8, or 16 for no quantization)

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none mode=sideways" 2>&1 | FileCheck %s --check-prefix=ENUM
// ENUM: Cannot find option named 'sideways'

// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none mode=per-block" 2>&1 | FileCheck %s --check-prefix=PERBLOCK
// PERBLOCK: error: mode=per-block, but the IR has one residual basis (no tfm.transition): use mode=global, or insert the rotations with --tfm-insert-rotations=mode=per-block

// RUN: not respin-opt %t.block.mlir "--tfm-learn-rotations=calib-file=%t.none mode=global" 2>&1 | FileCheck %s --check-prefix=GLOBAL
// GLOBAL: error: mode=global, but the IR has per-block residual bases (2 tfm.transition ops): use mode=per-block

// The tiny model has no tokenizer to read calibration text with.
// RUN: not respin-opt %t.global.mlir "--tfm-learn-rotations=calib-file=%t.none" 2>&1 | FileCheck %s --check-prefix=TOKENIZER
// TOKENIZER: error: calibration needs the model's tokenizer, but its parameter archives have none
