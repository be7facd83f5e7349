// RUN: respin-opt %s --convert-tfm-to-runtime -split-input-file -verify-diagnostics

func.func @forward(%x: tensor<?xi32> {tfm.input = "tokens"}) -> tensor<?x8xf32> {
  %table = arith.constant dense<0.25> : tensor<16x8xf32>
  %h = tfm.embedding %table[%x] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %r = arith.constant dense<1.0> : tensor<8x8xf64>
  // expected-error @+1 {{is an unfolded rotation: run --tfm-fold-rotations first}}
  %y = tfm.rotate %h, %r : (tensor<?x8xf32>, tensor<8x8xf64>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @forward(%x: tensor<?xi32> {tfm.input = "tokens"}, %p: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x8xf32> {
  %table = arith.constant dense<0.25> : tensor<16x8xf32>
  %h = tfm.embedding %table[%x] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // expected-error @+1 {{uses RoPE frequency scaling, which the runtime's RoPE does not implement}}
  %y = tfm.rope %h, %p {num_heads = 2 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 8192>} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @forward(%x: tensor<?xi32> {tfm.input = "tokens"}, %p: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x8xf32> {
  %table = arith.constant dense<0.25> : tensor<16x8xf32>
  %h = tfm.embedding %table[%x] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // expected-error @+1 {{rotates 2 of 4 dimensions; the runtime rotates whole heads}}
  %y = tfm.rope %h, %p {num_heads = 2 : i64, head_dim = 4 : i64, rotary_dim = 2 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<half_split>} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @forward(%x: tensor<?xi32> {tfm.input = "tokens"}, %p: tensor<?xi32> {tfm.input = "positions"}) -> tensor<?x8xf32> {
  %table = arith.constant dense<0.25> : tensor<16x8xf32>
  %h = tfm.embedding %table[%x] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // expected-error @+1 {{has no explicit KV cache: run --tfm-lower-to-quantized-ops first}}
  %a = tfm.attention %h, %h, %h {num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @forward(%x: tensor<?xi32> {tfm.input = "tokens"}) -> tensor<?x8xf32> {
  %table = arith.constant dense<0.25> : tensor<16x8xf32>
  %h = tfm.embedding %table[%x] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %w = arith.constant dense<0.25> : tensor<8x8xf32>
  %b = arith.constant dense<0.25> : tensor<8xf32>
  // expected-error @+1 {{has a bias, which the compiled float linear does not add}}
  %y = tfm.linear %h, %w bias %b : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// expected-error @+1 {{argument 0 is neither tokens, positions nor a KV cache}}
func.func @forward(%x: tensor<?xi32>) -> tensor<?x8xf32> {
  %table = arith.constant dense<0.25> : tensor<16x8xf32>
  %h = tfm.embedding %table[%x] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  return %h : tensor<?x8xf32>
}

// -----

// expected-error @below {{has no @forward function to compile}}
module {
  func.func @other() {
    return
  }
}

// RUN: not respin-opt %s --split-input-file "--convert-tfm-to-runtime=prefix=1model" 2>&1 | FileCheck %s --check-prefix=PREFIX
// PREFIX: error: prefix '1model' is not a C identifier
// RUN: not respin-opt %s --split-input-file "--convert-tfm-to-runtime=max-tokens=0" 2>&1 | FileCheck %s --check-prefix=TOKENS
// TOKENS: error: max-tokens=0 must be in [1, 2^20]
