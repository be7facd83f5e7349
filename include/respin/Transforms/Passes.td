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
  }];
  let options = [
    Option<"path", "path", "std::string", /*default=*/"\"\"",
           "Archive to write; required when passes created tensors">,
    Option<"relativeTo", "relative-to", "std::string", /*default=*/"\"\"",
           "Directory the module will live in">,
  ];
}

#endif // RESPIN_TRANSFORMS_PASSES_TD
