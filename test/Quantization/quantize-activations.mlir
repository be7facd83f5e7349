// RUN: respin-opt %s "--tfm-quantize-activations=bits=4 kv-bits=3" | FileCheck %s
// RUN: respin-opt %s "--tfm-quantize-activations=bits=8 symmetric=true clip=0.9 o-proj-per-head=false kv-bits=8 kv-clip=0.95 linears=o,down" | FileCheck %s --check-prefix=SYM
// RUN: respin-opt %s "--tfm-quantize-activations=bits=16 kv-bits=4" | FileCheck %s --check-prefix=KVONLY
// RUN: respin-opt %s "--tfm-quantize-activations=bits=16" | FileCheck %s --check-prefix=OFF

// One decoder layer (2 query heads, 1 KV head, head_dim 4) and an lm_head.
// CHECK-LABEL: func.func @layer
// q, k and v share one per-token asymmetric quantizer of the norm output.
// CHECK: %[[N:.*]] = tfm.rms_norm
// CHECK-NEXT: %[[NQ:.*]] = tfm.fake_quant %[[N]] {bits = 4 : i64} : tensor<?x8xf32>
// CHECK: %[[Q:.*]] = tfm.linear %[[NQ]], %{{.*}} -> tensor<?x8xf32>
// CHECK: %[[K:.*]] = tfm.linear %[[NQ]], %{{.*}} -> tensor<?x4xf32>
// CHECK: %[[V:.*]] = tfm.linear %[[NQ]], %{{.*}} -> tensor<?x4xf32>
// The KV cache: values, and keys after RoPE and the online Hadamard, per
// token per head (group = head_dim), asymmetric.
// CHECK: %[[VQ:.*]] = tfm.fake_quant %[[V]] {bits = 3 : i64, group_size = 4 : i64} : tensor<?x4xf32>
// CHECK: %[[KH:.*]] = tfm.hadamard {{.*}} : tensor<?x4xf32>
// CHECK-NEXT: %[[KQ:.*]] = tfm.fake_quant %[[KH]] {bits = 3 : i64, group_size = 4 : i64} : tensor<?x4xf32>
// CHECK: %[[A:.*]] = tfm.attention %{{.*}}, %[[KQ]], %[[VQ]]
// The o_proj input is quantized per head.
// CHECK-NEXT: %[[AQ:.*]] = tfm.fake_quant %[[A]] {bits = 4 : i64, group_size = 4 : i64} : tensor<?x8xf32>
// CHECK: tfm.linear %[[AQ]]
// CHECK: %[[M:.*]] = tfm.rms_norm
// CHECK-NEXT: %[[MQ:.*]] = tfm.fake_quant %[[M]] {bits = 4 : i64} : tensor<?x8xf32>
// CHECK: tfm.linear %[[MQ]]
// CHECK: tfm.linear %[[MQ]]
// CHECK: %[[S:.*]] = tfm.silu_mul
// CHECK-NEXT: %[[SQ:.*]] = tfm.fake_quant %[[S]] {bits = 4 : i64} : tensor<?x16xf32>
// CHECK: tfm.linear %[[SQ]]
// The lm_head input stays float.
// CHECK: %[[F:.*]] = tfm.rms_norm
// CHECK-NEXT: tfm.linear %[[F]]
// CHECK-NOT: tfm.fake_quant
// 4 activation quantizers (qkv, o, gate/up, down) + 2 KV: 6 in all.
// RUN: respin-opt %s "--tfm-quantize-activations=bits=4 kv-bits=3" | FileCheck %s --check-prefix=COUNT6
// COUNT6-COUNT-6: tfm.fake_quant
// COUNT6-NOT: tfm.fake_quant

// SYM-LABEL: func.func @layer
// SYM: tfm.fake_quant %{{.*}} {bits = 8 : i64, clip = 0.94999999999999996 : f64, group_size = 4 : i64} : tensor<?x4xf32>
// SYM: tfm.fake_quant %{{.*}} {bits = 8 : i64, clip = 0.94999999999999996 : f64, group_size = 4 : i64} : tensor<?x4xf32>
// SYM: tfm.attention
// SYM-NEXT: tfm.fake_quant %{{.*}} {bits = 8 : i64, clip = 9.000000e-01 : f64, symmetric} : tensor<?x8xf32>
// SYM: tfm.silu_mul
// SYM-NEXT: tfm.fake_quant %{{.*}} {bits = 8 : i64, clip = 9.000000e-01 : f64, symmetric} : tensor<?x16xf32>
// SYM-NOT: tfm.fake_quant

// KVONLY-COUNT-2: tfm.fake_quant %{{.*}} {bits = 4 : i64, group_size = 4 : i64} : tensor<?x4xf32>
// KVONLY-NOT: tfm.fake_quant

// OFF-NOT: tfm.fake_quant

func.func @layer(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x8xf32> {
  %table = arith.constant dense<0.5> : tensor<8x8xf32>
  %wq = arith.constant dense<0.1> : tensor<8x8xf32>
  %wk = arith.constant dense<0.2> : tensor<4x8xf32>
  %wv = arith.constant dense<0.3> : tensor<4x8xf32>
  %wo = arith.constant dense<0.4> : tensor<8x8xf32>
  %wg = arith.constant dense<0.5> : tensor<16x8xf32>
  %wu = arith.constant dense<0.6> : tensor<16x8xf32>
  %wd = arith.constant dense<0.7> : tensor<8x16xf32>
  %wh = arith.constant dense<0.8> : tensor<8x8xf32>
  %h = tfm.embedding %table[%tokens] : tensor<8x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %n = tfm.rms_norm %h {epsilon = 1.0e-5 : f64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %q = tfm.linear %n, %wq : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %k = tfm.linear %n, %wk : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %v = tfm.linear %n, %wv : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %qr = tfm.rope %q, %positions {num_heads = 2 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  %kr = tfm.rope %k, %positions {num_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
  %qh = tfm.hadamard %qr {block_size = 4 : i64, online} : tensor<?x8xf32>
  %kh = tfm.hadamard %kr {block_size = 4 : i64, online} : tensor<?x4xf32>
  %a = tfm.attention %qh, %kh, %v {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  %o = tfm.linear %a, %wo : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %h1 = tfm.add %h, %o : tensor<?x8xf32>
  %m = tfm.rms_norm %h1 {epsilon = 1.0e-5 : f64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %g = tfm.linear %m, %wg : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  %u = tfm.linear %m, %wu : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  %s = tfm.silu_mul %g, %u : tensor<?x16xf32>
  %d = tfm.linear %s, %wd : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %h2 = tfm.add %h1, %d : tensor<?x8xf32>
  %f = tfm.rms_norm %h2 {epsilon = 1.0e-5 : f64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %logits = tfm.linear %f, %wh : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %logits : tensor<?x8xf32>
}
