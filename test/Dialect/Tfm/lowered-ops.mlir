// RUN: respin-opt %s | respin-opt | FileCheck %s
// RUN: respin-opt %s --mlir-print-op-generic | respin-opt | FileCheck %s

// CHECK-LABEL: func.func @lowered
// CHECK-SAME: %{{.*}}: !tfm.kv_cache<bits = 4, kv_heads = 2, head_dim = 4>
func.func @lowered(%x: tensor<?x16xf32>, %positions: tensor<?xi32>,
                   %cache: !tfm.kv_cache<bits = 4, kv_heads = 2, head_dim = 4>) -> tensor<?x16xf32> {
  // CHECK: %[[W:.*]] = tfm.packed_param "q.packed" : {{(!tfm.packed_weights)?}}<bits = 4, rows = 16, columns = 16, group = 8>
  %w = tfm.packed_param "q.packed" : !tfm.packed_weights<bits = 4, rows = 16, columns = 16, group = 8>
  %w8 = tfm.packed_param "k.packed" : !tfm.packed_weights<bits = 8, rows = 8, columns = 16, group = 0>
  // CHECK: %[[Q:.*]] = tfm.quantize_rows %{{.*}} {clip = 9.000000e-01 : f64, hadamard_block = 16 : i64} : tensor<?x16xf32> -> {{(!tfm.quantized_rows)?}}<bits = 4, columns = 16, group = 0>
  %q = tfm.quantize_rows %x {clip = 0.9 : f64, hadamard_block = 16 : i64} : tensor<?x16xf32> -> !tfm.quantized_rows<bits = 4, columns = 16, group = 0>
  // CHECK: tfm.quantize_rows %{{.*}} {symmetric} : tensor<?x16xf32> -> {{(!tfm.quantized_rows)?}}<bits = 8, columns = 16, group = 8>
  %qg = tfm.quantize_rows %x {symmetric} : tensor<?x16xf32> -> !tfm.quantized_rows<bits = 8, columns = 16, group = 8>
  // CHECK: %[[Y:.*]] = tfm.quantized_linear %[[Q]], %[[W]] : {{(!tfm.quantized_rows)?}}<bits = 4, columns = 16, group = 0>, {{(!tfm.packed_weights)?}}<bits = 4, rows = 16, columns = 16, group = 8> -> tensor<?x16xf32>
  %y = tfm.quantized_linear %q, %w : !tfm.quantized_rows<bits = 4, columns = 16, group = 0>, !tfm.packed_weights<bits = 4, rows = 16, columns = 16, group = 8> -> tensor<?x16xf32>
  // CHECK: tfm.quantized_linear %{{.*}}, %[[W]] accumulate %[[Y]] : {{(!tfm.quantized_rows)?}}<bits = 8, columns = 16, group = 8>, {{(!tfm.packed_weights)?}}<bits = 4, rows = 16, columns = 16, group = 8>, tensor<?x16xf32> -> tensor<?x16xf32>
  %r = tfm.quantized_linear %qg, %w accumulate %y : !tfm.quantized_rows<bits = 8, columns = 16, group = 8>, !tfm.packed_weights<bits = 4, rows = 16, columns = 16, group = 8>, tensor<?x16xf32> -> tensor<?x16xf32>
  %k = tfm.quantized_linear %q, %w8 : !tfm.quantized_rows<bits = 4, columns = 16, group = 0>, !tfm.packed_weights<bits = 8, rows = 8, columns = 16, group = 0> -> tensor<?x8xf32>
  // CHECK: tfm.kv_append %{{.*}}, %{{.*}} into %{{.*}}[%{{.*}}] {clip = 5.000000e-01 : f64} : tensor<?x8xf32>, tensor<?x8xf32>, {{(!tfm.kv_cache)?}}<bits = 4, kv_heads = 2, head_dim = 4>, tensor<?xi32>
  tfm.kv_append %k, %k into %cache[%positions] {clip = 0.5 : f64} : tensor<?x8xf32>, tensor<?x8xf32>, !tfm.kv_cache<bits = 4, kv_heads = 2, head_dim = 4>, tensor<?xi32>
  // CHECK: tfm.cached_attention %[[Y]], %{{.*}}[%{{.*}}] {num_heads = 4 : i64, scale = 5.000000e-01 : f64} : tensor<?x16xf32>, {{(!tfm.kv_cache)?}}<bits = 4, kv_heads = 2, head_dim = 4>, tensor<?xi32> -> tensor<?x16xf32>
  %a = tfm.cached_attention %y, %cache[%positions] {num_heads = 4 : i64, scale = 0.5 : f64} : tensor<?x16xf32>, !tfm.kv_cache<bits = 4, kv_heads = 2, head_dim = 4>, tensor<?xi32> -> tensor<?x16xf32>
  %s = tfm.add %a, %r : tensor<?x16xf32>
  return %s : tensor<?x16xf32>
}
