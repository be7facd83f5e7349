//===- ParameterArchive.h - respin parameter archives ----------*- C++ -*-===//
//
// A parameter archive is a safetensors file holding a model's weights under
// canonical names, plus metadata: "respin.format" = "1",
// "respin.config" = ModelConfig as JSON, and "respin.tokenizer" =
// TokenizerData as JSON when the model has a tokenizer. tfm IR refers to
// the weights by name (tfm.param "model.layers.0.mlp.up_proj.weight").
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_FORMATS_PARAMETERARCHIVE_H
#define RESPIN_FORMATS_PARAMETERARCHIVE_H

#include "respin/Formats/Checkpoint.h"
#include "respin/Formats/OutputSet.h"

namespace respin {

std::string modelConfigToJson(const ModelConfig &config);
llvm::Expected<ModelConfig> modelConfigFromJson(llvm::StringRef json,
                                                llvm::StringRef source);

/// Writes every tensor of `checkpoint` (dtype preserved) and its metadata to
/// `path`: atomically, or staged in `outputs` when given.
llvm::Error writeParameterArchive(const Checkpoint &checkpoint,
                                  llvm::StringRef path,
                                  OutputSet *outputs = nullptr);

/// Maps an archive written by writeParameterArchive. The config and tokenizer
/// come from the metadata (tokenizer optional); tensors are not validated
/// against the config (passes may have rewritten them; the IR is the truth).
llvm::Expected<Checkpoint> loadParameterArchive(llvm::StringRef path);

} // namespace respin

#endif // RESPIN_FORMATS_PARAMETERARCHIVE_H
