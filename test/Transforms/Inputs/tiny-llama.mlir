// A one-layer LLaMA decoder with inline weights (vocab 6, dim 4, 2 heads of
// 2 with 1 KV head, FFN 4), small enough for structural pass tests.
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x6xf32> {
  %table = arith.constant dense<[[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.5], [0.0, 0.0, 1.0, 0.5], [0.5, 0.5, 0.5, 0.5], [1.0, -1.0, 1.0, -1.0], [0.25, 0.5, 0.75, 1.0]]> : tensor<6x4xf32>
  %h0 = tfm.embedding %table[%tokens] : tensor<6x4xf32>, tensor<?xi32> -> tensor<?x4xf32>
  %g0 = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %n0 = tfm.rms_norm %h0 gain %g0 {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %wq = arith.constant dense<0.5> : tensor<4x4xf32>
  %wk = arith.constant dense<0.25> : tensor<2x4xf32>
  %wv = arith.constant dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]> : tensor<2x4xf32>
  %q = tfm.linear %n0, %wq : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %k = tfm.linear %n0, %wk : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  %v = tfm.linear %n0, %wv : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  %qr = tfm.rope %q, %positions {head_dim = 2 : i64, layout = #tfm.rope_layout<interleaved>, num_heads = 2 : i64, rotary_dim = 2 : i64, theta = 1.000000e+04 : f64} : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
  %kr = tfm.rope %k, %positions {head_dim = 2 : i64, layout = #tfm.rope_layout<interleaved>, num_heads = 1 : i64, rotary_dim = 2 : i64, theta = 1.000000e+04 : f64} : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<?x2xf32>
  %a = tfm.attention %qr, %kr, %v {cache_slot = 0 : i64, head_dim = 2 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.70710678118654757 : f64} : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x4xf32>
  %wo = arith.constant dense<0.125> : tensor<4x4xf32>
  %o = tfm.linear %a, %wo : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %h1 = tfm.add %h0, %o : tensor<?x4xf32>
  %g1 = arith.constant dense<[0.5, 1.0, 1.5, 2.0]> : tensor<4xf32>
  %n1 = tfm.rms_norm %h1 gain %g1 {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %wg = arith.constant dense<0.5> : tensor<4x4xf32>
  %wu = arith.constant dense<-0.5> : tensor<4x4xf32>
  %gate = tfm.linear %n1, %wg : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %up = tfm.linear %n1, %wu : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %act = tfm.silu_mul %gate, %up : tensor<?x4xf32>
  %wd = arith.constant dense<0.25> : tensor<4x4xf32>
  %d = tfm.linear %act, %wd : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %h2 = tfm.add %h1, %d : tensor<?x4xf32>
  %gf = arith.constant dense<[1.0, 1.0, 2.0, 2.0]> : tensor<4xf32>
  %nf = tfm.rms_norm %h2 gain %gf {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %logits = tfm.linear %nf, %table : (tensor<?x4xf32>, tensor<6x4xf32>) -> tensor<?x6xf32>
  return %logits : tensor<?x6xf32>
}
