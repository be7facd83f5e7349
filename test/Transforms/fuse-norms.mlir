// RUN: respin-opt %S/Inputs/tiny-llama.mlir --tfm-fuse-norms | FileCheck %s

// Every gain moves into the columns of the linears reading its norm; the
// norms lose their gains; the tied lm_head gets its own (scaled) table while
// the embedding keeps the original one.

// CHECK-LABEL: func.func @forward
// CHECK: %[[TABLE:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 0.000000e+00, 0.000000e+00, 5.000000e-01], {{.*}}> : tensor<6x4xf32>
// CHECK: tfm.embedding %[[TABLE]]
// CHECK: %[[N0:.*]] = tfm.rms_norm %{{.*}} {epsilon = 1.000000e-05 : f64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
// q_proj 0.5 * gain [1, 2, 3, 4]
// CHECK: %[[WQ:.*]] = arith.constant dense<{{\[}}[5.000000e-01, 1.000000e+00, 1.500000e+00, 2.000000e+00], {{.*}}> : tensor<4x4xf32>
// CHECK: tfm.linear %[[N0]], %[[WQ]]
// v_proj rows e0, e1 scaled by gains 1 and 2
// CHECK: arith.constant dense<{{\[}}[1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 2.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<2x4xf32>
// o_proj reads attention, not a norm: unchanged
// CHECK: arith.constant dense<1.250000e-01> : tensor<4x4xf32>
// CHECK: tfm.rms_norm %{{.*}} {epsilon = 1.000000e-05 : f64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK: tfm.rms_norm %{{.*}} {epsilon = 1.000000e-05 : f64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
// lm_head: untied table scaled by [1, 1, 2, 2]
// CHECK: %[[HEAD:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00], {{.*}}> : tensor<6x4xf32>
// CHECK: tfm.linear %{{.*}}, %[[HEAD]] : (tensor<?x4xf32>, tensor<6x4xf32>) -> tensor<?x6xf32>
// CHECK-NOT: gain
