// RUN: respin-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// tfm.parameters module attribute (TfmDialect::verifyOperationAttribute)
//===----------------------------------------------------------------------===//

// expected-error @+1 {{unknown tfm attribute 'tfm.weights'}}
module attributes {tfm.weights = "model.safetensors"} {
}

// -----

// expected-error @+1 {{'tfm.parameters' is only valid on a module}}
func.func @parameters_on_func() attributes {tfm.parameters = "model.safetensors"} {
  return
}

// -----

// expected-error @+1 {{'tfm.parameters' must be a non-empty string (the parameter archive path)}}
module attributes {tfm.parameters = 1 : i64} {
}

// -----

// expected-error @+1 {{'tfm.parameters' must be a non-empty string (the parameter archive path)}}
module attributes {tfm.parameters = ""} {
}

// -----

//===----------------------------------------------------------------------===//
// tfm.param
//===----------------------------------------------------------------------===//

func.func @param_empty_name() -> tensor<16xf32> {
  // expected-error @+1 {{'tfm.param' op needs a non-empty parameter name}}
  %w = tfm.param "" : tensor<16xf32>
  return %w : tensor<16xf32>
}

// -----

func.func @param_int_elements() -> tensor<16x16xi32> {
  // expected-error @+1 {{'tfm.param' op parameter 'model.norm.weight' must have f64, f32, f16, bf16 or i8 elements, got 'i32'}}
  %w = tfm.param "model.norm.weight" : tensor<16x16xi32>
  return %w : tensor<16x16xi32>
}

// -----

func.func @param_dynamic_shape() -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.param' op result #0 must be statically shaped tensor of any type values, but got 'tensor<?x16xf32>'}}
  %w = tfm.param "model.embed_tokens.weight" : tensor<?x16xf32>
  return %w : tensor<?x16xf32>
}

// -----

func.func @param_name_not_string() -> tensor<16xf32> {
  // expected-error @+1 {{'tfm.param' op attribute 'name' failed to satisfy constraint: string attribute}}
  %w = "tfm.param"() {name = 3 : i64} : () -> tensor<16xf32>
  return %w : tensor<16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// tfm.embedding
//===----------------------------------------------------------------------===//

func.func @embedding_width(%table: tensor<32x16xf32>, %tokens: tensor<?xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'tfm.embedding' op result width 32 does not match the embedding width 16}}
  %h = tfm.embedding %table[%tokens] : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x32xf32>
  return %h : tensor<?x32xf32>
}

// -----

func.func @embedding_rows(%table: tensor<32x16xf32>, %tokens: tensor<3xi32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'tfm.embedding' op result has 4 rows but there are 3 tokens}}
  %h = tfm.embedding %table[%tokens] : tensor<32x16xf32>, tensor<3xi32> -> tensor<4x16xf32>
  return %h : tensor<4x16xf32>
}

// -----

func.func @embedding_i64_tokens(%table: tensor<32x16xf32>, %tokens: tensor<?xi64>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.embedding' op operand #1 must be 1D tensor of 32-bit signless integer values, but got 'tensor<?xi64>'}}
  %h = tfm.embedding %table[%tokens] : tensor<32x16xf32>, tensor<?xi64> -> tensor<?x16xf32>
  return %h : tensor<?x16xf32>
}

// -----

func.func @embedding_int_table(%table: tensor<32x16xi8>, %tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.embedding' op operand #0 must be 2D tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<32x16xi8>'}}
  %h = tfm.embedding %table[%tokens] : tensor<32x16xi8>, tensor<?xi32> -> tensor<?x16xf32>
  return %h : tensor<?x16xf32>
}

// -----

