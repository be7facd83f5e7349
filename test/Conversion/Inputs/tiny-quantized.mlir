// A one-layer quantized model that uses every op the runtime lowering knows:
// 8-bit activations, 4-bit q/o/gate/up/down and 8-bit k/v weights, RoPE,
// online Hadamards on q/k and on the down_proj input, an 8-bit KV cache, a
// rank-2 residual adapter, a dense transition and a float lm_head.
func.func @forward(%tokens: tensor<?xi32> {tfm.input = "tokens"},
                   %positions: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x16xf32> {
  %table = arith.constant dense<0.25> : tensor<16x16xf32>
  %h = tfm.embedding %table[%tokens] : tensor<16x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %gain = arith.constant dense<1.5> : tensor<16xf32>
  %n = tfm.rms_norm %h gain %gain {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %nq = tfm.fake_quant %n {bits = 8 : i64} : tensor<?x16xf32>
  %c4 = arith.constant dense<3> : tensor<16x16xi8>
  %s4 = arith.constant dense<0.5> : tensor<16x1xf32>
  %wq = tfm.dequantize %c4, %s4 {bits = 4 : i64} : (tensor<16x16xi8>, tensor<16x1xf32>) -> tensor<16x16xf32>
  %c8 = arith.constant dense<-2> : tensor<8x16xi8>
  %s8 = arith.constant dense<0.25> : tensor<8x1xf32>
  %wk = tfm.dequantize %c8, %s8 {bits = 8 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  %q = tfm.linear %nq, %wq : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %k = tfm.linear %nq, %wk : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %v = tfm.linear %nq, %wk : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %qr = tfm.rope %q, %positions {num_heads = 2 : i64, head_dim = 8 : i64, rotary_dim = 8 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  %kr = tfm.rope %k, %positions {num_heads = 1 : i64, head_dim = 8 : i64, rotary_dim = 8 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  %qh = tfm.hadamard %qr {block_size = 8 : i64, online} : tensor<?x16xf32>
  %kh = tfm.hadamard %kr {block_size = 8 : i64, online} : tensor<?x8xf32>
  %kq = tfm.fake_quant %kh {bits = 8 : i64, group_size = 8 : i64} : tensor<?x8xf32>
  %vq = tfm.fake_quant %v {bits = 8 : i64, group_size = 8 : i64} : tensor<?x8xf32>
  %a = tfm.attention %qh, %kq, %vq {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.35 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  %aq = tfm.fake_quant %a {bits = 8 : i64, group_size = 8 : i64} : tensor<?x16xf32>
  %o = tfm.linear %aq, %wq : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %r = tfm.add %h, %o : tensor<?x16xf32>
  %basis = arith.constant dense<0.25> : tensor<16x2xf64>
  %update = arith.constant dense<0.125> : tensor<2x2xf64>
  %ra = tfm.residual_adapter %r, %basis, %update : (tensor<?x16xf32>, tensor<16x2xf64>, tensor<2x2xf64>) -> tensor<?x16xf32>
  %n2 = tfm.rms_norm %ra {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %n2q = tfm.fake_quant %n2 {bits = 8 : i64} : tensor<?x16xf32>
  %cg = arith.constant dense<1> : tensor<32x16xi8>
  %sg = arith.constant dense<0.125> : tensor<32x1xf32>
  %wg = tfm.dequantize %cg, %sg {bits = 4 : i64} : (tensor<32x16xi8>, tensor<32x1xf32>) -> tensor<32x16xf32>
  %gate = tfm.linear %n2q, %wg : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
  %up = tfm.linear %n2q, %wg : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
  %act = tfm.silu_mul %gate, %up : tensor<?x32xf32>
  %acth = tfm.hadamard %act {block_size = 32 : i64, online} : tensor<?x32xf32>
  %actq = tfm.fake_quant %acth {bits = 8 : i64} : tensor<?x32xf32>
  %cd = arith.constant dense<-1> : tensor<16x32xi8>
  %sd = arith.constant dense<0.25> : tensor<16x1xf32>
  %wd = tfm.dequantize %cd, %sd {bits = 4 : i64} : (tensor<16x32xi8>, tensor<16x1xf32>) -> tensor<16x32xf32>
  %down = tfm.linear %actq, %wd : (tensor<?x32xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
  %r2 = tfm.add %ra, %down : tensor<?x16xf32>
  %from = arith.constant dense<0.25> : tensor<16x16xf64>
  %to = arith.constant dense<0.0625> : tensor<16x16xf64>
  %t = tfm.transition %r2, %from, %to : (tensor<?x16xf32>, tensor<16x16xf64>, tensor<16x16xf64>) -> tensor<?x16xf32>
  %f = tfm.rms_norm %t {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %lm = arith.constant dense<0.125> : tensor<16x16xf32>
  %logits = tfm.linear %f, %lm : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  return %logits : tensor<?x16xf32>
}
