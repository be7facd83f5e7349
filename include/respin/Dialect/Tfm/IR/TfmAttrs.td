//===- TfmAttrs.td - tfm dialect attributes ----------------*- tablegen -*-===//

#ifndef RESPIN_DIALECT_TFM_IR_TFMATTRS_TD
#define RESPIN_DIALECT_TFM_IR_TFMATTRS_TD

include "respin/Dialect/Tfm/IR/TfmBase.td"

// A double, written as a plain float literal and printed in its shortest
// exact form.
def Tfm_DoubleParameter : AttrOrTypeParameter<"::llvm::APFloat", "a real number"> {
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::APFloat> {
    double value;
    if ($_parser.parseFloat(value))
      return ::mlir::failure();
    return ::llvm::APFloat(value);
  }() }];
  let printer = [{ $_printer.printFloat($_self) }];
}

def Tfm_RopeScalingAttr : Tfm_Attr<"RopeScaling", "rope_scaling"> {
  let summary = "Llama-3 style RoPE frequency scaling";
  let description = [{
    Rescales the RoPE inverse frequencies as Llama-3.1 does: wavelengths
    longer than `original_max_positions / low_freq_factor` are divided by
    `factor`, wavelengths shorter than `original_max_positions /
    high_freq_factor` are kept, and the band in between is interpolated
    smoothly.

    ```mlir
    #tfm.rope_scaling<factor = 8.0, low_freq_factor = 1.0,
                      high_freq_factor = 4.0, original_max_positions = 8192>
    ```
  }];
  let parameters = (ins Tfm_DoubleParameter:$factor,
                        Tfm_DoubleParameter:$low_freq_factor,
                        Tfm_DoubleParameter:$high_freq_factor,
                        "int64_t":$original_max_positions);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // RESPIN_DIALECT_TFM_IR_TFMATTRS_TD