func.func @embedding_bf16_result(%table: tensor<32x16xbf16>, %tokens: tensor<?xi32>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{'tfm.embedding' op result #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x16xbf16>'}}
  %h = tfm.embedding %table[%tokens] : tensor<32x16xbf16>, tensor<?xi32> -> tensor<?x16xbf16>
  return %h : tensor<?x16xbf16>
}

// -----

//===----------------------------------------------------------------------===//
// tfm.rms_norm
//===----------------------------------------------------------------------===//

func.func @rms_norm_zero_epsilon(%h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %n = tfm.rms_norm %h {epsilon = 0.0 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

func.func @rms_norm_negative_epsilon(%h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %n = tfm.rms_norm %h {epsilon = -1.0e-5 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

func.func @rms_norm_result_type(%h: tensor<?x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op result type 'tensor<4x16xf32>' differs from the input type 'tensor<?x16xf32>'}}
  %n = tfm.rms_norm %h {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>) -> tensor<4x16xf32>
  return %n : tensor<4x16xf32>
}

// -----

func.func @rms_norm_gain_length(%h: tensor<?x16xf32>, %g: tensor<8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op gain has 8 elements but rows have 16}}
  %n = tfm.rms_norm %h gain %g {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>, tensor<8xf32>) -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

func.func @rms_norm_gain_rank(%h: tensor<?x16xf32>, %g: tensor<1x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op operand #1 must be 1D tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<1x16xf32>'}}
  %n = tfm.rms_norm %h gain %g {epsilon = 1.0e-5 : f64} : (tensor<?x16xf32>, tensor<1x16xf32>) -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

func.func @rms_norm_rank3(%h: tensor<?x4x16xf32>) -> tensor<?x4x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op operand #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x4x16xf32>'}}
  %n = tfm.rms_norm %h {epsilon = 1.0e-5 : f64} : (tensor<?x4x16xf32>) -> tensor<?x4x16xf32>
  return %n : tensor<?x4x16xf32>
}

// -----

func.func @rms_norm_f32_epsilon(%h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute}}
  %n = tfm.rms_norm %h {epsilon = 1.0e-5 : f32} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

func.func @rms_norm_missing_epsilon(%h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op requires attribute 'epsilon'}}
  %n = tfm.rms_norm %h : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// tfm.linear
//===----------------------------------------------------------------------===//

