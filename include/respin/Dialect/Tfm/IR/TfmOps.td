//===- TfmOps.td - tfm dialect operations ------------------*- tablegen -*-===//
//
// Graph ops of a LLaMA-family decoder. Activations are rank-2 f32 tensors
// with one row per token (`tensor<?xNxf32>`); the verifiers check every
// feature dimension, head count and head size they can see statically.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMOPS_TD
#define RESPIN_DIALECT_TFM_IR_TFMOPS_TD

include "respin/Dialect/Tfm/IR/TfmBase.td"
include "respin/Dialect/Tfm/IR/TfmAttrs.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

/// Activations: one row per token, a static number of features (every
/// kernel and every weight shape depends on it).
def Tfm_Activation : Type<
    And<[2DTensorOf<[F32]>.predicate,
         CPred<"!::llvm::cast<::mlir::ShapedType>($_self).isDynamicDim(1)">]>,
    "2D tensor of 32-bit float values with a static feature dimension",
    "::mlir::TensorType">;
/// Weights may be stored in any float type the archives support.
def Tfm_WeightElement : AnyTypeOf<[F32, F16, BF16]>;
def Tfm_Matrix : 2DTensorOf<[F32, F16, BF16]>;
def Tfm_Vector : 1DTensorOf<[F32, F16, BF16]>;
/// Rotations are built and stored in double precision.
def Tfm_RotationMatrix : 2DTensorOf<[F64, F32]>;
def Tfm_TokenIds : 1DTensorOf<[I32]>;

/// Real-valued attributes the kernels divide by or scale with: NaN and Inf
/// are not configuration values.
def Tfm_FinitePositive : AttrConstraint<
    CPred<"::std::isfinite(::llvm::cast<::mlir::FloatAttr>($_self)"
          ".getValueAsDouble()) && ::llvm::cast<::mlir::FloatAttr>($_self)"
          ".getValueAsDouble() > 0.0">,
    "whose value is finite and positive">;
