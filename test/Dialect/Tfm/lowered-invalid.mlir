// RUN: respin-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{packed weights have 3 to 8 bits, got 2}}
func.func private @two_bits(!tfm.packed_weights<bits = 2, rows = 8, columns = 16, group = 0>)

// -----

// expected-error @+1 {{the 4-bit layout needs a group that is a multiple of 8, got 4}}
func.func private @small_group(!tfm.packed_weights<bits = 4, rows = 8, columns = 16, group = 4>)

// -----

// expected-error @+1 {{group 5 must be 0 (per row) or divide 16 columns}}
func.func private @ragged(!tfm.quantized_rows<bits = 4, columns = 16, group = 5>)

// -----

// expected-error @+1 {{a KV cache holds 4- or 8-bit codes or f32 (bits = 32), got 3}}
func.func private @kv3(!tfm.kv_cache<bits = 3, kv_heads = 2, head_dim = 4>)

// -----

// expected-error @+1 {{head_dim must be even and positive, got 5}}
func.func private @odd(!tfm.kv_cache<bits = 8, kv_heads = 2, head_dim = 5>)

// -----

func.func @width(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{input has 8 columns but the result type 16}}
  %q = tfm.quantize_rows %x : tensor<?x8xf32> -> !tfm.quantized_rows<bits = 4, columns = 16, group = 0>
  return
}

// -----

func.func @block(%x: tensor<?x16xf32>) {
  // expected-error @+1 {{hadamard_block 12 does not divide 16 columns}}
  %q = tfm.quantize_rows %x {hadamard_block = 12 : i64} : tensor<?x16xf32> -> !tfm.quantized_rows<bits = 4, columns = 16, group = 0>
  return
}

// -----

func.func @columns(%q: !tfm.quantized_rows<bits = 4, columns = 16, group = 0>, %w: !tfm.packed_weights<bits = 4, rows = 8, columns = 32, group = 0>) {
  // expected-error @+1 {{input has 16 columns but the weights 32}}
  %y = tfm.quantized_linear %q, %w : !tfm.quantized_rows<bits = 4, columns = 16, group = 0>, !tfm.packed_weights<bits = 4, rows = 8, columns = 32, group = 0> -> tensor<?x8xf32>
  return
}

// -----

func.func @rows(%q: !tfm.quantized_rows<bits = 4, columns = 16, group = 0>, %w: !tfm.packed_weights<bits = 4, rows = 8, columns = 16, group = 0>) {
  // expected-error @+1 {{result has 4 columns but the weights 8 rows}}
  %y = tfm.quantized_linear %q, %w : !tfm.quantized_rows<bits = 4, columns = 16, group = 0>, !tfm.packed_weights<bits = 4, rows = 8, columns = 16, group = 0> -> tensor<?x4xf32>
  return
}

// -----

func.func @groups(%q: !tfm.quantized_rows<bits = 4, columns = 32, group = 8>, %w: !tfm.packed_weights<bits = 4, rows = 8, columns = 32, group = 16>) {
  // expected-error @+1 {{per-group activations need the weights' group (16), got group 8}}
  %y = tfm.quantized_linear %q, %w : !tfm.quantized_rows<bits = 4, columns = 32, group = 8>, !tfm.packed_weights<bits = 4, rows = 8, columns = 32, group = 16> -> tensor<?x8xf32>
  return
}

// -----

func.func @overflow(%q: !tfm.quantized_rows<bits = 8, columns = 131072, group = 0>, %w: !tfm.packed_weights<bits = 8, rows = 8, columns = 131072, group = 0>) {
  // expected-error @+1 {{131072 columns of 8-bit activations and 8-bit weights overflow the int32 accumulator}}
  %y = tfm.quantized_linear %q, %w : !tfm.quantized_rows<bits = 8, columns = 131072, group = 0>, !tfm.packed_weights<bits = 8, rows = 8, columns = 131072, group = 0> -> tensor<?x8xf32>
  return
}

// -----

func.func @append(%k: tensor<?x4xf32>, %p: tensor<?xi32>, %c: !tfm.kv_cache<bits = 8, kv_heads = 2, head_dim = 4>) {
  // expected-error @+1 {{key has 4 columns but the cache holds 8 (kv_heads * head_dim)}}
  tfm.kv_append %k, %k into %c[%p] : tensor<?x4xf32>, tensor<?x4xf32>, !tfm.kv_cache<bits = 8, kv_heads = 2, head_dim = 4>, tensor<?xi32>
  return
}

// -----

func.func @heads(%q: tensor<?x12xf32>, %p: tensor<?xi32>, %c: !tfm.kv_cache<bits = 8, kv_heads = 2, head_dim = 4>) {
  // expected-error @+1 {{num_heads 3 is not a multiple of the cache's kv_heads 2}}
  %a = tfm.cached_attention %q, %c[%p] {num_heads = 3 : i64, scale = 0.5 : f64} : tensor<?x12xf32>, !tfm.kv_cache<bits = 8, kv_heads = 2, head_dim = 4>, tensor<?xi32> -> tensor<?x12xf32>
  return
}

// -----

func.func @query(%q: tensor<?x12xf32>, %p: tensor<?xi32>, %c: !tfm.kv_cache<bits = 8, kv_heads = 2, head_dim = 4>) {
  // expected-error @+1 {{query has 12 columns, expected num_heads * head_dim = 16}}
  %a = tfm.cached_attention %q, %c[%p] {num_heads = 4 : i64, scale = 0.5 : f64} : tensor<?x12xf32>, !tfm.kv_cache<bits = 8, kv_heads = 2, head_dim = 4>, tensor<?xi32> -> tensor<?x12xf32>
  return
}
