// RUN: respin-opt %s --tfm-lower-to-quantized-ops | FileCheck %s

// One layer with 8-bit activations, 4-bit q/o and 8-bit k/v weights, a 4-bit
// KV cache and a float lm_head. The norm output is quantized once for q, k
// and v; o_proj's per-head activations read per-channel weights packed with
// the head as group; o_proj accumulates into the residual stream.

// CHECK-LABEL: func.func @forward
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<?xi32> {tfm.input = "positions"}
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: !tfm.kv_cache<bits = 4, kv_heads = 1, head_dim = 8> {tfm.kv_cache_slot = 0 : i64}
func.func @forward(%tokens: tensor<?xi32> {tfm.input = "tokens"},
                   %positions: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x16xf32> {
  %table = arith.constant dense<0.25> : tensor<16x16xf32>
  // CHECK: %[[H:.*]] = tfm.embedding
  %h = tfm.embedding %table[%tokens] : tensor<16x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  // CHECK: %[[N:.*]] = tfm.rms_norm
  %n = tfm.rms_norm %h {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK-NOT: tfm.fake_quant
  // CHECK: %[[NQ:.*]] = tfm.quantize_rows %[[N]] : tensor<?x16xf32> -> {{(!tfm.quantized_rows)?}}<bits = 8, columns = 16, group = 0>
  // CHECK-NOT: tfm.quantize_rows %[[N]]
  %nq = tfm.fake_quant %n {bits = 8 : i64} : tensor<?x16xf32>
  %cq = arith.constant dense<3> : tensor<16x16xi8>
  %sq = arith.constant dense<0.5> : tensor<16x1xf32>
  %wq = tfm.dequantize %cq, %sq {bits = 4 : i64} : (tensor<16x16xi8>, tensor<16x1xf32>) -> tensor<16x16xf32>
  %ck = arith.constant dense<-2> : tensor<8x16xi8>
  %sk = arith.constant dense<0.25> : tensor<8x1xf32>
  %wk = tfm.dequantize %ck, %sk {bits = 8 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  // CHECK: %[[WQ:.*]] = tfm.packed_param "linear.packed{{.*}}" : {{(!tfm.packed_weights)?}}<bits = 4, rows = 16, columns = 16, group = 0>
  // CHECK: %[[Q:.*]] = tfm.quantized_linear %[[NQ]], %[[WQ]]
  %q = tfm.linear %nq, %wq : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  // CHECK: %[[WK:.*]] = tfm.packed_param "linear.packed{{.*}}" : {{(!tfm.packed_weights)?}}<bits = 8, rows = 8, columns = 16, group = 0>
  // CHECK: %[[K:.*]] = tfm.quantized_linear %[[NQ]], %[[WK]]
  %k = tfm.linear %nq, %wk : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  // CHECK: %[[V:.*]] = tfm.quantized_linear %[[NQ]]
  %v = tfm.linear %nq, %wk : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %kq = tfm.fake_quant %k {bits = 4 : i64, group_size = 8 : i64, clip = 0.5 : f64} : tensor<?x8xf32>
  %vq = tfm.fake_quant %v {bits = 4 : i64, group_size = 8 : i64, clip = 0.5 : f64} : tensor<?x8xf32>
  // CHECK: tfm.kv_append %[[K]], %[[V]] into %[[CACHE]][%[[POS]]] {clip = 5.000000e-01 : f64}
  // CHECK: %[[A:.*]] = tfm.cached_attention %[[Q]], %[[CACHE]][%[[POS]]] {num_heads = 2 : i64, scale = 2.500000e-01 : f64}
  %a = tfm.attention %q, %kq, %vq {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.25 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  // CHECK: %[[AQ:.*]] = tfm.quantize_rows %[[A]] {{.*}} -> {{(!tfm.quantized_rows)?}}<bits = 8, columns = 16, group = 8>
  %aq = tfm.fake_quant %a {bits = 8 : i64, group_size = 8 : i64} : tensor<?x16xf32>
  // CHECK: %[[WO:.*]] = tfm.packed_param "linear.packed{{.*}}" : {{(!tfm.packed_weights)?}}<bits = 4, rows = 16, columns = 16, group = 8>
  // CHECK: %[[R:.*]] = tfm.quantized_linear %[[AQ]], %[[WO]] accumulate %[[H]]
  %o = tfm.linear %aq, %wq : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %r = tfm.add %h, %o : tensor<?x16xf32>
  // CHECK-NOT: tfm.add
  %lm = arith.constant dense<0.125> : tensor<16x16xf32>
  // CHECK: %[[L:.*]] = tfm.linear %[[R]], %{{.*}} : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %logits = tfm.linear %r, %lm : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  // CHECK: return %[[L]]
  return %logits : tensor<?x16xf32>
}
// CHECK-NOT: tfm.dequantize
// CHECK-NOT: tfm.fake_quant
