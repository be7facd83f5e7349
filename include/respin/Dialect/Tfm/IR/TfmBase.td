//===- TfmBase.td - tfm dialect definition and enums -------*- tablegen -*-===//
//
// The tfm dialect describes LLaMA-family transformer graphs at the level the
// rotation and quantization passes reason about: linears, norms, RoPE,
// attention, residual adds. Weights are named parameters of an archive.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMBASE_TD
#define RESPIN_DIALECT_TFM_IR_TFMBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Tfm_Dialect : Dialect {
  let name = "tfm";
  let cppNamespace = "::mlir::tfm";
  let summary = "LLaMA-family transformer graphs for rotation and quantization";
  let description = [{
    The `tfm` dialect represents the decoder of a LLaMA-family language model
    (LLaMA 1-3, Mistral, Qwen2, SmolLM, TinyStories) as a function from token
    ids and their positions to logits:

    ```mlir
    module attributes {tfm.parameters = "model.safetensors"} {
      func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>)
          -> tensor<?x512xf32> { ... }
    }
    ```

    Activations are `tensor<?xNxf32>` (one row per token). Weights are
    produced by `tfm.param`, which names a tensor of the parameter archive
    given by the module attribute `tfm.parameters` (a safetensors file, path
    relative to the IR file). Small tests may use `arith.constant` instead.

    Attention ops own a key/value cache slot each, so the same function
    computes a whole sequence or extends a cached one token by token.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Registers the attributes (defined next to their storage classes).
    void registerAttributes();
    /// Registers the types of lowered graphs (TfmTypes.td).
    void registerTypes();

    /// Weights of the modules in this context: the archives their
    /// `tfm.parameters` name and the tensors passes created. Owned by the
    /// dialect so it lives exactly as long as the context.
    ::respin::ParameterSet &getParameterSet() { return *parameterSet; }
    std::unique_ptr<::respin::ParameterSet> parameterSet;

    /// Where passes stage the files they write (archives, reports) when a
    /// tool commits all outputs of a run together; null: each file is
    /// written atomically on its own. Owned by the tool.
    ::respin::OutputSet *outputSet = nullptr;

    /// Module attribute naming the parameter archive(s).
    static constexpr ::llvm::StringLiteral getParametersAttrName() {
      return ::llvm::StringLiteral("tfm.parameters");
    }
  }];
}

class Tfm_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tfm_Dialect, mnemonic, traits>;

class Tfm_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Tfm_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Tfm_RopeLayout : I32EnumAttr<"RopeLayout",
    "how RoPE pairs the rotary dimensions of a head", [
      I32EnumAttrCase<"interleaved", 0>,
      I32EnumAttrCase<"half_split", 1>
    ]> {
  let cppNamespace = "::mlir::tfm";
  let genSpecializedAttr = 0;
}

def Tfm_RopeLayoutAttr : EnumAttr<Tfm_Dialect, Tfm_RopeLayout, "rope_layout"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // RESPIN_DIALECT_TFM_IR_TFMBASE_TD
