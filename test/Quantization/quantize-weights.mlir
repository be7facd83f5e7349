// RUN: respin-opt %s -split-input-file "--tfm-quantize-weights=bits=4 clip-search=false" | FileCheck %s
// RUN: respin-opt %s -split-input-file "--tfm-quantize-weights=bits=4 group-size=2 clip-search=false" | FileCheck %s --check-prefix=GROUP
// RUN: respin-opt %s -split-input-file "--tfm-quantize-weights=bits=2 symmetric=false clip-search=false" | FileCheck %s --check-prefix=ASYM
// RUN: respin-opt %s -split-input-file "--tfm-quantize-weights=bits=4 clip-search=false linears=down" | FileCheck %s --check-prefix=DOWN
// RUN: respin-opt %s -split-input-file "--tfm-quantize-weights=bits=16" | FileCheck %s --check-prefix=OFF

// Hand-computed codes (respin_rt.h rules). Symmetric 4-bit, per channel:
// row 0 absmax 7 -> s = 1: 7, -2.5 -> -2 (tie to even), 3.5 -> 4 (tie to
// even), 0.49 -> 0. Row 1 absmax 14 -> s = 2: -7, 0.5 -> 0, 1.5 -> 2,
// 2.5 -> 2. Row 2 is all zero: scale 0, codes 0. Row 3 constant: 7s.
// Groups of 2: row 0 [7, -2.5] s = 1 -> 7, -2; [3.5, 0.49] s = 0.5 -> 7, 1
// (0.98); row 1 [-14, 1] s = 2 -> -7, 0 (0.5); [3, 5] s = 5/7 -> 4 (4.2), 7.
// Asymmetric 2-bit, row 0: hi = 7, lo = -2.5, s = 9.5/3, z = rne(0.79) = 1;
// unsigned codes 3, 0, 2, 1 (2.21, -0.79, 1.1, 0.15 rounded, + 1) stored
// shifted by -2: 1, -2, 0, -1, zero -1. The all-zero row 2 has the
// degenerate s = 1, z = 0: codes and zero -2.

// CHECK-LABEL: func.func @mlp
// CHECK-DAG: %[[GC:.*]] = arith.constant dense<{{\[}}[7, -2, 4, 0], [-7, 0, 2, 2], [0, 0, 0, 0], [7, 7, 7, 7]]> : tensor<4x4xi8>
// CHECK-DAG: %[[GS:.*]] = arith.constant dense<{{\[}}[1.000000e+00], [2.000000e+00], [0.000000e+00], [0.142857149]]> : tensor<4x1xf32>
// CHECK: %[[GW:.*]] = tfm.dequantize %[[GC]], %[[GS]] {bits = 4 : i64} : (tensor<4x4xi8>, tensor<4x1xf32>) -> tensor<4x4xf32>
// CHECK: tfm.linear %{{.*}}, %[[GW]]
// CHECK: tfm.dequantize
// CHECK: tfm.dequantize
// CHECK-NOT: tfm.dequantize
// CHECK: return

// GROUP-LABEL: func.func @mlp
// GROUP-DAG: arith.constant dense<{{\[}}[7, -2, 7, 1], [-7, 0, 4, 7], [0, 0, 0, 0], [7, 7, 7, 7]]> : tensor<4x4xi8>
// GROUP-DAG: arith.constant dense<{{\[}}[1.000000e+00, 5.000000e-01], [2.000000e+00, 0.714285731], [0.000000e+00, 0.000000e+00], {{.*}}]> : tensor<4x2xf32>
// GROUP: tfm.dequantize %{{.*}}, %{{.*}} {bits = 4 : i64, group_size = 2 : i64} : (tensor<4x4xi8>, tensor<4x2xf32>) -> tensor<4x4xf32>

// ASYM-LABEL: func.func @mlp
// ASYM-DAG: arith.constant dense<{{\[}}[1, -2, 0, -1], {{.*}}, [-2, -2, -2, -2], {{.*}}]> : tensor<4x4xi8>
// ASYM-DAG: arith.constant dense<{{\[}}[-1], [0], [-2], {{.*}}]> : tensor<4x1xi8>
// ASYM: tfm.dequantize %{{.*}}, %{{.*}} zero_points %{{.*}} {bits = 2 : i64} : (tensor<4x4xi8>, tensor<4x1xf32>, tensor<4x1xi8>) -> tensor<4x4xf32>

// Only the down projection (the linear adding to the stream after silu_mul).
// DOWN-LABEL: func.func @mlp
// DOWN-NOT: tfm.dequantize
// DOWN: tfm.silu_mul
// DOWN: tfm.dequantize
// DOWN-NEXT: tfm.linear
// DOWN-NOT: tfm.dequantize
// DOWN: return

// OFF-NOT: tfm.dequantize

func.func @mlp(%h: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = arith.constant dense<[[7.0, -2.5, 3.5, 0.49], [-14.0, 1.0, 3.0, 5.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]> : tensor<4x4xf32>
  %wu = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, 0.25, -1.0, 2.0], [1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]]> : tensor<4x4xf32>
  %wd = arith.constant dense<[[1.0, 0.0, 0.5, 0.0], [0.0, 1.0, 0.5, 0.0], [2.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]> : tensor<4x4xf32>
  %n = tfm.rms_norm %h {epsilon = 1.0e-5 : f64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %g = tfm.linear %n, %wg : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %u = tfm.linear %n, %wu : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %a = tfm.silu_mul %g, %u : tensor<?x4xf32>
  %d = tfm.linear %a, %wd : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %r = tfm.add %h, %d : tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}

// -----

// The lm_head (a linear whose result is returned) stays float by default.
// CHECK-LABEL: func.func @head
// CHECK-NOT: tfm.dequantize
// DOWN-LABEL: func.func @head
// DOWN-NOT: tfm.dequantize
func.func @head(%h: tensor<?x4xf32>) -> tensor<?x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %l = tfm.linear %h, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  return %l : tensor<?x3xf32>
}
