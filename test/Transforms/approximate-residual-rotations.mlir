// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=hadamard" "--tfm-approximate-residual-rotations=rank=2 report=%t.json" | FileCheck %s --check-prefix=RANK2
// RUN: FileCheck %s --check-prefix=REPORT < %t.json
// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=hadamard" --tfm-approximate-residual-rotations=rank=0 | FileCheck %s --check-prefix=RANK0
// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=hadamard" --tfm-approximate-residual-rotations=rank=3 2>&1 | FileCheck %s --check-prefix=ODD
// RUN: not respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=hadamard" --tfm-approximate-residual-rotations=rank=6 2>&1 | FileCheck %s --check-prefix=BIG

// Each skip transition becomes a rank-2 adapter (Q: 4x2, M: 2x2); the
// bases after it are the realized ones.
// RANK2-LABEL: func.func @forward
// RANK2-NOT: tfm.transition
// RANK2: tfm.residual_adapter %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4x2xf64>, tensor<2x2xf64>) -> tensor<?x4xf32>
// RANK2: tfm.residual_adapter %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4x2xf64>, tensor<2x2xf64>) -> tensor<?x4xf32>
// RANK2-NOT: tfm.transition

// REPORT: "pass": "tfm-approximate-residual-rotations"
// REPORT: "rank": 2
// REPORT: "frobenius_error": 0
// REPORT: "transition": 0
// REPORT: "transition": 1

// Rank 0: the skip paths carry the stream unchanged.
// RANK0-LABEL: func.func @forward
// RANK0-NOT: tfm.transition
// RANK0-NOT: tfm.residual_adapter
// RANK0: return

// ODD: error: 'tfm.transition' op rank 3 is invalid for a 4x4 transition (it must be even and between 0 and 4)
// BIG: error: 'tfm.transition' op rank 6 is invalid for a 4x4 transition (it must be even and between 0 and 4)
