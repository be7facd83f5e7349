// RUN: respin-opt %s | respin-opt | FileCheck %s
// RUN: respin-opt %s --mlir-print-op-generic | respin-opt | FileCheck %s

// Quantized ops print and parse back to the same IR.

// CHECK-LABEL: func.func @quantized_attention_input
func.func @quantized_attention_input(%x: tensor<?x16xf32>, %attn: tensor<?x16xf32>) -> (tensor<?x8xf32>, tensor<?x16xf32>) {
  // Asymmetric per token: the defaults (group_size 0, clip 1.0) are elided.
  // CHECK: %[[A:.*]] = tfm.fake_quant %{{.*}} {bits = 4 : i64} : tensor<?x16xf32>
  %a = tfm.fake_quant %x {bits = 4 : i64} : tensor<?x16xf32>
  // CHECK: tfm.fake_quant %{{.*}} {bits = 3 : i64, clip = 9.000000e-01 : f64, group_size = 4 : i64, symmetric} : tensor<?x16xf32>
  %o = tfm.fake_quant %attn {bits = 3 : i64, group_size = 4 : i64, clip = 0.9 : f64, symmetric} : tensor<?x16xf32>
  %codes = tfm.param "model.layers.0.self_attn.k_proj.weight.codes" : tensor<8x16xi8>
  %scales = tfm.param "model.layers.0.self_attn.k_proj.weight.scales" : tensor<8x2xf32>
  // CHECK: %[[W:.*]] = tfm.dequantize %{{.*}}, %{{.*}} {bits = 4 : i64, group_size = 8 : i64} : (tensor<8x16xi8>, tensor<8x2xf32>) -> tensor<8x16xf32>
  %w = tfm.dequantize %codes, %scales {bits = 4 : i64, group_size = 8 : i64} : (tensor<8x16xi8>, tensor<8x2xf32>) -> tensor<8x16xf32>
  // CHECK: tfm.linear %[[A]], %[[W]] : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %y = tfm.linear %a, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y, %o : tensor<?x8xf32>, tensor<?x16xf32>
}

// CHECK-LABEL: func.func @asymmetric_weights
func.func @asymmetric_weights() -> tensor<2x4xf32> {
  %codes = arith.constant dense<[[-2, -1, 0, 1], [1, 1, -2, -2]]> : tensor<2x4xi8>
  %scales = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %zeros = arith.constant dense<[[-1], [0]]> : tensor<2x1xi8>
  // CHECK: tfm.dequantize %{{.*}}, %{{.*}} zero_points %{{.*}} {bits = 2 : i64} : (tensor<2x4xi8>, tensor<2x1xf32>, tensor<2x1xi8>) -> tensor<2x4xf32>
  %w = tfm.dequantize %codes, %scales zero_points %zeros {bits = 2 : i64} : (tensor<2x4xi8>, tensor<2x1xf32>, tensor<2x1xi8>) -> tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}
