//===- TfmLoweredOps.td - tfm ops the runtime executes -----*- tablegen -*-===//
//
// The lowered graph (--tfm-lower-to-quantized-ops): integer linears on
// packed weights with their activation quantizer made explicit, and
// attention on explicit key/value cache state. The float ops of TfmOps.td
// (rms_norm, rope, silu_mul, add, hadamard, residual_adapter, transition,
// embedding, float linear) keep their meaning in a lowered graph.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMLOWEREDOPS_TD
#define RESPIN_DIALECT_TFM_IR_TFMLOWEREDOPS_TD

include "respin/Dialect/Tfm/IR/TfmTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Tfm_PackedParamOp : Tfm_Op<"packed_param", [Pure]> {
  let summary = "a packed weight blob of the parameter archive";
  let description = [{
    The int8 tensor `name` of the module's parameter archive holds the packed
    weights whose layout the result type states.

    ```mlir
    %w = tfm.packed_param "layers.0.wq.packed"
        : !tfm.packed_weights<bits = 4, rows = 64, columns = 64, group = 0>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs Tfm_PackedWeightsType:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Tfm_QuantizeRowsOp : Tfm_Op<"quantize_rows", [Pure]> {
  let summary = "dynamic activation quantization, optionally after an online Hadamard";
  let description = [{
    Quantizes every row of `input` (respin_rt_quantize_rows: per token or per
    `group` columns, asymmetric unless `symmetric`, range scaled by `clip`).
    With `hadamard_block` = n, each block of n columns is first transformed
    by the normalized online Hadamard of size n (respin_rt_hadamard_rows),
    which is how a folded network's online rotation runs fused with its
    quantizer.
  }];
  let arguments = (ins Tfm_Activation:$input,
                       DefaultValuedAttr<Tfm_ClipRatioF64Attr, "1.0">:$clip,
                       UnitAttr:$symmetric,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$hadamard_block);
  let results = (outs Tfm_QuantizedRowsType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Tfm_QuantizedLinearOp : Tfm_Op<"quantized_linear", [Pure]> {
  let summary = "y = x W^T on integer codes, exact int32 accumulation";
  let description = [{
    The runtime's low-bit linear (respin_rt.h, "Low-bit linear"): per group,
    the codes of `input` (zero point removed) times the weight codes summed
    exactly in int32, scaled by both scales and summed over groups in f32.
    With `accumulate` the result is added to `accumulator` (the residual
    stream), which is how residual adds fuse into o_proj and down_proj.
  }];
  let arguments = (ins Tfm_QuantizedRowsType:$input,
                       Tfm_PackedWeightsType:$weight,
                       Optional<Tfm_Activation>:$accumulator);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`accumulate` $accumulator^)? attr-dict `:`
    type($input) `,` type($weight) (`,` type($accumulator)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tfm_KVAppendOp : Tfm_Op<"kv_append"> {
  let summary = "store the keys and values of new positions in a cache";
  let description = [{
    Writes the rows of `key` and `value` (kv_heads * head_dim each) at
    `positions` of `cache`, quantizing them per token and head with `clip`
    when the cache is quantized (respin_rt_kv_append). Compiled models take
    positions to be consecutive from the first one.
  }];
  let arguments = (ins Arg<Tfm_KVCacheType, "the cache", [MemWrite]>:$cache,
                       Tfm_TokenIds:$positions, Tfm_Activation:$key,
                       Tfm_Activation:$value,
                       DefaultValuedAttr<Tfm_ClipRatioF64Attr, "1.0">:$clip);
  let assemblyFormat = [{
    $key `,` $value `into` $cache `[` $positions `]` attr-dict `:`
    type($key) `,` type($value) `,` type($cache) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Tfm_CachedAttentionOp : Tfm_Op<"cached_attention"> {
  let summary = "causal grouped-query attention over a key/value cache";
  let description = [{
    Each row of `query` (num_heads * head_dim) attends to every cached
    position up to its own (respin_rt_attention); query head h reads KV head
    h / (num_heads / kv_heads).
  }];
  let arguments = (ins Tfm_Activation:$query,
                       Arg<Tfm_KVCacheType, "the cache", [MemRead]>:$cache,
                       Tfm_TokenIds:$positions,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       Tfm_PositiveF64Attr:$scale);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $query `,` $cache `[` $positions `]` attr-dict `:` type($query) `,`
    type($cache) `,` type($positions) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // RESPIN_DIALECT_TFM_IR_TFMLOWEREDOPS_TD
