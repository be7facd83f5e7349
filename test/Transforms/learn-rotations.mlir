// Errors anchored on the IR: what --tfm-learn-rotations refuses to learn.
// RUN: respin-opt %s -split-input-file -verify-diagnostics "--tfm-learn-rotations=calib-file=%t.unused"

// expected-error @+1 {{no rotations to learn: run --tfm-insert-rotations before --tfm-learn-rotations}}
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x2xf32> {
  %table = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %h = tfm.embedding %table[%tokens] : tensor<2x2xf32>, tensor<?xi32> -> tensor<?x2xf32>
  %n = tfm.rms_norm %h {epsilon = 1.0e-05 : f64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %logits = tfm.linear %n, %table : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %logits : tensor<?x2xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x2xf32> {
  %table = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %r = arith.constant dense<[[0.0, 1.0], [1.0, 0.0]]> : tensor<2x2xf64>
  %h = tfm.embedding %table[%tokens] : tensor<2x2xf32>, tensor<?xi32> -> tensor<?x2xf32>
  %hr = tfm.rotate %h, %r : (tensor<?x2xf32>, tensor<2x2xf64>) -> tensor<?x2xf32>
  %n = tfm.rms_norm %hr {epsilon = 1.0e-05 : f64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  // expected-error @+1 {{'tfm.fake_quant' op is a quantizer: run --tfm-learn-rotations before the quantization passes}}
  %q = tfm.fake_quant %n {bits = 4 : i64} : tensor<?x2xf32>
  %nr = tfm.rotate %q, %r {transpose} : (tensor<?x2xf32>, tensor<2x2xf64>) -> tensor<?x2xf32>
  %logits = tfm.linear %nr, %table : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %logits : tensor<?x2xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x2xf32> {
  %table = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %r = arith.constant dense<[[0.0, 1.0], [1.0, 0.0]]> : tensor<2x2xf64>
  %q = arith.constant dense<[[1.0], [0.0]]> : tensor<2x1xf64>
  %m = arith.constant dense<[[0.5]]> : tensor<1x1xf64>
  %h = tfm.embedding %table[%tokens] : tensor<2x2xf32>, tensor<?xi32> -> tensor<?x2xf32>
  // expected-error @+1 {{'tfm.residual_adapter' op is an approximated transition: run --tfm-learn-rotations before --tfm-approximate-residual-rotations}}
  %a = tfm.residual_adapter %h, %q, %m : (tensor<?x2xf32>, tensor<2x1xf64>, tensor<1x1xf64>) -> tensor<?x2xf32>
  %hr = tfm.rotate %a, %r : (tensor<?x2xf32>, tensor<2x2xf64>) -> tensor<?x2xf32>
  %logits = tfm.linear %hr, %table : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %logits : tensor<?x2xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x2xf32> {
  %table = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  // expected-error @+1 {{rotation 'rotation #0' is not orthogonal (max |R^T R - I| = 3)}}
  %r = arith.constant dense<[[2.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf64>
  %h = tfm.embedding %table[%tokens] : tensor<2x2xf32>, tensor<?xi32> -> tensor<?x2xf32>
  %hr = tfm.rotate %h, %r : (tensor<?x2xf32>, tensor<2x2xf64>) -> tensor<?x2xf32>
  %logits = tfm.linear %hr, %table : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %logits : tensor<?x2xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x2xf32> {
  %table = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %r = arith.constant dense<[[0.0, 1.0], [1.0, 0.0]]> : tensor<2x2xf64>
  %h = tfm.embedding %table[%tokens] : tensor<2x2xf32>, tensor<?xi32> -> tensor<?x2xf32>
  %s = tfm.add %h, %h : tensor<?x2xf32>
  // expected-error @+1 {{'tfm.rotate' op cannot be folded: it is neither applied to an embedding or single-use linear nor read only by linears}}
  %sr = tfm.rotate %s, %r : (tensor<?x2xf32>, tensor<2x2xf64>) -> tensor<?x2xf32>
  %n = tfm.rms_norm %sr {epsilon = 1.0e-05 : f64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %logits = tfm.linear %n, %table : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %logits : tensor<?x2xf32>
}
