//===- TfmTypes.td - tfm dialect types ---------------------*- tablegen -*-===//
//
// Types of the lowered (machine-level) tfm graph: weights packed for the
// runtime's integer kernels, activations quantized to integer codes, and the
// key/value cache state of one attention layer.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMTYPES_TD
#define RESPIN_DIALECT_TFM_IR_TFMTYPES_TD

include "respin/Dialect/Tfm/IR/TfmBase.td"
include "mlir/IR/AttrTypeBase.td"

class Tfm_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Tfm_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Tfm_PackedWeightsType : Tfm_Type<"PackedWeights", "packed_weights"> {
  let summary = "a weight matrix packed for the runtime's integer linear";
  let description = [{
    `rows` x `columns` symmetric integer weight codes of `bits` bits with one
    f32 scale per row (`group` = 0) or per `group` consecutive columns.
    3- and 4-bit weights use the runtime's tiled nibble layout
    (respin_rt_pack_weights); 5- to 8-bit weights use the int8 layout: the
    codes row-major, then at the next multiple of 64 bytes the scales
    [rows][groups] in f32 (respin_rt_qlinear_s8).

    ```mlir
    !tfm.packed_weights<bits = 4, rows = 256, columns = 64, group = 0>
    ```
  }];
  let parameters = (ins "int64_t":$bits, "int64_t":$rows, "int64_t":$columns,
                        "int64_t":$group);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether the weights use the nibble layout (3/4 bits) rather than int8.
    bool isNibblePacked() const { return getBits() <= 4; }
    int64_t getNumGroups() const {
      return getGroup() == 0 ? 1 : getColumns() / getGroup();
    }
  }];
}

def Tfm_QuantizedRowsType : Tfm_Type<"QuantizedRows", "quantized_rows"> {
  let summary = "activations quantized to integer codes, one row per token";
  let description = [{
    Per token: `columns` uint8 codes of `bits` bits, and one f32 scale and
    i32 zero point per row (`group` = 0) or per `group` columns, with the
    runtime's activation quantization rule (respin_rt_quantize_rows).
  }];
  let parameters = (ins "int64_t":$bits, "int64_t":$columns, "int64_t":$group);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumGroups() const {
      return getGroup() == 0 ? 1 : getColumns() / getGroup();
    }
  }];
}

def Tfm_KVCacheType : Tfm_Type<"KVCache", "kv_cache"> {
  let summary = "the key/value cache of one attention layer";
  let description = [{
    Keys and values of every cached position for `kv_heads` heads of
    `head_dim` elements: quantized asymmetrically per token and head to
    `bits` = 4 or 8, or stored as f32 (`bits` = 32). The number of positions
    is chosen when a context is created (respin_model_create).
  }];
  let parameters = (ins "int64_t":$bits, "int64_t":$kv_heads,
                        "int64_t":$head_dim);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // RESPIN_DIALECT_TFM_IR_TFMTYPES_TD