func.func @linear_input_width(%x: tensor<?x32xf32>, %w: tensor<8x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.linear' op input width 32 does not match weight [8, 16] (expected 16)}}
  %y = tfm.linear %x, %w : (tensor<?x32xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A dynamic weight dimension is not checked, and prints as '?'.
func.func @linear_input_width_dynamic_out(%x: tensor<?x32xf32>, %w: tensor<?x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.linear' op input width 32 does not match weight [?, 16] (expected 16)}}
  %y = tfm.linear %x, %w : (tensor<?x32xf32>, tensor<?x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @linear_result_width(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.linear' op result width 16 does not match weight [8, 16] (expected 8)}}
  %y = tfm.linear %x, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @linear_bias_length(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.linear' op bias has 16 elements but the weight has 8 outputs}}
  %y = tfm.linear %x, %w bias %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @linear_rows(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{'tfm.linear' op input has 4 rows but result has 5}}
  %y = tfm.linear %x, %w : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<5x8xf32>
  return %y : tensor<5x8xf32>
}

// -----

func.func @linear_f16_activation(%x: tensor<?x16xf16>, %w: tensor<8x16xf16>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.linear' op operand #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x16xf16>'}}
  %y = tfm.linear %x, %w : (tensor<?x16xf16>, tensor<8x16xf16>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @linear_vector_weight(%x: tensor<?x16xf32>, %w: tensor<16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.linear' op operand #1 must be 2D tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<16xf32>'}}
  %y = tfm.linear %x, %w : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @linear_f64_bias(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf64>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.linear' op operand #2 must be 1D tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<8xf64>'}}
  %y = tfm.linear %x, %w bias %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf64>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// tfm.rope
//===----------------------------------------------------------------------===//

func.func @rope_width(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op input width 16 is not 4 heads x 8}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 8 : i64, rotary_dim = 8 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

// num_heads x head_dim overflows int64 to 0; the verifier must not wrap.
func.func @rope_width_overflow(%q: tensor<?x0xf32>, %p: tensor<?xi32>) -> tensor<?x0xf32> {
  // expected-error @+1 {{'tfm.rope' op input width 0 is not 4611686018427387904 heads x 4}}
  %r = tfm.rope %q, %p {num_heads = 4611686018427387904 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x0xf32>, tensor<?xi32>) -> tensor<?x0xf32>
  return %r : tensor<?x0xf32>
}

// -----

func.func @rope_odd_rotary_dim(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op rotary_dim 3 must be even and at most head_dim 4}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 3 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<half_split>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_rotary_dim_too_large(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op rotary_dim 8 must be even and at most head_dim 4}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 8 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_zero_theta(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'theta' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 0.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_negative_theta(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'theta' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = -10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_result_type(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.rope' op result type 'tensor<?x8xf32>' differs from the input type 'tensor<?x16xf32>'}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

func.func @rope_rows(%q: tensor<4x16xf32>, %p: tensor<3xi32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'tfm.rope' op input has 4 rows but positions has 3}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<4x16xf32>, tensor<3xi32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

func.func @rope_zero_heads(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'num_heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %r = tfm.rope %q, %p {num_heads = 0 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_negative_head_dim(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'head_dim' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = -4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_zero_rotary_dim(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'rotary_dim' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 0 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_missing_layout(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op requires attribute 'layout'}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_layout_not_enum(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'layout' failed to satisfy constraint: how RoPE pairs the rotary dimensions of a head}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = 1 : i32} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_unknown_layout(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+2 {{expected ::mlir::tfm::RopeLayout to be one of: interleaved, half_split}}
  // expected-error @+1 {{failed to parse Tfm_RopeLayoutAttr parameter 'value' which is to be a `::mlir::tfm::RopeLayout`}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<rotated>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_scaling_not_rope_scaling(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'scaling' failed to satisfy constraint: Llama-3 style RoPE frequency scaling}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>, scaling = 8.0 : f64} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_i64_positions(%q: tensor<?x16xf32>, %p: tensor<?xi64>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op operand #1 must be 1D tensor of 32-bit signless integer values, but got 'tensor<?xi64>'}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// #tfm.rope_scaling (RopeScalingAttr::verify)
//===----------------------------------------------------------------------===//

func.func @rope_scaling_factor(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{rope scaling factor must be finite and >= 1, got 5.000000e-01}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 0.5, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 8192>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_scaling_low_freq(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{rope scaling needs 0 < low_freq_factor < high_freq_factor, got 0.000000e+00 and 4.000000e+00}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 8.0, low_freq_factor = 0.0, high_freq_factor = 4.0, original_max_positions = 8192>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_scaling_high_freq(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{rope scaling needs 0 < low_freq_factor < high_freq_factor, got 4.000000e+00 and 1.000000e+00}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_positions = 8192>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_scaling_max_positions(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{rope scaling original_max_positions must be positive, got 0}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 0>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_scaling_missing_parameter(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expected ','}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// tfm.attention
//===----------------------------------------------------------------------===//

func.func @attention_kv_heads(%q: tensor<?x24xf32>, %k: tensor<?x16xf32>, %v: tensor<?x16xf32>) -> tensor<?x24xf32> {
  // expected-error @+1 {{'tfm.attention' op num_heads 6 is not a multiple of num_kv_heads 4}}
  %a = tfm.attention %q, %k, %v {num_heads = 6 : i64, num_kv_heads = 4 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x24xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x24xf32>
  return %a : tensor<?x24xf32>
}

// -----

func.func @attention_query_width(%q: tensor<?x32xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op query width 32 is not 4 heads x 4}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x32xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// num_heads x head_dim overflows int64 to 0; the verifier must not wrap.
func.func @attention_query_width_overflow(%q: tensor<?x0xf32>, %k: tensor<?x0xf32>, %v: tensor<?x0xf32>) -> tensor<?x0xf32> {
  // expected-error @+1 {{'tfm.attention' op query width 0 is not 4611686018427387904 heads x 4}}
  %a = tfm.attention %q, %k, %v {num_heads = 4611686018427387904 : i64, num_kv_heads = 4611686018427387904 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x0xf32>, tensor<?x0xf32>, tensor<?x0xf32>) -> tensor<?x0xf32>
  return %a : tensor<?x0xf32>
}

// -----

func.func @attention_key_width(%q: tensor<?x16xf32>, %k: tensor<?x16xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op key width 16 is not 2 kv heads x 4}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_value_width(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x12xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op value width 12 is not 2 kv heads x 4}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x12xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_result_width(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.attention' op result width 8 is not 4 heads x 4}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @attention_zero_scale(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op attribute 'scale' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.0 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_negative_scale(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op attribute 'scale' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = -0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_key_rows(%q: tensor<4x16xf32>, %k: tensor<3x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op query has 4 rows but key has 3}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<4x16xf32>, tensor<3x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_result_rows(%q: tensor<4x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<5x16xf32> {
  // expected-error @+1 {{'tfm.attention' op query has 4 rows but result has 5}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<4x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<5x16xf32>
  return %a : tensor<5x16xf32>
}

// -----

// A dynamic query row count must not hide a key/value mismatch.
func.func @attention_key_value_rows(%q: tensor<?x16xf32>, %k: tensor<3x8xf32>, %v: tensor<4x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op key has 3 rows but value has 4}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<3x8xf32>, tensor<4x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_negative_cache_slot(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op attribute 'cache_slot' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = -1 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_zero_kv_heads(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op attribute 'num_kv_heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 0 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_i32_cache_slot(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op attribute 'cache_slot' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i32} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

func.func @attention_rank3_key(%q: tensor<?x16xf32>, %k: tensor<?x2x4xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op operand #1 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x2x4xf32>'}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x2x4xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// tfm.silu_mul, tfm.add
//===----------------------------------------------------------------------===//

func.func @silu_mul_mismatch(%gate: tensor<?x32xf32>, %up: tensor<?x16xf32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'tfm.silu_mul' op failed to verify that all of {gate, up, result} have same type}}
  %act = "tfm.silu_mul"(%gate, %up) : (tensor<?x32xf32>, tensor<?x16xf32>) -> tensor<?x32xf32>
  return %act : tensor<?x32xf32>
}

// -----

func.func @silu_mul_rank3(%gate: tensor<?x4x8xf32>, %up: tensor<?x4x8xf32>) -> tensor<?x4x8xf32> {
  // expected-error @+1 {{'tfm.silu_mul' op operand #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x4x8xf32>'}}
  %act = tfm.silu_mul %gate, %up : tensor<?x4x8xf32>
  return %act : tensor<?x4x8xf32>
}

// -----

func.func @add_mismatch(%lhs: tensor<?x16xf32>, %rhs: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.add' op failed to verify that all of {lhs, rhs, result} have same type}}
  %h = "tfm.add"(%lhs, %rhs) : (tensor<?x16xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %h : tensor<?x16xf32>
}

// -----

func.func @add_result_mismatch(%lhs: tensor<?x16xf32>, %rhs: tensor<?x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.add' op failed to verify that all of {lhs, rhs, result} have same type}}
  %h = "tfm.add"(%lhs, %rhs) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x8xf32>
  return %h : tensor<?x8xf32>
}

// -----

func.func @add_i32(%lhs: tensor<?x16xi32>, %rhs: tensor<?x16xi32>) -> tensor<?x16xi32> {
  // expected-error @+1 {{'tfm.add' op operand #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x16xi32>'}}
  %h = tfm.add %lhs, %rhs : tensor<?x16xi32>
  return %h : tensor<?x16xi32>
}

// -----

//===----------------------------------------------------------------------===//
// Dynamic feature dimensions and non-finite attributes: every kernel sizes
// its loops from the feature width and these attributes, so neither may be
// left to run time.
//===----------------------------------------------------------------------===//

func.func @rope_dynamic_width(%q: tensor<?x?xf32>, %p: tensor<?xi32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'tfm.rope' op operand #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x?xf32>'}}
  %r = tfm.rope %q, %p {num_heads = 4096 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 10000.0 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x?xf32>, tensor<?xi32>) -> tensor<?x?xf32>
  return %r : tensor<?x?xf32>
}

// -----

func.func @rotate_dynamic_width(%x: tensor<?x?xf32>, %r: tensor<8x8xf64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'tfm.rotate' op operand #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x?xf32>'}}
  %y = tfm.rotate %x, %r {blocks = 4096 : i64} : (tensor<?x?xf32>, tensor<8x8xf64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @embedding_dynamic_width(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'tfm.embedding' op result #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x?xf32>'}}
  %h = tfm.embedding %t[%ids] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x?xf32>
  return %h : tensor<?x?xf32>
}

// -----

func.func @add_different_widths(%a: tensor<?x8xf32>, %b: tensor<?x64xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.add' op failed to verify that all of {lhs, rhs, result} have same type}}
  %s = "tfm.add"(%a, %b) : (tensor<?x8xf32>, tensor<?x64xf32>) -> tensor<?x8xf32>
  return %s : tensor<?x8xf32>
}

// -----

func.func @rms_norm_infinite_epsilon(%h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rms_norm' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %n = tfm.rms_norm %h {epsilon = 0x7FF0000000000000 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

func.func @rope_infinite_theta(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'theta' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 0x7FF0000000000000 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_nan_theta(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.rope' op attribute 'theta' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 0x7FF8000000000000 : f64, layout = #tfm.rope_layout<interleaved>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @rope_scaling_infinite_factor(%q: tensor<?x16xf32>, %p: tensor<?xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{rope scaling factor must be finite and >= 1, got INF}}
  %r = tfm.rope %q, %p {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, theta = 500000.0 : f64, layout = #tfm.rope_layout<half_split>, scaling = #tfm.rope_scaling<factor = 0x7FF0000000000000, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 8192>} : (tensor<?x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @attention_infinite_scale(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.attention' op attribute 'scale' failed to satisfy constraint: 64-bit float attribute whose value is finite and positive}}
  %a = tfm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0x7FF0000000000000 : f64, cache_slot = 0 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}
