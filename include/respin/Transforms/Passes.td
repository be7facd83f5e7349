//===- Passes.td - tfm transformation passes ---------------*- tablegen -*-===//
//
// Rotation passes. Every pass here preserves the float model: logits before
// and after agree up to rounding (tests check this on the real model).
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TRANSFORMS_PASSES_TD
#define RESPIN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def TfmFuseNormsPass : Pass<"tfm-fuse-norms", "::mlir::ModuleOp"> {
  let summary = "Fold RMSNorm gains into the linears that read the norm";
  let description = [{
    For every `tfm.rms_norm` with a gain g whose users are all linears,
    scales the columns of each linear's weight, W <- W diag(g), and drops
    the gain. A gain-free RMSNorm commutes with orthogonal rotations
    (RMSNorm(R x) = R RMSNorm(x)), which the rotation passes rely on.
    Tied embeddings are untied first: a linear that reads the embedding
    table gets its own `lm_head.weight`. Folding is done in float64.

    ```mlir
    // before
    %n = tfm.rms_norm %h gain %g {epsilon = 1.0e-05 : f64} : ...
    %q = tfm.linear %n, %wq : ...
    // after
    %n = tfm.rms_norm %h {epsilon = 1.0e-05 : f64} : ...
    %q = tfm.linear %n, %wq_scaled : ...
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TfmInsertRotationsPass : Pass<"tfm-insert-rotations", "::mlir::ModuleOp"> {
  let summary = "Rotate the residual stream, the attention heads and "
                "(online) the Q/K and down_proj inputs";
  let description = [{
    Inserts explicit, float-exact rotation ops (norms must be fused first):

    * residual stream: `mode=global` uses one basis R1 for the whole stream
      (QuaRot/SpinQuant); `mode=per-block` gives every stream segment its
      own basis (ReSpinQuant): R1^i entering layer i's attention, R2^i
      between its attention and its MLP, and R_final feeding the lm_head,
      2L+1 bases in all, all initialized from the same matrix so the
      skip-path transitions start at the identity. The stream is rotated
      after the embedding (`tfm.rotate`), each norm output is rotated back
      before the linears that read it (`tfm.rotate {transpose}`), each block
      output is rotated into the next basis, and per-block skip connections
      get `tfm.transition` ops.
    * head rotations (`head-rotation`, SpinQuant's R2): per layer a
      head_dim x head_dim rotation applied to every value head and undone on
      every head entering o_proj.
    * online Hadamards (`online-hadamard=qk|down|both|none`): on q and k
      after RoPE (per head; cancels in q.k) and on the down_proj input, whose
      inverse is an offline Hadamard folded into W_down later.

    Initialization (`init`): `hadamard` (normalized Hadamard), `random-hadamard`
    (Hadamard with seeded random signs), `random-orthogonal` (seeded Haar),
    or `archive` (matrices named like the inserted parameters, read from the
    safetensors file `rotations`; the hook for learned rotations).
    Rotations are float64 parameters named `rotation.r1` (global),
    `rotation.layers.<i>.r1|r2`, `rotation.final` (per-block) and
    `rotation.layers.<i>.head`.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"global\"",
           "Residual rotation: global | per-block">,
    Option<"init", "init", "std::string", /*default=*/"\"random-hadamard\"",
           "Initial rotations: hadamard | random-hadamard | "
           "random-orthogonal | archive">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the random initializations">,
    Option<"rotationsFile", "rotations", "std::string", /*default=*/"\"\"",
           "Safetensors file with the rotations for init=archive">,
    Option<"headRotation", "head-rotation", "bool", /*default=*/"true",
           "Rotate the value/o_proj heads">,
    Option<"onlineHadamard", "online-hadamard", "std::string",
           /*default=*/"\"both\"",
           "Online Hadamards: none | qk | down | both">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TfmApproximateResidualRotationsPass
    : Pass<"tfm-approximate-residual-rotations", "::mlir::ModuleOp"> {
  let summary = "Replace skip-path transitions by rank-r orthogonal adapters "
                "(matching basis)";
  let description = [{
    Walks the `tfm.transition` ops in program order. For each, with B_in the
    basis actually realized for the stream so far and B_out the learned
    target basis, T = B_out B_in^T is approximated by the exactly orthogonal
    T^ = I + Q M Q^T (Q: top-`rank` eigenvectors of 2I - T - T^T, M =
    polar(Q^T T Q) - I). The stream after the skip is then in the realized
    basis T^ B_in, and every later use of B_out (the block output rotation,
    the next block's input rotation, the next transition) is rewritten to
    use it: the float model stays exactly equivalent and errors do not
    accumulate; only how well the bases suppress outliers is approximate.
    `rank=0` turns every transition into the identity (all blocks use the
    first basis), `rank=D` reproduces the dense transitions.

    With `report=<file>` a JSON report lists, per transition, the rank, the
    Frobenius error ||T^ - T||_F against the learned target, ||T - I||_F,
    and ||B_realized - B_out||_F.
  }];
  let options = [
    Option<"rank", "rank", "int64_t", /*default=*/"32",
           "Rank r of each adapter (even, 0 <= r <= hidden size)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report of the approximation errors to this file">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TfmFoldRotationsPass : Pass<"tfm-fold-rotations", "::mlir::ModuleOp"> {
  let summary = "Fold offline rotations into embedding and linear weights";
  let description = [{
    Folds every offline rotation into the adjacent weights in float64:
    a rotation after the embedding rotates the table rows, a rotation before
    a linear multiplies its weight from the right (W <- W R^T for x <- R x),
    a rotation after a linear multiplies weight and bias from the left
    (W <- R W). Offline Hadamards fold the same way through the fast
    transform. Transitions between identical bases vanish. Online Hadamards,
    residual adapters and dense transitions remain as ops; an offline
    rotation that is not next to a foldable op is an error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TfmLearnRotationsPass : Pass<"tfm-learn-rotations", "::mlir::ModuleOp"> {
  let summary = "Learn the rotations on calibration data against the loss of "
                "the quantized network (Cayley SGD)";
  let description = [{
    Runs after `--tfm-insert-rotations` (and before approximation, folding
    and quantization) and replaces the values of its rotations by learned
    ones, under the same names, so `--tfm-write-parameters` writes them to
    the output archive and the rest of the pipeline is unchanged. The float
    model stays exact: the rotations stay orthogonal.

    The loss is the next-token cross-entropy of the network as it will be
    deployed: every embedding and linear weight is rebuilt at every step as
    W' = R_out W R_in^T (float64) from the frozen float weights, skip
    transitions of per-block bases are the dense T = R_out R_in^T, online
    Hadamards run where they are, and `a-bits`/`kv-bits` quantizers sit
    where `--tfm-quantize-activations` (with its defaults) puts them: the
    inputs of q, k, v, o, gate, up and down, per token, asymmetric, o_proj
    per head; keys after RoPE and the online Hadamard, values, per token per
    head. With `w-bits` < 16 the folded decoder weights are quantized too
    (per channel, symmetric, RTN with clip search). The default keeps the
    weights in float, as SpinQuant does when GPTQ follows. Quantizers use the
    straight-through estimator: scales and zero points are constants and the
    gradient passes inside each group's clip range.

    `mode=global` learns the global basis R1 (`rotation.r1`) and the head
    rotations (SpinQuant); `mode=per-block` learns the 2L+1 bases
    `rotation.layers.<i>.r1|r2` and `rotation.final` with the dense
    transitions in the network, and the head rotations (ReSpinQuant, before
    `--tfm-approximate-residual-rotations`). The mode must match the
    rotations the IR has.

    Each of `steps` steps takes the next `batch` of `samples` windows of
    `seq-len` tokens drawn (`seed`) from `calib-file` (reshuffled each
    epoch, seeded), computes the gradient of every rotation by
    back-propagation (windows in parallel on `threads` threads, summed in a
    fixed order: the result does not depend on the thread count) and makes a
    Cayley SGD step (`lr` under `lr-schedule`, capped at 1 / ||A||_1,
    `momentum`). Progress goes to stderr every step. `report=<file>` writes
    a JSON report with the loss of every step; `rotations-out=<file>` writes
    the learned rotations to a safetensors file that
    `--tfm-insert-rotations=init=archive rotations=<file>` reads. Files are
    written only when learning succeeded, atomically.

    ```
    respin-opt m.mlir --tfm-fuse-norms \
      "--tfm-insert-rotations=mode=per-block online-hadamard=both" \
      "--tfm-learn-rotations=mode=per-block calib-file=calib.txt a-bits=4 kv-bits=4" \
      "--tfm-approximate-residual-rotations=rank=8" --tfm-fold-rotations -o r.mlir
    ```
  }];
  let options = [
    Option<"mode", "mode", "::mlir::tfm::ResidualRotationMode",
           /*default=*/"::mlir::tfm::ResidualRotationMode::Global",
           "Residual bases to learn",
           [{::llvm::cl::values(
             clEnumValN(::mlir::tfm::ResidualRotationMode::Global, "global",
                        "one basis R1 for the whole stream (SpinQuant)"),
             clEnumValN(::mlir::tfm::ResidualRotationMode::PerBlock,
                        "per-block",
                        "one basis per stream segment (ReSpinQuant)"))}]>,
    Option<"steps", "steps", "int64_t", /*default=*/"100",
           "Optimizer steps">,
    Option<"lr", "lr", "double", /*default=*/"1.5",
           "Learning rate (Cayley SGD; the step is capped at 1/||A||_1)">,
    Option<"lrSchedule", "lr-schedule", "::respin::LearningRateSchedule",
           /*default=*/"::respin::LearningRateSchedule::Linear",
           "Learning-rate schedule",
           [{::llvm::cl::values(
             clEnumValN(::respin::LearningRateSchedule::Constant, "constant",
                        "lr at every step"),
             clEnumValN(::respin::LearningRateSchedule::Linear, "linear",
                        "linear decay to 0"),
             clEnumValN(::respin::LearningRateSchedule::Cosine, "cosine",
                        "cosine decay to 0"))}]>,
    Option<"momentum", "momentum", "double", /*default=*/"0.0",
           "Momentum of Cayley SGD, in [0, 1)">,
    Option<"batch", "batch", "int64_t", /*default=*/"4",
           "Calibration windows per step">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"512",
           "Tokens per calibration window">,
    Option<"calibFile", "calib-file", "std::string", /*default=*/"\"\"",
           "Calibration text (stories separated by <|endoftext|>)">,
    Option<"samples", "samples", "int64_t", /*default=*/"128",
           "Calibration windows drawn from the text">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the window offsets and of the data order">,
    Option<"wBits", "w-bits", "int", /*default=*/"16",
           "Weight bits while learning: 2..8, or 16 (float)">,
    Option<"aBits", "a-bits", "int", /*default=*/"4",
           "Activation bits while learning: 2..8, or 16 (float)">,
    Option<"kvBits", "kv-bits", "int", /*default=*/"4",
           "KV-cache bits while learning: 2..8, or 16 (float)">,
    Option<"threads", "threads", "int", /*default=*/"0",
           "Threads (0: one per hardware thread)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report (loss per step) to this file">,
    Option<"rotationsOut", "rotations-out", "std::string",
           /*default=*/"\"\"",
           "Also write the learned rotations to this safetensors file">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TfmWriteParametersPass : Pass<"tfm-write-parameters", "::mlir::ModuleOp"> {
  let summary = "Write the tensors created by passes to a parameter archive";
  let description = [{
    Writes the in-memory tensors that the module refers to (weights and
    rotations created by earlier passes) to the safetensors archive `path`
    and appends it to the module's `tfm.parameters` list, where it overrides
    the earlier archives. With `relative-to=<dir>` (the directory the IR
    will be written to) archive paths are rewritten to stay valid from
    there. `respin-opt` runs this pass automatically at the end of every
    pipeline, writing next to its `-o` output.

    `path` must not be one of the module's archives: the new archive holds
    only the new tensors, and the module still reads the others from there.
    With `in-place` it may be the top (last) archive: the new archive then
    also holds every tensor of the one it replaces and takes its place in
    the list (rewriting a model in place).
  }];
  let options = [
    Option<"path", "path", "std::string", /*default=*/"\"\"",
           "Archive to write; required when passes created tensors">,
    Option<"relativeTo", "relative-to", "std::string", /*default=*/"\"\"",
           "Directory the module will live in">,
    Option<"inPlace", "in-place", "bool", /*default=*/"false",
           "Allow `path` to replace the module's top archive">,
  ];
}

//===----------------------------------------------------------------------===//
// Quantization. These change what the model computes, on purpose;
// the quantizer arithmetic is the runtime's (respin_rt.h).
//===----------------------------------------------------------------------===//

def TfmQuantizeWeightsPass : Pass<"tfm-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "Quantize linear weights to integer codes with per-channel or "
                "group scales (RTN with MSE clip search, or GPTQ)";
  let description = [{
    Replaces the weight of every selected linear (`linears`, by role; the
    default is the decoder linears q,k,v,o,gate,up,down, leaving the
    embedding and lm_head in float) by `tfm.dequantize` of `bits`-bit codes
    and scales per output channel (`group-size=0`) or per group of
    `group-size` input columns; `symmetric=false` adds zero points. Codes and
    scales are new archive tensors `<weight>.codes` / `.scales` / `.zeros`.

    Scales: symmetric s = c * absmax / (2^(b-1) - 1); asymmetric uses the
    runtime's asymmetric rule. With `clip-search` the clip ratio c of each
    channel/group is the one of 1, 1 - 1/grid, ... (`clip-grid`,
    `clip-max-shrink`) minimizing sum |q - w|^`clip-norm`; otherwise c = 1.

    `method=rtn` rounds to nearest. `method=gptq` runs the model on
    `calib-samples` windows of `calib-seq-len` tokens drawn (`seed`) from
    the tokenized `calib-file`, and quantizes the linears in program order
    (q/k/v, o, gate/up, down, layer by layer); each group of linears sharing
    an input gets the Hessian of the inputs it sees with every earlier linear
    already quantized. The windows pass through the network once: they are
    held at the next group's first linear (the residual stream and whatever
    else is live there), that group is quantized, and the windows advance
    through the quantized linears; everything in the graph (online
    Hadamards, transitions, residual adapters, fake quantizers) runs as it
    will at inference. `threads` (0: all cores) does not change the result.
    With `progress` (the default) one line per group and per layer goes to
    stderr with the elapsed time and an ETA. Damping `damp` x mean diagonal, `block-size` columns
    per lazy update, optional `act-order`. Dead input columns are rounded
    without error feedback; a Hessian that stays indefinite after retrying
    with 10x the damping falls back to RTN with a warning. `report=<file>`
    writes a JSON report (per linear: dead columns, damping used, fallback,
    output-error proxy of GPTQ and of RTN).

    `bits=16` means "not quantized": the pass leaves the module unchanged.
  }];
  let options = [
    Option<"method", "method", "std::string", /*default=*/"\"rtn\"",
           "Weight quantizer: rtn | gptq">,
    Option<"bits", "bits", "int", /*default=*/"4",
           "Weight bits: 2..8, or 16 (off)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Input columns per scale (0: one scale per output channel)">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"true",
           "Symmetric codes (no zero points)">,
    Option<"clipSearch", "clip-search", "bool", /*default=*/"true",
           "Choose each channel/group's clip ratio by MSE search">,
    Option<"clipNorm", "clip-norm", "double", /*default=*/"2.4",
           "Exponent p of the clip search error sum |q - w|^p">,
    Option<"clipGrid", "clip-grid", "int", /*default=*/"100",
           "Clip ratios are 1 - i/grid">,
    Option<"clipMaxShrink", "clip-max-shrink", "double", /*default=*/"0.8",
           "Search i/grid below this">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "GPTQ damping, as a fraction of the mean Hessian diagonal">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "GPTQ columns per lazy-update block">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "GPTQ: quantize columns by decreasing Hessian diagonal">,
    Option<"calibFile", "calib-file", "std::string", /*default=*/"\"\"",
           "Calibration text (stories separated by <|endoftext|>)">,
    Option<"calibSamples", "calib-samples", "int64_t", /*default=*/"128",
           "Calibration windows">,
    Option<"calibSeqLen", "calib-seq-len", "int64_t", /*default=*/"512",
           "Tokens per calibration window">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the calibration window offsets">,
    Option<"threads", "threads", "unsigned", /*default=*/"0",
           "GPTQ calibration threads (0: every hardware thread)">,
    Option<"progress", "progress", "bool", /*default=*/"true",
           "GPTQ: print progress and an ETA per stage and layer on stderr">,
    Option<"linears", "linears", "std::string",
           /*default=*/"\"q,k,v,o,gate,up,down\"",
           "Linears to quantize: q,k,v,o,gate,up,down,lm_head,all-decoder">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report to this file">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TfmQuantizeActivationsPass
    : Pass<"tfm-quantize-activations", "::mlir::ModuleOp"> {
  let summary = "Insert per-token activation quantizers before linears and "
                "KV-cache quantizers before attention";
  let description = [{
    Puts a `tfm.fake_quant` on the input of every selected linear
    (`linears`, by role; default q,k,v,o,gate,up,down — one quantizer per
    distinct input, so q/k/v share one): `bits` bits, asymmetric unless
    `symmetric`, clip ratio `clip`, per token or per `group-size` features;
    the o_proj input is quantized per head (group = head_dim) when
    `o-proj-per-head`. With `kv-bits` < 16 the key and value operands of
    every attention get an asymmetric per-token-per-head quantizer (clip
    `kv-clip`): the KV cache of the runtime. Keys are quantized after RoPE
    and the online Hadamard, when the model has one. `bits=16` and
    `kv-bits=16` mean "not quantized".
  }];
  let options = [
    Option<"bits", "bits", "int", /*default=*/"8",
           "Activation bits: 2..8, or 16 (off)">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"false",
           "Symmetric activation quantization (default asymmetric)">,
    Option<"clip", "clip", "double", /*default=*/"1.0",
           "Activation clip ratio in (0, 1]">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Features per activation scale (0: per token)">,
    Option<"oProjPerHead", "o-proj-per-head", "bool", /*default=*/"true",
           "Quantize the o_proj input per head">,
    Option<"kvBits", "kv-bits", "int", /*default=*/"16",
           "KV-cache bits: 2..8, or 16 (off)">,
    Option<"kvClip", "kv-clip", "double", /*default=*/"1.0",
           "KV-cache clip ratio in (0, 1]">,
    Option<"threads", "threads", "unsigned", /*default=*/"0",
           "GPTQ calibration threads (0: every hardware thread)">,
    Option<"progress", "progress", "bool", /*default=*/"true",
           "GPTQ: print progress and an ETA per stage and layer on stderr">,
    Option<"linears", "linears", "std::string",
           /*default=*/"\"q,k,v,o,gate,up,down\"",
           "Linears whose inputs are quantized">,
  ];
}

def TfmLowerToQuantizedOpsPass
    : Pass<"tfm-lower-to-quantized-ops", "::mlir::ModuleOp"> {
  let summary = "Turn fake-quantized linears and attention into the integer "
                "ops the runtime executes";
  let description = [{
    Rewrites the quantized graph into what the machine will do:
    `tfm.fake_quant` feeding linears on `tfm.dequantize`d weights becomes one
    `tfm.quantize_rows` (fused with a preceding online `tfm.hadamard`) and a
    `tfm.quantized_linear` per linear on `tfm.packed_param` weights, packed
    here with the runtime's packing routine into new archive tensors
    `<weight>.packed` (3/4-bit: nibble layout; 5- to 8-bit: the int8 path).
    A linear whose only user is a residual `tfm.add` accumulates into the
    residual stream instead. Every `tfm.attention` becomes `tfm.kv_append` +
    `tfm.cached_attention` on a `!tfm.kv_cache` argument added to the
    function (attribute `tfm.kv_cache_slot`); a KV quantizer (asymmetric, per
    token and head, 4 or 8 bits) becomes the cache's storage, no quantizer
    an f32 cache.

    What the runtime cannot execute is an error on the op, with the reason:
    weight zero points, 2-bit weights, weight-only quantization (no integer
    path for float activations), quantized activations with float weights,
    biases on quantized linears, per-group activations on grouped weights of
    another group, 3-bit or symmetric or non-per-head KV quantizers.
    Per-channel weights read by per-group activations (o_proj per head) are
    packed with the activation group and the channel scale repeated: the
    same integers and products.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

#endif // RESPIN_TRANSFORMS_PASSES_TD
