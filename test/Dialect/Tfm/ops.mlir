// RUN: respin-opt %s | respin-opt | FileCheck %s
// RUN: respin-opt %s --mlir-print-op-generic | respin-opt | FileCheck %s

// CHECK: module attributes {tfm.parameters = "model.safetensors"}
module attributes {tfm.parameters = "model.safetensors"} {
// CHECK-LABEL: func.func @block
func.func @block(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x32xf32> {
  // CHECK: %[[TABLE:.*]] = tfm.param "model.embed_tokens.weight" : tensor<32x16xf32>
  %table = tfm.param "model.embed_tokens.weight" : tensor<32x16xf32>
  // CHECK: %[[H:.*]] = tfm.embedding %[[TABLE]][%{{.*}}] : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %h = tfm.embedding %table[%tokens] : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %g = tfm.param "model.layers.0.input_layernorm.weight" : tensor<16xbf16>
  // CHECK: tfm.rms_norm %[[H]] gain %{{.*}} {epsilon = 1.000000e-05 : f64} : (tensor<?x16xf32>, tensor<16xbf16>) -> tensor<?x16xf32>
  %n = tfm.rms_norm %h gain %g {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>, tensor<16xbf16>) -> tensor<?x16xf32>
  // CHECK: tfm.rms_norm %[[H]] {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %n2 = tfm.rms_norm %h {epsilon = 1.0e-6 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %wq = tfm.param "model.layers.0.self_attn.q_proj.weight" : tensor<16x16xf16>
  %bq = tfm.param "model.layers.0.self_attn.q_proj.bias" : tensor<16xf32>
  %wk = tfm.param "model.layers.0.self_attn.k_proj.weight" : tensor<8x16xf32>
  %wv = tfm.param "model.layers.0.self_attn.v_proj.weight" : tensor<8x16xf32>
  // CHECK: tfm.linear %{{.*}}, %{{.*}} bias %{{.*}} : (tensor<?x16xf32>, tensor<16x16xf16>, tensor<16xf32>) -> tensor<?x16xf32>
  %q = tfm.linear %n, %wq bias %bq : (tensor<?x16xf32>, tensor<16x16xf16>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: tfm.linear %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %k = tfm.linear %n2, %wk : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %v = tfm.linear %n, %wv : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  // CHECK: tfm.rope %{{.*}}, %{{.*}} {head_dim = 4 : i64, layout = #tfm.rope_layout<interleaved>, num_heads = 4 : i64, rotary_dim = 4 : i64, theta = 1.000000e+04 : f64}
  %qr = tfm.rope %q, %positions {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  // CHECK: tfm.rope {{.*}}layout = #tfm.rope_layout<half_split>{{.*}}scaling = #tfm.rope_scaling<factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_max_positions = 8192>
  %kr = tfm.rope %k, %positions {num_heads = 2 : i64, head_dim = 4 : i64, rotary_dim = 2 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 8192>} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  // CHECK: tfm.attention %{{.*}}, %{{.*}}, %{{.*}} {cache_slot = 0 : i64, head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 5.000000e-01 : f64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  %a = tfm.attention %qr, %kr, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  // CHECK: %[[R:.*]] = tfm.add %[[H]], %{{.*}} : tensor<?x16xf32>
  %r = tfm.add %h, %a : tensor<?x16xf32>
  %wg = arith.constant dense<0.5> : tensor<32x16xf32>
  %wu = tfm.param "model.layers.0.mlp.up_proj.weight" : tensor<32x16xf32>
  %gate = tfm.linear %r, %wg : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
  %up = tfm.linear %r, %wu : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
  // CHECK: tfm.silu_mul %{{.*}}, %{{.*}} : tensor<?x32xf32>
  %act = tfm.silu_mul %gate, %up : tensor<?x32xf32>
  return %act : tensor<?x32xf32>
}
}
