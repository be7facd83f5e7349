// RUN: respin-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// tfm.fake_quant
//===----------------------------------------------------------------------===//

func.func @fake_quant_bits_too_low(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op bits must be in [2, 8], got 1}}
  %y = tfm.fake_quant %x {bits = 1 : i64} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @fake_quant_sixteen_bits(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{bits must be in [2, 8], got 16 (16 bits means not quantized: leave the op out)}}
  %y = tfm.fake_quant %x {bits = 16 : i64} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @fake_quant_clip_zero(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op attribute 'clip' failed to satisfy constraint: 64-bit float attribute whose value is in (0, 1]}}
  %y = tfm.fake_quant %x {bits = 4 : i64, clip = 0.0 : f64} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @fake_quant_clip_above_one(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op attribute 'clip' failed to satisfy constraint: 64-bit float attribute whose value is in (0, 1]}}
  %y = tfm.fake_quant %x {bits = 4 : i64, clip = 1.5 : f64} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @fake_quant_group_not_dividing(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op group_size 5 does not divide the row width 16}}
  %y = tfm.fake_quant %x {bits = 4 : i64, group_size = 5 : i64} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @fake_quant_negative_group(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op attribute 'group_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %y = tfm.fake_quant %x {bits = 4 : i64, group_size = -8 : i64} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @fake_quant_type_change(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op failed to verify that all of {input, result} have same type}}
  %y = "tfm.fake_quant"(%x) {bits = 4 : i64} : (tensor<?x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// tfm.dequantize
//===----------------------------------------------------------------------===//

func.func @dequantize_bits(%c: tensor<8x16xi8>, %s: tensor<8x1xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'tfm.dequantize' op bits must be in [2, 8], got 9}}
  %w = tfm.dequantize %c, %s {bits = 9 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  return %w : tensor<8x16xf32>
}

// -----

func.func @dequantize_group_not_dividing(%c: tensor<8x16xi8>, %s: tensor<8x3xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'tfm.dequantize' op group_size 6 does not divide the 16 input columns of the codes}}
  %w = tfm.dequantize %c, %s {bits = 4 : i64, group_size = 6 : i64} : (tensor<8x16xi8>, tensor<8x3xf32>) -> tensor<8x16xf32>
  return %w : tensor<8x16xf32>
}

// -----

func.func @dequantize_scales_shape(%c: tensor<8x16xi8>, %s: tensor<8x1xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'tfm.dequantize' op scales must be [8, 4] (8 channels x 4 groups), got [8, 1]}}
  %w = tfm.dequantize %c, %s {bits = 4 : i64, group_size = 4 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  return %w : tensor<8x16xf32>
}

// -----

func.func @dequantize_scales_channels(%c: tensor<8x16xi8>, %s: tensor<4x1xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{scales must be [8, 1] (8 channels x 1 group), got [4, 1]}}
  %w = tfm.dequantize %c, %s {bits = 4 : i64} : (tensor<8x16xi8>, tensor<4x1xf32>) -> tensor<8x16xf32>
  return %w : tensor<8x16xf32>
}

// -----

func.func @dequantize_result_shape(%c: tensor<8x16xi8>, %s: tensor<8x1xf32>) -> tensor<16x8xf32> {
  // expected-error @+1 {{'tfm.dequantize' op result shape [16, 8] differs from the codes shape [8, 16]}}
  %w = tfm.dequantize %c, %s {bits = 4 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<16x8xf32>
  return %w : tensor<16x8xf32>
}

// -----

func.func @dequantize_dynamic(%c: tensor<?x16xi8>, %s: tensor<8x1xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'tfm.dequantize' op codes and scales must have static shapes}}
  %w = tfm.dequantize %c, %s {bits = 4 : i64} : (tensor<?x16xi8>, tensor<8x1xf32>) -> tensor<8x16xf32>
  return %w : tensor<8x16xf32>
}

// -----

func.func @dequantize_zero_points_shape(%c: tensor<8x16xi8>, %s: tensor<8x2xf32>, %z: tensor<8x1xi8>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'tfm.dequantize' op zero_points must have the shape of the scales [8, 2], got [8, 1]}}
  %w = tfm.dequantize %c, %s zero_points %z {bits = 4 : i64, group_size = 8 : i64} : (tensor<8x16xi8>, tensor<8x2xf32>, tensor<8x1xi8>) -> tensor<8x16xf32>
  return %w : tensor<8x16xf32>
}

// -----

func.func @dequantize_float_codes(%c: tensor<8x16xf32>, %s: tensor<8x1xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'tfm.dequantize' op operand #0 must be 2D tensor of 8-bit signless integer values}}
  %w = tfm.dequantize %c, %s {bits = 4 : i64} : (tensor<8x16xf32>, tensor<8x1xf32>) -> tensor<8x16xf32>
  return %w : tensor<8x16xf32>
}

// -----

func.func @param_i8_codes() -> tensor<8x16xi8> {
  // i8 parameters (weight codes) are valid.
  %c = tfm.param "w.codes" : tensor<8x16xi8>
  return %c : tensor<8x16xi8>
}

// -----

func.func @fake_quant_nan_clip(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op attribute 'clip' failed to satisfy constraint: 64-bit float attribute whose value is in (0, 1]}}
  %y = tfm.fake_quant %x {bits = 4 : i64, clip = 0x7FF8000000000000 : f64} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @fake_quant_dynamic_width(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'tfm.fake_quant' op operand #0 must be 2D tensor of 32-bit float values with a static feature dimension, but got 'tensor<?x?xf32>'}}
  %y = tfm.fake_quant %x {bits = 4 : i64, group_size = 8 : i64} : tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}
