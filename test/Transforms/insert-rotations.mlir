// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=global init=hadamard" | FileCheck %s --check-prefix=GLOBAL
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=hadamard online-hadamard=none head-rotation=false" | FileCheck %s --check-prefix=BLOCK
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=global init=random-orthogonal seed=3 online-hadamard=qk" | FileCheck %s --check-prefix=QK
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=init=random-hadamard seed=5" > %t.a.mlir
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=init=random-hadamard seed=5" > %t.b.mlir
// RUN: diff %t.a.mlir %t.b.mlir

// Global: one residual basis (the normalized 4x4 Hadamard), head rotations
// on v / o_proj, online Hadamards on q and k after RoPE and on the down_proj
// input (followed by its offline inverse).
// GLOBAL-LABEL: func.func @forward
// GLOBAL-DAG: %[[R1:.*]] = arith.constant dense<{{\[}}[5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01], {{.*}}> : tensor<4x4xf64>
// GLOBAL-DAG: %[[HEAD:.*]] = arith.constant dense<{{.*}}> : tensor<2x2xf64>
// GLOBAL: %[[E:.*]] = tfm.embedding
// GLOBAL: %[[S0:.*]] = tfm.rotate %[[E]], %[[R1]] : (tensor<?x4xf32>, tensor<4x4xf64>) -> tensor<?x4xf32>
// GLOBAL: %[[N0:.*]] = tfm.rms_norm %[[S0]]
// GLOBAL: %[[U0:.*]] = tfm.rotate %[[N0]], %[[R1]] {transpose}
// GLOBAL: tfm.linear %[[U0]]
// GLOBAL: tfm.linear %[[U0]]
// GLOBAL: %[[V:.*]] = tfm.linear %[[U0]]
// GLOBAL-NEXT: tfm.rotate %[[V]], %[[HEAD]] : (tensor<?x2xf32>, tensor<2x2xf64>) -> tensor<?x2xf32>
// GLOBAL: tfm.hadamard %{{.*}} {block_size = 2 : i64, online} : tensor<?x4xf32>
// GLOBAL: tfm.hadamard %{{.*}} {block_size = 2 : i64, online} : tensor<?x2xf32>
// GLOBAL: %[[A:.*]] = tfm.attention
// GLOBAL: tfm.rotate %[[A]], %[[HEAD]] {blocks = 2 : i64, transpose}
// GLOBAL: %[[O:.*]] = tfm.linear
// GLOBAL: %[[OR:.*]] = tfm.rotate %[[O]], %[[R1]] :
// GLOBAL: tfm.add %[[S0]], %[[OR]]
// GLOBAL: %[[ACT:.*]] = tfm.silu_mul
// GLOBAL: %[[H1:.*]] = tfm.hadamard %[[ACT]] {block_size = 4 : i64, online}
// GLOBAL: %[[H2:.*]] = tfm.hadamard %[[H1]] {block_size = 4 : i64, transpose}
// GLOBAL: tfm.linear %[[H2]]
// GLOBAL-NOT: tfm.transition
// GLOBAL: tfm.rotate %{{.*}}, %[[R1]] {transpose}
// GLOBAL: return

// Per-block: 2L+1 = 3 bases and a dense transition on each skip connection.
// BLOCK-LABEL: func.func @forward
// BLOCK-COUNT-3: arith.constant dense<{{.*}}> : tensor<4x4xf64>
// BLOCK: %[[S0:.*]] = tfm.rotate
// BLOCK: tfm.transition %[[S0]], %[[B0:.*]], %[[B1:.*]] : (tensor<?x4xf32>, tensor<4x4xf64>, tensor<4x4xf64>) -> tensor<?x4xf32>
// BLOCK: tfm.transition %{{.*}}, %[[B1]], %[[B2:.*]] :
// BLOCK: tfm.rotate %{{.*}}, %[[B2]] {transpose}
// BLOCK-NOT: tfm.hadamard

// QK-LABEL: func.func @forward
// QK-COUNT-2: tfm.hadamard %{{.*}} {block_size = 2 : i64, online}
// QK-NOT: tfm.hadamard