def Tfm_PositiveF64Attr : ConfinedAttr<F64Attr, [Tfm_FinitePositive]>;
/// A clip ratio: in (0, 1].
def Tfm_ClipRatioF64Attr : ConfinedAttr<F64Attr, [AttrConstraint<
    CPred<"::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() > 0.0 &&"
          " ::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() <= 1.0">,
    "whose value is in (0, 1]">]>;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Tfm_ParamOp : Tfm_Op<"param", [Pure]> {
  let summary = "a named weight tensor of the parameter archive";
  let description = [{
    Produces the tensor stored under `name` in the module's parameter archive
    (module attribute `tfm.parameters`). The result type must have a static
    shape; loaders check that it matches the archive's shape and dtype.

    ```mlir
    %w = tfm.param "model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

def Tfm_EmbeddingOp : Tfm_Op<"embedding", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    Row `tokens[i]` of `table` ([vocab, dim]) becomes row `i` of the result
    ([seq, dim]). Token ids outside the vocabulary are a runtime error.

    ```mlir
    %h = tfm.embedding %table[%tokens]
        : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Matrix:$table, Tfm_TokenIds:$tokens);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $table `[` $tokens `]` attr-dict `:` type($table) `,` type($tokens)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tfm_RMSNormOp : Tfm_Op<"rms_norm", [Pure]> {
  let summary = "root-mean-square normalization of each row";
  let description = [{
    `y = x / sqrt(mean(x^2) + epsilon) * gain`, row by row. Without `gain`
    (after norm fusion folded it into the next linears) the gain is 1.

    ```mlir
    %n = tfm.rms_norm %h gain %g {epsilon = 1.0e-05 : f64}
        : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %m = tfm.rms_norm %h {epsilon = 1.0e-05 : f64}
        : (tensor<?x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input, Optional<Tfm_Vector>:$gain,
                       Tfm_PositiveF64Attr:$epsilon);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $input (`gain` $gain^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_LinearOp : Tfm_Op<"linear", [Pure]> {
  let summary = "y = x W^T (+ b)";
  let description = [{
    Applies `weight` ([out, in]) to every row of `input` ([seq, in]), adding
    `bias` ([out]) when present (Qwen2's q/k/v projections).

    ```mlir
    %q = tfm.linear %x, %wq bias %bq
        : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input, Tfm_Matrix:$weight,
                       Optional<Tfm_Vector>:$bias);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_RopeOp : Tfm_Op<"rope", [Pure]> {
  let summary = "rotary position embedding of each head";
  let description = [{
    Splits each row of `input` into `num_heads` heads of `head_dim` values
    and rotates the first `rotary_dim` dimensions of each head by the angle
    `positions[row] * theta^(-2i / rotary_dim)` for pair `i`. The `layout`
    says which dimensions form pair `i`: `interleaved` pairs (2i, 2i+1)
    (Meta, llama2.c, GGUF), `half_split` pairs (i, i + rotary_dim/2)
    (Hugging Face). `scaling` applies Llama-3 frequency scaling.

    ```mlir
    %qr = tfm.rope %q, %positions {num_heads = 8 : i64, head_dim = 8 : i64,
        rotary_dim = 8 : i64, theta = 10000.0 : f64,
        layout = #tfm.rope_layout<interleaved>}
        : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input, Tfm_TokenIds:$positions,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$head_dim,
                       ConfinedAttr<I64Attr, [IntPositive]>:$rotary_dim,
                       Tfm_PositiveF64Attr:$theta,
                       Tfm_RopeLayoutAttr:$layout,
                       OptionalAttr<Tfm_RopeScalingAttr>:$scaling);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_AttentionOp : Tfm_Op<"attention", [Pure]> {
  let summary = "causal grouped-query attention with a key/value cache";
  let description = [{
    Multi-head causal attention. `query` holds `num_heads` heads, `key` and
    `value` hold `num_kv_heads` heads (query head h reads key/value head
    `h / (num_heads / num_kv_heads)`), all of size `head_dim`. The rows are
    appended to the key/value cache `cache_slot`; row i of the input attends
    to every cached row and to rows 0..i of this call. Scores are scaled by
    `scale` (usually 1/sqrt(head_dim)); softmax is computed in float.

    ```mlir
    %a = tfm.attention %q, %k, %v {num_heads = 8 : i64, num_kv_heads = 4 : i64,
        head_dim = 8 : i64, scale = 0.35355339059327379 : f64, cache_slot = 0 : i64}
        : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$query, Tfm_Activation:$key,
                       Tfm_Activation:$value,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_kv_heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$head_dim,
                       Tfm_PositiveF64Attr:$scale,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$cache_slot);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_SiluMulOp : Tfm_Op<"silu_mul", [Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "SwiGLU gate: silu(gate) * up";
  let description = [{
    Elementwise `gate * sigmoid(gate) * up`, the gated activation between the
    gate/up projections and the down projection of a LLaMA MLP.

    ```mlir
    %act = tfm.silu_mul %gate, %up : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$gate, Tfm_Activation:$up);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Tfm_AddOp : Tfm_Op<"add", [Pure, Commutative, AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "residual addition";
  let description = [{
    Elementwise sum of two activations; the skip connections of the residual
    stream.

    ```mlir
    %h1 = tfm.add %h0, %attn_out : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$lhs, Tfm_Activation:$rhs);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Rotations
//===----------------------------------------------------------------------===//

def Tfm_RotateOp : Tfm_Op<"rotate", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "offline orthogonal rotation of each row";
  let description = [{
    Applies the orthogonal matrix `rotation` (n x n) to every row of `input`
    (column convention: x <- R x, or x <- R^T x with `transpose`). With
    `blocks = b` the input width is b * n and R acts on each block of n
    features (I_b kron R), which is how per-head rotations are written.

    Rotations are *offline*: `--tfm-fold-rotations` folds them into the
    adjacent embedding or linear weights, so they cost nothing at run time.

    ```mlir
    %r = tfm.rotate %h, %R1 : (tensor<?x64xf32>, tensor<64x64xf64>) -> tensor<?x64xf32>
    %u = tfm.rotate %n, %R1 {transpose} : (tensor<?x64xf32>, tensor<64x64xf64>) -> tensor<?x64xf32>
    %v = tfm.rotate %v0, %R3 {blocks = 4 : i64} : (tensor<?x32xf32>, tensor<8x8xf64>) -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input, Tfm_RotationMatrix:$rotation,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:$blocks,
                       UnitAttr:$transpose);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $input `,` $rotation attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_HadamardOp : Tfm_Op<"hadamard", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "normalized Hadamard transform of each block of a row";
  let description = [{
    Multiplies every consecutive block of `block_size` features of each row
    by the normalized Hadamard matrix H_n = (H_K kron H_2^m) / sqrt(n) of
    that size (n = K * 2^m; K a supported Hadamard factor), or by its
    transpose with `transpose`. With `online` the transform is executed at
    run time (SpinQuant's R3 on q/k after RoPE and R4 on the down_proj
    input); without it the transform is offline and
    `--tfm-fold-rotations` folds it into the adjacent linear.

    ```mlir
    %qh = tfm.hadamard %q {block_size = 8 : i64, online} : tensor<?x64xf32>
    %a = tfm.hadamard %x {block_size = 172 : i64, transpose} : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input,
                       ConfinedAttr<I64Attr, [IntPositive]>:$block_size,
                       UnitAttr:$transpose, UnitAttr:$online);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tfm_TransitionOp : Tfm_Op<"transition", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "dense residual basis change h <- R_out R_in^T h";
  let description = [{
    Moves the residual stream from basis `from` to basis `to` on a skip
    connection (ReSpinQuant: the stream entering a block is in R_in, the
    block writes its output in R_out). Exact and dense: D^2 MACs per token.
    `--tfm-approximate-residual-rotations` replaces it by a rank-r
    `tfm.residual_adapter`; when `from` and `to` are the same value
    `--tfm-fold-rotations` removes it.

    ```mlir
    %t = tfm.transition %h, %R1_0, %R2_0
        : (tensor<?x64xf32>, tensor<64x64xf64>, tensor<64x64xf64>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input, Tfm_RotationMatrix:$from,
                       Tfm_RotationMatrix:$to);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $input `,` $from `,` $to attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_ResidualAdapterOp : Tfm_Op<"residual_adapter", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rank-r orthogonal residual transition h <- h + Q (M (Q^T h))";
  let description = [{
    The ReSpinQuant approximation of a skip-path transition: identity outside
    the r-dimensional subspace spanned by the orthonormal columns of `basis`
    (Q, D x r) and the rotation I + `update` (M = R_sub - I, r x r) inside
    it. 2 D r + r^2 MACs per token.

    ```mlir
    %a = tfm.residual_adapter %h, %Q, %M
        : (tensor<?x64xf32>, tensor<64x8xf64>, tensor<8x8xf64>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input, Tfm_RotationMatrix:$basis,
                       Tfm_RotationMatrix:$update);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = [{
    $input `,` $basis `,` $update attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//
// The integer semantics are those of the runtime (respin_rt.h, "Quantization
// semantics"): rne() is IEEE round-half-to-even, all arithmetic is binary32
// in the order written, without contraction.
//===----------------------------------------------------------------------===//

def Tfm_FakeQuantOp : Tfm_Op<"fake_quant", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "dynamic per-token (or per-group) quantize-dequantize";
  let description = [{
    Quantizes every row of `input` (one token) to `bits`-bit integer codes
    and returns the values the codes represent, as the runtime's
    `respin_rt_quantize_rows` does before a low-bit linear or when a key or
    value row enters a quantized KV cache. With `group_size = g > 0` each
    group of g consecutive features has its own scale (per head for the
    o_proj input and the KV cache: g = head_dim); 0 means one group per row.

    For each group x_1..x_g, with clip ratio c in (0, 1] and b in 2..8:

    * asymmetric (default): hi = c * max(0, max_i x_i),
      lo = c * min(0, min_i x_i), s = (hi - lo) / (2^b - 1),
      z = rne(-lo / s), q_i = clamp(rne(x_i / s) + z, 0, 2^b - 1)
      (the sum is formed in float, then clamped, then converted);
    * `symmetric`: s = c * max_i |x_i| / (2^(b-1) - 1), z = 2^(b-1),
      q_i = clamp(rne(x_i / s), -2^(b-1), 2^(b-1) - 1) + z;
    * a degenerate range (s not > 0, an all-zero group) uses s = 1 (and
      z = 0 when asymmetric).

    The result is y_i = (float)(q_i - z) * s. The codes, scales and zero
    points are bit-identical to the runtime's; a following linear computes
    the same products, summed in float instead of exactly in int32. Inputs
    must be finite. 16 bits means "not quantized": no op is inserted.

    ```mlir
    %a = tfm.fake_quant %x {bits = 4 : i64} : tensor<?x64xf32>
    %o = tfm.fake_quant %attn {bits = 4 : i64, group_size = 8 : i64, clip = 0.9 : f64, symmetric} : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$input, I64Attr:$bits,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntNonNegative]>, "0">:$group_size,
                       DefaultValuedAttr<Tfm_ClipRatioF64Attr, "1.0">:$clip,
                       UnitAttr:$symmetric);
  let results = (outs Tfm_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tfm_DequantizeOp : Tfm_Op<"dequantize", [Pure]> {
  let summary = "weight matrix from integer codes and per-channel/group scales";
  let description = [{
    Rebuilds a quantized weight W ([N, K], N output channels) from its
    `bits`-bit integer `codes` ([N, K] i8) and `scales` ([N, G] f32), where
    the K input columns form G = K / g groups of `group_size` g consecutive
    columns (`group_size = 0`: one group, per output channel). With the
    optional `zero_points` ([N, G] i8) the quantization is asymmetric.

    W[n][k] = (float)(codes[n][k] - zero_points[n][j]) * scales[n][j],
    j = k / g (zero_points taken as 0 when absent). Codes and zero points
    lie in [-2^(b-1), 2^(b-1) - 1] (b in 2..8); scales are finite and >= 0
    (an all-zero channel or group has scale 0). The passes choose the codes
    as the runtime's `respin_rt_quantize_weights` does for given scales:
    codes = clamp(rne(w / s), -2^(b-1), 2^(b-1) - 1), code 0 where s = 0;
    asymmetric codes are the unsigned activation codes of respin_rt.h shifted
    by -2^(b-1), and so are their zero points. Codes and scales are archive
    tensors; the value flows into `tfm.linear` as its weight.

    ```mlir
    %w = tfm.dequantize %codes, %scales {bits = 4 : i64, group_size = 32 : i64}
        : (tensor<64x64xi8>, tensor<64x2xf32>) -> tensor<64x64xf32>
    %y = tfm.linear %x, %w : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[I8]>:$codes, 2DTensorOf<[F32]>:$scales,
                       Optional<2DTensorOf<[I8]>>:$zero_points,
                       I64Attr:$bits,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntNonNegative]>, "0">:$group_size);
  let results = (outs 2DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $codes `,` $scales (`zero_points` $zero_points^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

include "respin/Dialect/Tfm/IR/TfmLoweredOps.td"

#endif // RESPIN_DIALECT_TFM_IR_TFMOPS_TD
