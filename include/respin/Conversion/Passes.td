//===- Passes.td - tfm conversions -------------------------*- tablegen -*-===//

#ifndef RESPIN_CONVERSION_PASSES_TD
#define RESPIN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertTfmToRuntimePass
    : Pass<"convert-tfm-to-runtime", "::mlir::ModuleOp"> {
  let summary = "Lower a lowered tfm graph to func/arith/cf/llvm ops calling "
                "respin_rt";
  let description = [{
    Replaces the `@forward` function of a graph lowered by
    `--tfm-lower-to-quantized-ops` with

    ```c
    int32_t <prefix>_forward(void *const *weights,
                             const respin_rt_kv_cache *const *caches,
                             void *workspace, const int32_t *tokens,
                             int64_t n, int64_t pos0, float *logits);
    ```

    which runs `n` tokens at positions pos0 .. pos0+n-1 (1 <= n <=
    `max-tokens`) and writes n rows of logits; plus the constant C string
    `<prefix>_manifest` naming every weight (name, dtype, bytes, shape, in
    the order of `weights`), every KV cache (slot, bits, heads, head size, in
    the order of `caches`), the workspace size and the runtime ABI version.
    Each op is one call into respin_rt (the ukernel pattern: the kernels are
    hand-vectorized and threaded, the generated code only sequences them and
    checks every status); activations live in one workspace planned here
    with buffer reuse by liveness, and ops that update a value in place (RoPE,
    Hadamard, adapters, accumulating linears) take over a dying input's
    buffer instead of copying it. Weights stay outside the code: with
    `weights-file` the pass writes them, as the generated code expects them
    (f32, packed blobs, folded transitions and adapter bases), to a
    safetensors archive that respin_model_create memory-maps.
  }];
  let options = [
    Option<"prefix", "prefix", "std::string", /*default=*/"\"model\"",
           "C identifier prefixed to the generated symbols">,
    Option<"weightsFile", "weights-file", "std::string", /*default=*/"\"\"",
           "Write the compiled model's weights archive here">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"512",
           "Most tokens one forward call runs (sizes the workspace)">,
  ];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::func::FuncDialect",
    "::mlir::arith::ArithDialect", "::mlir::cf::ControlFlowDialect"
  ];
}

#endif // RESPIN_CONVERSION_PASSES_TD
