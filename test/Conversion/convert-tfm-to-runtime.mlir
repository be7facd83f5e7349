// RUN: respin-opt %S/Inputs/tiny-quantized.mlir --tfm-lower-to-quantized-ops "--convert-tfm-to-runtime=prefix=tiny max-tokens=8" | FileCheck %s

// The forward function: weights table, KV caches, workspace, token ids,
// token count, first position, logits.
// CHECK-LABEL: func.func @tiny_forward
// CHECK-SAME: (%[[W:.*]]: !llvm.ptr, %[[C:.*]]: !llvm.ptr, %[[WS:.*]]: !llvm.ptr, %[[TOK:.*]]: !llvm.ptr, %[[N:.*]]: i64, %[[POS:.*]]: i64, %[[LOGITS:.*]]: !llvm.ptr) -> i32

// A call with n outside [1, max-tokens] returns INVALID_ARGUMENT (1).
// CHECK: arith.cmpi slt, %[[N]]
// CHECK: arith.cmpi sgt, %[[N]]

// One kernel call per op, each followed by a status check that returns
// the kernel's error.
// CHECK: %[[S:.*]] = call @respin_rt_embedding({{.*}}, %[[TOK]], %[[N]], %[[WS]],
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[S]]
// CHECK-NEXT: cf.cond_br %[[OK]], ^{{.*}}, ^[[EXIT:bb[0-9]+]](%[[S]] : i32)
// CHECK: call @respin_rt_rmsnorm_gain
// The norm output is quantized once for q, k and v.
// CHECK: call @respin_rt_quantize_rows
// CHECK-NOT: call @respin_rt_quantize_rows
// CHECK: call @respin_rt_qlinear(
// CHECK: call @respin_rt_qlinear_s8(
// CHECK: call @respin_rt_qlinear_s8(
// CHECK: call @respin_rt_rope({{.*}}, %[[POS]],
// CHECK: call @respin_rt_rope
// CHECK: call @respin_rt_hadamard_rows
// CHECK: call @respin_rt_hadamard_rows
// CHECK: %[[CACHE_SLOT:.*]] = llvm.getelementptr %[[C]][0]
// CHECK: %[[CACHE:.*]] = llvm.load %[[CACHE_SLOT]]
// CHECK: call @respin_rt_kv_append(%[[CACHE]], %[[POS]], %[[N]],
// CHECK: call @respin_rt_attention(
// CHECK: call @respin_rt_quantize_rows
// o_proj adds into the residual stream (flags = RESPIN_RT_ACCUMULATE) in
// place: the stream's buffer is the workspace's first region.
// CHECK: call @respin_rt_qlinear({{.*}}, %[[WS]], %c16_i64{{.*}}, %c1_i32{{.*}})
// CHECK: call @respin_rt_residual_adapter(%[[WS]],
// CHECK: call @respin_rt_rmsnorm_gain
// CHECK: call @respin_rt_quantize_rows
// CHECK: call @respin_rt_qlinear(
// CHECK: call @respin_rt_qlinear(
// CHECK: call @respin_rt_silu_mul
// The silu output is still read by nobody else, but the fused Hadamard of the
// down_proj quantizer works on a copy.
// CHECK: "llvm.intr.memcpy"
// CHECK: call @respin_rt_hadamard_rows
// CHECK: call @respin_rt_quantize_rows
// CHECK: call @respin_rt_qlinear({{.*}}, %[[WS]], %c16_i64{{.*}}, %c1_i32{{.*}})
// The dense transition is a float linear on R_to R_from^T.
// CHECK: call @respin_rt_linear_f32
// CHECK: call @respin_rt_rmsnorm_gain
// The lm_head writes the caller's logits directly.
// CHECK: call @respin_rt_linear_f32({{.*}}, %[[LOGITS]], %c16_i64
// CHECK: ^[[EXIT]](%[[STATUS:.*]]: i32):
// CHECK-NEXT: return %[[STATUS]] : i32

// The manifest names every weight in table order and the KV cache format.
// CHECK: llvm.mlir.global external constant @tiny_manifest("respin-compiled-model 1\0Aruntime-abi 2\0Aname tiny\0Avocab 16\0Amax-tokens 8\0Aworkspace {{[0-9]+}}\0Akv-cache 0 8 1 8\0Aweight 0 constant.0 F32 1024 16x16\0Aweight 1 constant.1 F32 64 16\0Aweight 2 linear.packed{{.*}} I8 320 320\0A
// CHECK-SAME: adapter.basis_t.{{[0-9]+}} F32 128 2x16\0A
// CHECK-SAME: adapter.update.{{[0-9]+}} F32 16 2x2\0A
// CHECK-SAME: transition.{{[0-9]+}} F32 1024 16x16\0A
// CHECK-NOT: tfm.
