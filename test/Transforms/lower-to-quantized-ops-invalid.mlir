// RUN: respin-opt %s --tfm-lower-to-quantized-ops -split-input-file -verify-diagnostics

func.func @zero_points(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %c = arith.constant dense<1> : tensor<8x16xi8>
  %s = arith.constant dense<0.5> : tensor<8x1xf32>
  %z = arith.constant dense<1> : tensor<8x1xi8>
  // expected-error @+1 {{has zero points; the runtime's integer weights are symmetric}}
  %w = tfm.dequantize %c, %s zero_points %z {bits = 4 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>, tensor<8x1xi8>) -> tensor<8x16xf32>
  %q = tfm.fake_quant %x {bits = 8 : i64} : tensor<?x16xf32>
  %y = tfm.linear %q, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @two_bits(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %c = arith.constant dense<1> : tensor<8x16xi8>
  %s = arith.constant dense<0.5> : tensor<8x1xf32>
  // expected-error @+1 {{has 2-bit weights; the runtime packs 3 to 8 bits}}
  %w = tfm.dequantize %c, %s {bits = 2 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  %q = tfm.fake_quant %x {bits = 8 : i64} : tensor<?x16xf32>
  %y = tfm.linear %q, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @weight_only(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %c = arith.constant dense<1> : tensor<8x16xi8>
  %s = arith.constant dense<0.5> : tensor<8x1xf32>
  // expected-error @+1 {{feeds a linear with float activations (weight-only quantization)}}
  %w = tfm.dequantize %c, %s {bits = 4 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  %y = tfm.linear %x, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @float_weights(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %w = arith.constant dense<0.5> : tensor<8x16xf32>
  %q = tfm.fake_quant %x {bits = 8 : i64} : tensor<?x16xf32>
  // expected-error @+1 {{has quantized activations but float weights}}
  %y = tfm.linear %q, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @bias(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %c = arith.constant dense<1> : tensor<8x16xi8>
  %s = arith.constant dense<0.5> : tensor<8x1xf32>
  %b = arith.constant dense<0.5> : tensor<8xf32>
  %w = tfm.dequantize %c, %s {bits = 4 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  %q = tfm.fake_quant %x {bits = 8 : i64} : tensor<?x16xf32>
  // expected-error @+1 {{has a bias, which the runtime's integer linear does not add}}
  %y = tfm.linear %q, %w bias %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @other_group(%x: tensor<?x32xf32>) -> tensor<?x8xf32> {
  %c = arith.constant dense<1> : tensor<8x32xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %w = tfm.dequantize %c, %s {bits = 4 : i64, group_size = 16 : i64} : (tensor<8x32xi8>, tensor<8x2xf32>) -> tensor<8x32xf32>
  %q = tfm.fake_quant %x {bits = 8 : i64, group_size = 8 : i64} : tensor<?x32xf32>
  // expected-error @+1 {{per-group activations (group 8) need weights with the same group, not 16}}
  %y = tfm.linear %q, %w : (tensor<?x32xf32>, tensor<8x32xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @kv3(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %positions: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x16xf32> {
  // expected-error @+1 {{the runtime's KV cache holds 4- or 8-bit codes, not 3-bit keys}}
  %kq = tfm.fake_quant %k {bits = 3 : i64, group_size = 8 : i64} : tensor<?x8xf32>
  %a = tfm.attention %q, %kq, %v {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.25 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @kv_symmetric(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %positions: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x16xf32> {
  %kq = tfm.fake_quant %k {bits = 8 : i64, group_size = 8 : i64} : tensor<?x8xf32>
  // expected-error @+1 {{the runtime's KV cache quantizes the value asymmetrically per token and head (group_size = 8); this quantizer is symmetric}}
  %vq = tfm.fake_quant %v {bits = 8 : i64, group_size = 8 : i64, symmetric} : tensor<?x8xf32>
  %a = tfm.attention %q, %kq, %vq {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.25 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @kv_mixed(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %positions: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x16xf32> {
  %kq = tfm.fake_quant %k {bits = 8 : i64, group_size = 8 : i64} : tensor<?x8xf32>
  // expected-error @+1 {{keys (8 bits, clip 1) and values (32 bits, clip 1) must share one cache format}}
  %a = tfm.attention %q, %kq, %v {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.25 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// expected-error @+1 {{has attention but no argument marked tfm.input = "positions"}}
func.func @no_positions(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  %a = tfm.attention %q, %k, %v {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.25 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @quantizer_elsewhere(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{has no integer lowering: only quantizers of linear inputs and of the KV cache do}}
  %q = tfm.fake_quant %x {bits = 8 : i64} : tensor<?x16xf32>
  %y = tfm.add %q, %x : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
