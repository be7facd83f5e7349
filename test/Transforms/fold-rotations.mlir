// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms --tfm-insert-rotations=mode=global --tfm-fold-rotations | FileCheck %s
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=random-orthogonal" --tfm-fold-rotations | FileCheck %s --check-prefix=DENSE
// RUN: not respin-opt %s -split-input-file --tfm-fold-rotations 2>&1 | FileCheck %s --check-prefix=INVALID

// Offline rotations disappear into the weights; online Hadamards stay.
// CHECK-LABEL: func.func @forward
// CHECK-NOT: tfm.rotate
// CHECK: tfm.embedding
// CHECK: tfm.hadamard %{{.*}} {block_size = 2 : i64, online}
// CHECK: tfm.hadamard %{{.*}} {block_size = 2 : i64, online}
// CHECK: tfm.hadamard %{{.*}} {block_size = 4 : i64, online}
// CHECK-NOT: tfm.hadamard
// CHECK-NOT: tfm.rotate
// CHECK: return

// Dense transitions between distinct bases run online; identical ones vanish.
// DENSE-LABEL: func.func @forward
// DENSE-NOT: tfm.rotate
// DENSE: tfm.transition
// DENSE: tfm.transition
// DENSE-NOT: tfm.rotate

// A rotation between two non-linear ops cannot be folded.
// INVALID: error: 'tfm.rotate' op cannot be folded: it is neither applied to an embedding or single-use linear nor read only by linears
func.func @stuck(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %r = arith.constant dense<[[0.0, 1.0], [1.0, 0.0]]> : tensor<2x2xf64>
  %y = tfm.add %x, %x : tensor<?x2xf32>
  %z = tfm.rotate %y, %r : (tensor<?x2xf32>, tensor<2x2xf64>) -> tensor<?x2xf32>
  %w = tfm.add %z, %z : tensor<?x2xf32>
  return %w : tensor<?x2xf32>
}

// -----

// INVALID: error: 'tfm.hadamard' op cannot be folded
func.func @stuck_hadamard(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %z = tfm.hadamard %x {block_size = 4 : i64} : tensor<?x4xf32>
  return %z : tensor<?x4xf32>
}
