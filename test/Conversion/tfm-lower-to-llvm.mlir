// RUN: respin-opt %S/Inputs/tiny-quantized.mlir "--tfm-lower-to-llvm=prefix=tiny max-tokens=4" | FileCheck %s

// The named pipeline leaves only the LLVM dialect: the generated forward,
// the runtime's entry points it calls, and the manifest.
// CHECK-DAG: llvm.func @respin_rt_qlinear(!llvm.ptr, i64, i64, !llvm.ptr, i64, !llvm.ptr, !llvm.ptr, i64, !llvm.ptr, i64, i32) -> i32
// CHECK-DAG: llvm.func @respin_rt_attention(
// CHECK: llvm.func @tiny_forward(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr) -> i32
// CHECK: llvm.call @respin_rt_embedding
// CHECK: llvm.cond_br
// CHECK: llvm.return
// CHECK: llvm.mlir.global external constant @tiny_manifest("respin-compiled-model 1\0A{{.*}}max-tokens 4\0A
// CHECK-NOT: {{tfm\.|func\.func|arith\.|cf\.|unrealized_conversion_cast}}
