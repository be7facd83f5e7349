// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-insert-rotations 2>&1 | FileCheck %s --check-prefix=GAIN
// GAIN: error: rms_norm still has a gain: run --tfm-fuse-norms before --tfm-insert-rotations

// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms --tfm-insert-rotations=mode=sideways 2>&1 | FileCheck %s --check-prefix=MODE
// MODE: error: unknown mode 'sideways' (expected global or per-block)

// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms --tfm-insert-rotations=init=ones 2>&1 | FileCheck %s --check-prefix=INIT
// INIT: error: unknown init 'ones' (expected hadamard, random-hadamard, random-orthogonal or archive)

// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms --tfm-insert-rotations=init=archive 2>&1 | FileCheck %s --check-prefix=ARCHIVE
// ARCHIVE: error: init=archive needs rotations=<file>

// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=init=archive rotations=%t.missing" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: {{.*}}.missing

// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms --tfm-insert-rotations=online-hadamard=all 2>&1 | FileCheck %s --check-prefix=ONLINE
// ONLINE: error: unknown online-hadamard 'all' (expected none, qk, down or both)

// The FFN width 6 has no Hadamard matrix.
// RUN: not respin-opt %s --tfm-insert-rotations=online-hadamard=down 2>&1 | FileCheck %s --check-prefix=SIZE
// SIZE: error: 'tfm.linear' op cannot add the down_proj Hadamard: no Hadamard matrix of size 6

func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x4xf32> {
  %table = arith.constant dense<0.5> : tensor<4x4xf32>
  %h0 = tfm.embedding %table[%tokens] : tensor<4x4xf32>, tensor<?xi32> -> tensor<?x4xf32>
  %n = tfm.rms_norm %h0 {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %wg = arith.constant dense<0.5> : tensor<6x4xf32>
  %gate = tfm.linear %n, %wg : (tensor<?x4xf32>, tensor<6x4xf32>) -> tensor<?x6xf32>
  %act = tfm.silu_mul %gate, %gate : tensor<?x6xf32>
  %wd = arith.constant dense<0.25> : tensor<4x6xf32>
  %d = tfm.linear %act, %wd : (tensor<?x6xf32>, tensor<4x6xf32>) -> tensor<?x4xf32>
  %h1 = tfm.add %h0, %d : tensor<?x4xf32>
  %nf = tfm.rms_norm %h1 {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %logits = tfm.linear %nf, %table : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  return %logits : tensor<?x4xf32>
}
